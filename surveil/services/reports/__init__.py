"""Reports over the registry: counts, never patients."""
