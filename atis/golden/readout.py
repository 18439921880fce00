"""The multi-bit score readout (issue 18): successive approximation of a token's held score against a DAC-driven θ.

Schedule of one token (:class:`ReadoutSpec`), after the sequencer's ``evaluate`` has sampled and held the score S:
for step i = 0..b-1 (MSB first) the trial code ``t_i = code | 2^(b-1-i)`` is written to the θ DAC, left-aligned
into the part (``t_i << (part_bits - b)``; AD5628: command 0011, "write to and update DAC channel n", on channel
``theta_channel``, so the input channels' outputs hold; parallel: a θ DAC on its own pins). ``settle_cycles`` after
that output update the comparator is strobed (``decide``); the synchronized pin, sampled ``wait_cycles + 2`` cycles
later, is the decision d_i, and ``code |= d_i << (b-1-i)``. So code = Σ d_i·2^(b-1-i) (:func:`sar_code`), and the
θ words of a token follow from its code alone (:func:`sar_trials`).

The analog range maps θ DAC codes to score volts θ(t) = θ_lo + t·LSB (``analog_models.readout``, centred on the
trimmed θ so that t = 2^(b-1) is θ itself: the MSB decision is the comparator's threshold decision). An ideal
comparator (S > θ(t) fires) gives :func:`ideal_codes`.

Why SAR with a reserved AD5628 channel (the parts already on the board): b decisions and b θ writes per token; the
writes share the SPI bus, so a token costs (m + b) frames instead of m (m = 64, b = 4: +6 %), and the settle and
decision waits overlap the next token's input frames while the port is the bottleneck (else a token costs up to
the conversion and its frames in series: ``SequencerSpec.token_cycles_max``). A single-slope ramp needs up to
2^b - 1 decisions and writes (15 at b = 4); a coarse readout refined near θ saves decisions only for tokens far
from θ, whose order the budget then cannot see. ``benchmarks/keep_budget.py`` measures all three.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..config import AtisConfig

__all__ = ["ReadoutSpec", "resolve_readout", "sar_code", "sar_trials", "ideal_codes", "AD5628_THETA_COMMAND"]

#: AD5628 "write to and update DAC channel n": only the θ channel's output moves (data sheet, command definitions).
AD5628_THETA_COMMAND = 0b0011


@dataclass(frozen=True)
class ReadoutSpec:
    mode: str                     # "comparator" | "sar"
    bits: int                     # code bits: b for sar, 1 for the comparator (its keep bit)
    part: str                     # the θ DAC: "ad5628" (a channel of the input DAC) | "parallel" (its own pins)
    theta_channel: int | None     # AD5628 channel of θ (the last one); None: no θ DAC, or its own pins
    part_bits: int                # θ codes are left-aligned into this many bits
    settle_cycles: int            # θ output update -> decide strobe
    wait_cycles: int              # decide -> comparator sampled, before the synchronizer's 2 cycles
    clock_ns: float

    @property
    def sar(self) -> bool:
        return self.mode == "sar"

    @property
    def decisions_per_token(self) -> int:
        return self.bits if self.sar else 1

    @property
    def theta_writes_per_token(self) -> int:
        return self.bits if self.sar else 0

    def theta_code(self, trial: int) -> int:
        """The θ DAC's part code of a trial code (left-aligned, as the input codes are)."""
        return int(trial) << (self.part_bits - self.bits)

    def step_cycles(self, write_cycles: int) -> int:
        """Cycles of one SAR step when the port is free: the θ write, settle, decide and the sampled result."""
        return write_cycles + self.settle_cycles + self.wait_cycles + 3


def resolve_readout(cfg: AtisConfig) -> ReadoutSpec:
    r, dac = cfg.fpaa.readout, cfg.dac
    clock_ns = 1e3 / cfg.fpga.clock_MHz
    sar = r.mode == "sar"
    ad5628 = dac.part == "ad5628"
    return ReadoutSpec(
        mode=r.mode, bits=r.bits if sar else 1, part=dac.part,
        theta_channel=dac.n_channels - 1 if sar and ad5628 else None,
        part_bits=(dac.part_bits or 12) if ad5628 else r.bits,
        settle_cycles=max(2, math.ceil(r.settle_ns / clock_ns - 1e-9)),     # SarReadout counts down from 2
        wait_cycles=max(1, math.ceil(cfg.fpga.compare_wait_ns / clock_ns - 1e-9)), clock_ns=clock_ns)


def sar_code(decide: Callable[[int], bool], bits: int) -> int:
    """The code of ``bits`` decisions, MSB first; ``decide(trial)`` says whether the score is above θ(trial)."""
    code = 0
    for i in reversed(range(bits)):
        trial = code | (1 << i)
        if decide(trial):
            code = trial
    return code


def sar_trials(code: int, bits: int) -> list[int]:
    """The θ trial codes, in order, of the conversion that ended in ``code``: step i tries the bits of ``code``
    above it plus its own."""
    return [((code >> (i + 1)) << (i + 1)) | (1 << i) for i in reversed(range(bits))]


def ideal_codes(scores: np.ndarray, theta_lo: float, lsb: float, bits: int) -> np.ndarray:
    """Codes of an ideal converter (S > θ_lo + t·LSB fires, t = 1..2^b-1): how many levels lie below S."""
    t = np.ceil((np.asarray(scores, dtype=np.float64) - theta_lo) / lsb) - 1
    return np.clip(t, 0, (1 << bits) - 1).astype(np.int64)
