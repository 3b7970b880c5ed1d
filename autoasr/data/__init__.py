"""autoasr.data."""
