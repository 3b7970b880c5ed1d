"""Layer 5, training one trial: features as tensors (and their cache), the loop, its learning-rate schedule
and stop rule, and the trial record that follows it on disk."""
