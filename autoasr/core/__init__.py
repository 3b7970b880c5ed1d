"""Layer 1, what every other layer uses: paths, atomic storage, fit callbacks, text normalisation and the
character vocabulary, error-rate metrics, and the machine's resources."""
