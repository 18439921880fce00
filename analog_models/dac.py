"""DAC model (seed §4.2): static transfer with seeded errors, first-order settling, saturation at the rails.

Static transfer of input channel ``j`` for an offset-binary code ``c`` of ``bits`` bits, left-aligned into a part of
``part_bits`` (``c_p = c << (part_bits - bits)``), driven by physical channel ``p = j mod n_channels``::

    V = clip(v_zero + (v_full - v_zero) · (c_p + INL_p[c_p]) / 2**part_bits · (1 + gain_p) + offset_p, rails)

``INL_p`` (part LSB) is a seeded smooth curve through both endpoints (three half-sine harmonics, scaled to a
peak of ``inl_lsb``) plus independent per-code deviations whose code-to-code differences (the DNL) have σ
``dnl_sigma_lsb``. (A running sum of random DNL would grow as √(2^bits): 9 LSB at 12 bits, unlike real parts.)
Dynamics: after a write of target ``T`` at ``t_w`` the output is ``T + (v(t_w) - T)·exp(-(t - t_w)/tau)``.
"""
from __future__ import annotations

import numpy as np

from atis.config import DacConfig

from .rc import rc_track

__all__ = ["DacModel"]


class DacModel:
    """Static transfer table ``table[j, code]`` (V) of every OTA input ``j``, and the settling law."""

    def __init__(self, cfg: DacConfig, bits: int, m: int, rng: np.random.Generator,
                 input_channels: int | None = None):
        self.cfg, self.bits, self.m = cfg, bits, m
        self.part_bits = cfg.part_bits or (12 if cfg.part == "ad5628" else bits)
        n_phys = cfg.n_channels
        levels = 1 << self.part_bits
        ramp = np.arange(levels) / (levels - 1)
        harmonics = np.sin(np.pi * np.arange(1, 4)[:, None] * ramp[None, :])          # [3, levels]
        shape = rng.standard_normal((n_phys, 3)) @ harmonics
        shape /= np.maximum(np.abs(shape).max(axis=1, keepdims=True), 1e-12)
        jitter = rng.normal(0.0, cfg.dnl_sigma_lsb / np.sqrt(2.0), size=(n_phys, levels))
        jitter[:, [0, -1]] = 0.0
        inl = cfg.inl_lsb * shape + jitter
        gain = rng.normal(0.0, cfg.gain_error, size=(n_phys, 1))
        offset = rng.normal(0.0, cfg.offset_mV * 1e-3, size=(n_phys, 1))
        part_codes = np.arange(1 << bits) << (self.part_bits - bits)
        span = cfg.v_full - cfg.v_zero
        v = cfg.v_zero + span * (part_codes + inl[:, part_codes]) / levels * (1.0 + gain) + offset
        v = np.clip(v, cfg.rail_low, cfg.rail_high)
        # input j is driven by channel j mod input_channels (fewer than n_phys when one channel drives θ)
        self.input_channels = input_channels or n_phys
        self.table = v[np.arange(m) % self.input_channels]                   # [m, 2**bits]
        self.inl_lsb = inl
        self.gain, self.offset = gain[:, 0], offset[:, 0]

    def part_voltages(self, channel: int, part_codes: np.ndarray) -> np.ndarray:
        """Settled output of physical ``channel`` for part-width codes (the transfer above, one channel)."""
        cfg, pc = self.cfg, np.asarray(part_codes)
        v = (cfg.v_zero + (cfg.v_full - cfg.v_zero) * (pc + self.inl_lsb[channel, pc]) / (1 << self.part_bits)
             * (1.0 + self.gain[channel]) + self.offset[channel])
        return np.clip(v, cfg.rail_low, cfg.rail_high)

    def check_codes(self, codes: np.ndarray) -> np.ndarray:
        """``codes`` as an array of shape ``[N, m]`` with every code in range, or a clear error."""
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != self.m:
            raise ValueError(f"DAC codes must have shape [N, {self.m}], not {list(codes.shape)}")
        if codes.size and (codes.min() < 0 or codes.max() >= 1 << self.bits):
            raise ValueError(f"DAC codes must be in 0..{(1 << self.bits) - 1} ({self.bits}-bit offset binary)")
        return codes

    def static_voltages(self, codes: np.ndarray) -> np.ndarray:
        """Settled output of every channel for ``codes[N, m]`` (a clear error on out-of-range codes)."""
        return self.table[np.arange(self.m), self.check_codes(codes)]

    def decay(self, dt_ns: float | np.ndarray) -> np.ndarray:
        """Remaining fraction of a step after ``dt_ns``: exp(-dt/tau) (0 for an ideal DAC, tau = 0)."""
        tau = self.cfg.tau_ns
        dt = np.asarray(dt_ns, dtype=np.float64)
        return np.zeros_like(dt) if tau == 0 else np.exp(-dt / tau)

    def settle_periodic(self, targets: np.ndarray, before: np.ndarray, period_ns: float,
                        age_ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Voltages at evaluation for targets written once per ``period_ns``, each channel ``age_ns[j]`` before
        its evaluation. ``before[m]`` is each channel's output just before the first write. Returns the evaluated
        voltages ``[N, m]`` and the outputs just before the next write (state for the next call).

        The pre-write outputs obey x[n+1] = a·x[n] + (1 - a)·T[n], a = exp(-period/tau): one linear filter.
        """
        pre_write, last = rc_track(targets, before, float(self.decay(period_ns)))
        return targets + (pre_write - targets) * self.decay(age_ns), last

    @property
    def mid_code(self) -> int:
        return 1 << (self.bits - 1)

    @property
    def midscale(self) -> np.ndarray:
        """Each channel's output at the mid code (the power-on state assumed before the first write)."""
        return self.table[:, self.mid_code].copy()
