"""atis: Analog Token Importance Scoring — FPGA + FPAA co-design flow."""
__all__ = ["__version__"]
__version__ = "0.1.0"
