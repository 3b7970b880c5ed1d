"""autoasr.results."""
