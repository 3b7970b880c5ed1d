"""autoasr.training."""
