"""Behavioral models of the analog side of ATIS: DAC, FPAA (OTA array, TIA, comparators) and energy."""
from .fpaa import FpaaModel, FpaaPins, ScoreResult

__all__ = ["FpaaModel", "FpaaPins", "ScoreResult"]
