"""The multi-bit score readout (issue 18): successive approximation of each token's held score S with θ from a DAC.

Schedule and codes: ``atis.golden.readout``. What this model adds, per decision:

* **Range.** θ DAC codes map onto score volts θ(t) = θ_lo + 2h·(V_θ(t) - v_zero)/(v_full - v_zero) (an FPAA gain and
  offset stage on the comparator's reference input, programmed at calibration like θ was). The range is centred
  on the trimmed θ (h = the larger distance from θ to the ``span_quantile`` and ``1 - span_quantile`` quantiles of
  the reference scores), so code 2^(b-1) starts at θ: the MSB decision is the comparator's threshold decision.
* **θ DAC.** V_θ(t) is a real channel's transfer (AD5628: the input DAC's last channel, with its INL, gain and
  offset; parallel: a seeded DAC of its own) and settles first order: V = T + (V_write - T)·exp(-settle/τ) after
  each write (``settle_ns`` of the schedule), from the previous θ taken as settled (what it is off by,
  |ΔT|·exp(-2·settle/τ), is 2e-9 of a step at the defaults).
* **Comparator.** The FPAA comparator itself: its seeded offset, its Schmitt band (fixed in volts: hysteresis_frac
  of the trimmed θ, the θ it was designed for), its output state carried from decision to decision and token to
  token, and an input noise of σ = ``noise_mV`` drawn per decision from its own seeded stream.

The score is held (the sequencer's ``evaluate`` strobes a sample-and-hold on the TIA output), so every decision
of a token sees the same S; the FPAA model draws its noise once per token as before. :class:`SarReadout` is the
vectorized view (codes of a score stream); :meth:`SarReadout.pins` the pin-level one for the co-simulation's FPAA
BFM (θ DAC writes and decide strobes at their simulated times). Both run the same decision on the same noise
stream, so their codes agree (tested).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from atis.config import AtisConfig
from atis.golden.projection import projection_codes, resolve_projection
from atis.golden.readout import ReadoutSpec, resolve_readout, sar_code
from atis.golden.selection import select_stream
from atis.golden.sequencer import resolve_sequencer

from .dac import DacModel
from .fpaa import FpaaModel, ScoreResult
from .scoring import scorer_model

__all__ = ["SarReadout", "SarPins", "ReadoutResult", "expected_readout", "readout_codes"]


class SarReadout:
    """The SAR readout of one :class:`FpaaModel` (calibrated: θ trimmed on its reference codes). Stateful like
    the circuit: the comparator's state, the θ DAC's output and the noise stream carry over between calls."""

    def __init__(self, model: FpaaModel, spec: ReadoutSpec | None = None):
        cfg = model.cfg
        self.model, self.cfg = model, cfg
        self.spec = spec or resolve_readout(cfg)
        if not self.spec.sar:
            raise ValueError("SarReadout: fpaa.readout.mode is not sar")
        if model.reference_codes is None:
            raise ValueError("SarReadout: the FPAA model needs reference codes (its range is set on them)")
        r, dac = cfg.fpaa.readout, cfg.dac
        ref = model.reference_outputs(model.reference_codes)[:, 0]
        theta = float(model.comparators.theta[0])
        lo, hi = np.quantile(ref, [1.0 - r.span_quantile, r.span_quantile])
        self.half_V = max(abs(hi - theta), abs(theta - lo), 1e-6)
        self.theta_lo = theta - self.half_V
        self.lsb_V = 2 * self.half_V / (1 << self.spec.bits)
        self.offset_V = float(model.comparators.offset[0])
        self.band_V = cfg.fpaa.comparator.hysteresis_frac * abs(theta)
        self.noise_V = r.noise_mV * 1e-3
        self._dac_V = self._theta_dac(model)          # θ DAC output per trial code 0..2^b-1
        self._span = dac.v_full - dac.v_zero
        self.tau_ns, self.settle_ns = dac.tau_ns, self.spec.settle_cycles * self.spec.clock_ns
        self.reset()

    def _theta_dac(self, model: FpaaModel) -> np.ndarray:
        trials = np.arange(1 << self.spec.bits)
        if self.spec.theta_channel is not None:
            return model.dac.part_voltages(self.spec.theta_channel, trials << (self.spec.part_bits - self.spec.bits))
        own = dataclasses.replace(self.cfg.dac, n_channels=1, part_bits=self.spec.bits)
        return DacModel(own, self.spec.bits, 1, np.random.default_rng([self.cfg.fpaa.seed, 3])).table[0]

    def theta_V(self, dac_V: float | np.ndarray) -> float | np.ndarray:
        """Score-domain θ of a θ DAC output voltage."""
        return self.theta_lo + 2 * self.half_V * (dac_V - self.cfg.dac.v_zero) / self._span

    def reset(self, noise: bool = True) -> None:
        """Power-on: comparator low, θ DAC at code 0 (the AD5628 powers up at zero scale); ``noise``: restart the
        decision noise stream."""
        self.state = False
        self.dac_V = float(self._dac_V[0])
        self.margins_V: list[float] = []      # |input - trip point| of every decision since codes() or reset()
        if noise:
            self._noise = np.random.default_rng([self.cfg.fpaa.seed, 2])

    def decide(self, score: float, theta: float, noise: float) -> bool:
        """One comparator decision (offset, Schmitt band, state), given the input noise draw (standard normal)."""
        v = score + self.noise_V * noise
        trip = theta + self.offset_V + (-0.5 if self.state else 0.5) * self.band_V
        self.margins_V.append(abs(v - trip))      # the overdrive: how fast the comparator decides
        self.state = v >= trip if self.state else v > trip
        return self.state

    def codes(self, scores: np.ndarray) -> np.ndarray:
        """b-bit codes of consecutive held scores ``scores[N]`` (V), each θ settled for the schedule's time."""
        scores = np.asarray(scores, dtype=np.float64).tolist()
        b = self.spec.bits
        noise = self._noise.standard_normal(len(scores) * b).tolist()
        decay = float(np.exp(-self.settle_ns / self.tau_ns)) if self.tau_ns > 0 else 0.0
        targets = self._dac_V.tolist()
        out = np.empty(len(scores), dtype=np.int64)
        step = iter(noise)
        self.margins_V = []
        for n, s in enumerate(scores):
            def decide(trial: int, s=s) -> bool:
                target = targets[trial]
                v = target + (self.dac_V - target) * decay
                self.dac_V = target
                return self.decide(s, self.theta_V(v), next(step))
            out[n] = sar_code(decide, b)
        return out

    def pins(self) -> SarPins:
        return SarPins(self)


class SarPins:
    """Pin-level view for the FPAA BFM: θ DAC writes and decide strobes at their simulated times (ns); decisions
    on the held score, sharing the readout's comparator state and noise stream."""

    def __init__(self, readout: SarReadout):
        self.readout = readout
        self._target = self._at_write = readout.dac_V
        self._written = -np.inf
        self.decisions = 0

    def _voltage(self, t_ns: float) -> float:
        tau = self.readout.tau_ns
        decay = float(np.exp(-(t_ns - self._written) / tau)) if tau > 0 else 0.0
        return self._target + (self._at_write - self._target) * decay

    def theta_write(self, trial: int, t_ns: float) -> None:
        """The θ DAC output moves to trial code ``trial`` (0..2^b-1) at ``t_ns``."""
        self._at_write = self._voltage(t_ns)
        self._target = float(self.readout._dac_V[trial])
        self._written = t_ns

    def decide(self, score: float, t_ns: float) -> bool:
        """A decide strobe at ``t_ns`` on the held ``score`` (V)."""
        self.decisions += 1
        r = self.readout
        return r.decide(score, r.theta_V(self._voltage(t_ns)), float(r._noise.standard_normal()))

    def theta_age_ns(self, t_ns: float) -> float:
        return t_ns - self._written


@dataclass(frozen=True)
class ReadoutResult:
    """What the scorer must output for a token stream: the FPAA model's ``result`` (held scores), each token's
    readout ``codes`` (SAR codes, or the comparator's keep bit) and the selected ``keep`` bits (whole sequences
    only when a per-sequence selection is configured)."""
    result: ScoreResult
    codes: np.ndarray
    keep: np.ndarray


def readout_codes(model: FpaaModel, result: ScoreResult, spec: ReadoutSpec | None) -> np.ndarray:
    """The readout's codes of a scored stream: SAR codes of the held scores, or the comparator's keep bit."""
    if spec is None or not spec.sar:
        return result.keep.astype(np.int64)
    return SarReadout(model, spec).codes(result.score)


def expected_readout(cfg: AtisConfig, tokens: np.ndarray) -> ReadoutResult:
    """The scorer's expected codes and keep bits for ``tokens[N, d]``: the vectorized FPAA model on the golden
    projection's codes, the readout, then the golden selection per ``model.seq_len`` tokens."""
    spec, seq = resolve_projection(cfg), resolve_sequencer(cfg)
    model = scorer_model(cfg, spec, seq)
    result = model.score(projection_codes(tokens, spec))
    codes = readout_codes(model, result, seq.readout)
    keep = select_stream(codes, seq.selection) if seq.selection is not None else result.keep
    return ReadoutResult(result, codes, keep)
