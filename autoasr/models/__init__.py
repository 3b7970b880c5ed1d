"""Layer 3, acoustic models: frontends (log-mel, MFCC, waveform frames), the ``ModelFamily`` registry,
the networks (CRNN, Conformer, ConvNet), pretrained encoders, and batching for inference."""
