"""Bundled configurations (``*.yaml``) and trained weights (``weights/``), read through ``importlib.resources``."""
