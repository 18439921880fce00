"""SPICE-level check of the behavioral FPAA model: ngspice (batch) on netlists generated from the config.

``runner`` drives ``ngspice -b``; ``card`` holds the public model card (PTM 180 nm, BSIM3v3), its Pelgrom
coefficients and the device sizes; ``netlists`` and ``bench`` build the OTA, the m-input array into the TIA and
their test benches; ``program`` programs the floating-gate tails; ``ota_checks``, ``comparator_check`` and
``keep_bits`` compare each law of ``analog_models`` with the circuit; ``report`` gathers them for ``atis spice``.
"""
from .runner import INSTALL_LINE, NgspiceMissing, SpiceError, find_ngspice

__all__ = ["INSTALL_LINE", "NgspiceMissing", "SpiceError", "find_ngspice"]
