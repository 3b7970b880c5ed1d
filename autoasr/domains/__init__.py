"""Layer 3, what kind of speech this is: domain presets, augmentation, splicing words into strings, and
what a domain adds to the training set."""
