"""Persistence: the registry tables, engine set-up and queries."""
