"""The public MOSFET model card, its Pelgrom coefficients and the OTA's device sizes (the design being checked).

Card: PTM 180 nm bulk CMOS, BSIM3v3 (``cards/ptm180.lib``; source and changes in its header).
Pelgrom coefficients: the card carries no mismatch data, so σ(ΔV_T) = A_VT/√(WL) and σ(Δβ/β) = A_β/√(WL) use the
published trend A_VT ≈ 1 mV·µm per nm of gate oxide (M. Pelgrom, H. Tuinhout, M. Vertregt, "Transistor matching
in analog CMOS applications", IEDM 1998, pp. 915-918; P. Kinget, "Device mismatch and tradeoffs in the design of
analog circuits", IEEE JSSC 40(6), 2005, §II) at the card's t_ox (4.0 nm NMOS, 4.2 nm PMOS), and A_β = 1 %·µm,
the order those papers report for 0.18-0.25 µm processes. These are literature values for the node, not
measurements of this card.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["CARD", "Device", "PELGROM", "OTA_DEVICES", "COMPARATOR_DEVICES", "card_text"]

#: The model card file (package data of atis.analog_models.spice).
CARD = Path(str(resources.files("atis.analog_models.spice") / "cards" / "ptm180.lib"))

#: (A_VT in V·m, A_β as a fraction·m) per model name, from the trend above.
PELGROM = {"nch": (4.0e-3 * 1e-6, 0.01 * 1e-6), "pch": (4.2e-3 * 1e-6, 0.01 * 1e-6)}


@dataclass(frozen=True)
class Device:
    """One transistor of a subcircuit: model name and drawn W, L in metres."""
    model: str
    w: float
    l: float  # noqa: E741  (the MOSFET's L)

    @property
    def area_um2(self) -> float:
        return self.w * self.l * 1e12

    def sigma_vt(self) -> float:
        """σ of this device's threshold (V), Pelgrom."""
        return PELGROM[self.model][0] / (self.w * self.l) ** 0.5

    def sigma_beta(self) -> float:
        """σ of this device's relative current factor, Pelgrom."""
        return PELGROM[self.model][1] / (self.w * self.l) ** 0.5

    def spice(self) -> str:
        return f"{self.model} w={self.w:.4g} l={self.l:.4g}"


# The OTA (5-transistor subthreshold OTA, floating-gate tail). Sizes chosen against the config's design point:
# the pair (32 µm²) gives σ(offset) = √2·4.0/√32 ≈ 1.0 mV = fpaa.ota.offset_mV; the PMOS mirror (16 µm², near
# moderate inversion at 50 nA) keeps its gate-node pole at ~1.6 MHz, above the 1 MHz token rate (a 4/16 µm mirror
# matches better but puts that pole at 0.4 MHz: Kinget's bandwidth-accuracy trade-off); long L everywhere keeps
# the output conductance, and so the offset from the mirror's V_DS asymmetry, small.
OTA_DEVICES = {"pair": Device("nch", 8e-6, 4e-6), "mirror": Device("pch", 4e-6, 4e-6),
               "tail": Device("nch", 4e-6, 4e-6)}

# The comparator: an NMOS-input 5-transistor amplifier (pair, mirror, tail at a mirrored bias current), then two
# CMOS inverters to rail-to-rail. Short channels: it is biased in strong inversion for speed.
COMPARATOR_DEVICES = {"pair": Device("nch", 4e-6, 0.5e-6), "mirror": Device("pch", 2e-6, 0.5e-6),
                      "tail": Device("nch", 2e-6, 1e-6), "inv_n": Device("nch", 0.5e-6, 0.18e-6),
                      "inv_p": Device("pch", 1e-6, 0.18e-6)}


def card_text(noimod: int | None = None) -> str:
    """The card, optionally with BSIM3's noise-model selector set (``.noise`` uses ``noimod=4``: charge-based
    channel noise, which tends to 2qI in weak inversion; the default noimod=1 is the strong-inversion 8kT·g_m/3)."""
    text = CARD.read_text()
    if noimod is not None:
        text = text.replace("version=3.3.0", f"version=3.3.0 noimod={noimod}")
    return text
