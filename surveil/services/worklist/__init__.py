"""worklist."""
