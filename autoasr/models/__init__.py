"""autoasr.models."""
