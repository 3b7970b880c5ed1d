"""autoasr.decoding."""
