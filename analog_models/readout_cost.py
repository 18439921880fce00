"""What each readout scheme costs per token (issue 18): comparator decisions, θ DAC writes, scoring cycles, energy.

Schemes, for b-bit codes of the same held score (``atis.golden.readout``; θ(t) = θ_lo + t·LSB, code 2^(b-1) = θ):

* ``comparator``: one decision against the global θ, no θ write (the keep bit; a 1-bit code).
* ``sar``: b decisions, b θ writes (MSB first).
* ``ramp``: a single-slope staircase θ(1), θ(2), ... up to the first level above the score: min(code + 1, 2^b - 1)
  decisions and writes (a continuous RC ramp would need one decision but 2^b clock-counted steps of settling).
* ``coarse``: the two top bits by SAR (2 decisions: below/above θ and a quarter either side), the other b - 2 bits
  only for tokens in the two quarters next to θ: 2 + (b - 2)·P(near θ) decisions. Tokens far from θ keep a 2-bit
  code, so a budget cannot order them.

Cycles (AD5628, the board's part: θ on its last channel, the writes share the SPI bus): a token takes (m + writes)
frames when the bus is the bottleneck (the settle and decision waits overlap the next token's input frames).
Energy: the θ conversions at the energy model's ``dac_pJ_per_conv_bit`` × b bits each, on top of the scorer's
``atis energy`` figure. The comparator is a continuous-time circuit whose bias is on in every scheme (the SPICE
design: 1.29 µA at 1 V, sized for 20 ns at 10 mV overdrive), so a decision adds no energy of its own; what SAR
adds is time, (m + b)/m of the token period when the bus limits the rate.
"""
from __future__ import annotations

import numpy as np

from atis.config import AtisConfig
from atis.golden.sequencer import resolve_sequencer

from .energy import energy_report

__all__ = ["SCHEMES", "decisions_per_token", "readout_cost"]

SCHEMES = ("comparator", "sar", "ramp", "coarse")


def decisions_per_token(scheme: str, bits: int, codes: np.ndarray | None = None) -> float:
    """Mean comparator decisions (= θ writes, but for the comparator's 0) per token; ``codes`` (b-bit, of the
    scores read) for the data-dependent schemes."""
    if scheme == "comparator":
        return 1.0
    if scheme == "sar":
        return float(bits)
    if codes is None:
        raise ValueError(f"readout scheme {scheme!r}: its cost depends on the codes; pass them")
    codes = np.asarray(codes)
    if scheme == "ramp":
        return float(np.minimum(codes + 1, (1 << bits) - 1).mean())
    if scheme == "coarse":
        top = codes >> (bits - 2)
        return float(2 + (bits - 2) * np.isin(top, (1, 2)).mean())
    raise ValueError(f"readout scheme {scheme!r}: expected one of {', '.join(SCHEMES)}")


def readout_cost(cfg: AtisConfig, scheme: str, bits: int, codes: np.ndarray | None = None) -> dict:
    """Per token: decisions, θ writes, scoring cycles (AD5628 frames of ``cfg``'s clock, m inputs) and pJ
    (the scorer's DACs and analog core from :func:`energy_report`, plus the θ conversions)."""
    decisions = decisions_per_token(scheme, bits, codes)
    writes = 0.0 if scheme == "comparator" else decisions
    base = resolve_sequencer(cfg)
    frame = base.spi_frame.frame_cycles
    report = energy_report(cfg)
    full = f"ATIS, {cfg.projection.m} DACs x {cfg.projection.dac_bits} b"
    scorer_pJ = sum(report.per_token[full].values())
    theta_pJ = writes * bits * cfg.energy.dac_pJ_per_conv_bit
    return {"scheme": scheme, "bits": bits if scheme != "comparator" else 1, "decisions": decisions,
            "theta_writes": writes, "cycles_ad5628": (cfg.projection.m + writes) * frame,
            "theta_pJ": theta_pJ, "pJ": scorer_pJ + theta_pJ}
