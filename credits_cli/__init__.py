"""credits: keep a prepaid Communications Credits balance funded."""

__version__ = "0.1.0"
