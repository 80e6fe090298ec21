"""surveil: follow-up scheduler for neuroendocrine tumour patients."""

__version__ = "0.1.0"
