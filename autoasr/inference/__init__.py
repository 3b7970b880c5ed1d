"""autoasr.inference."""
