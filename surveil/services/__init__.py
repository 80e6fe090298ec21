"""Use-cases: the only layer that opens and commits transactions."""
