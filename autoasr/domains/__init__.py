"""autoasr.domains."""
