"""autoasr.search."""
