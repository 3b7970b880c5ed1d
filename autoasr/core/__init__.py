"""autoasr.core."""
