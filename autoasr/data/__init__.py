"""Layer 2, speech data: dataset types at the bottom; manifests, corpus layouts, archives, downloads, audio
reading, inspection and the demo corpus above them; ``load_dataset`` and the tuning split on top."""
