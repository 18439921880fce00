"""The behavioral FPAA: DAC -> OTA array -> KCL -> TIA -> comparator(s) -> consensus keep bit (seed §3, §4, §5).

Two views of one model:

* :meth:`FpaaModel.score` — vectorized over tokens ``codes[N, m]`` (hundreds of thousands per second), for sweeps.
  DAC writes follow a periodic schedule: every input is written once per token period (``1 / token_rate``) and
  input ``j`` is evaluated ``write_ages_ns[j]`` after its write (default: ``dac.settle_ns`` for all).
* :class:`FpaaPins` — the pin-level, token-by-token object a cocotb FPAA BFM owns: ``apply(channel, code)``,
  ``advance(ns)``, ``evaluate()``, ``output``. It keeps each input's write time, so any write schedule works.

Both end in the same :meth:`FpaaModel._evaluate` (OTA currents, noise draw, TIA, comparators, consensus), and the
noise stream is drawn in token order, so the two agree exactly on the same seed and schedule (tested).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atis.config import AtisConfig
from atis.golden.prototype import group_weights, load_prototypes

from .comparator import ComparatorBank
from .dac import DacModel
from .ota import OtaArray, quantize_weights
from .prototype import ema_prototypes

__all__ = ["FpaaModel", "FpaaPins", "ScoreResult"]

CHUNK = 1 << 15   # tokens per vectorized block: bounds memory at [CHUNK, m] float64 temporaries


@dataclass(frozen=True)
class ScoreResult:
    """Per token: ``score`` (mean over circuits, V), ``keep``; per circuit: ``circuits`` (V), ``fired`` and the
    ``theta`` each comparator used. Scores and θ are TIA output minus its zero-current level ``v_mid``: the analog
    importance score S in volts. Unpacks as ``score, keep = model.score(codes)``."""
    score: np.ndarray
    keep: np.ndarray
    circuits: np.ndarray
    fired: np.ndarray
    theta: np.ndarray

    def __iter__(self):
        return iter((self.score, self.keep))


class FpaaModel:
    """One FPAA configured from an :class:`AtisConfig`.

    It is stateful, like the circuit: the DAC outputs settle from the previous token, the comparators keep their
    hysteresis state (and, ``adaptive``, their moving θ), the EMA prototype its charge, and the noise stream runs on.
    So consecutive :meth:`score` calls continue one token stream: ``score(a); score(b)`` equals ``score(a + b)``,
    and scoring a sequence after another differs slightly from scoring it first. Call :meth:`reset` between
    sequences for results that do not depend on what came before (:meth:`score_sequences` does)."""

    def __init__(self, cfg: AtisConfig, prototypes: np.ndarray | None = None,
                 reference_codes: np.ndarray | None = None):
        f, m = cfg.fpaa, cfg.projection.m
        self.cfg, self.m = cfg, m
        heads = f.heads
        rng = np.random.default_rng(f.seed)
        self.dac = DacModel(cfg.dac, cfg.projection.dac_bits, m, rng)
        array_of = np.arange(heads.groups) if heads.multiplex == "replicated" else np.zeros(heads.groups, int)
        self.ota = OtaArray(f.ota, m, array_of, f.program_temperature_C, rng)
        self.comparators = ComparatorBank(f.comparator, heads.groups, rng)
        self._noise = np.random.default_rng([f.seed, 1])
        q = load_prototypes(f.prototype, m, heads.count) if prototypes is None else np.atleast_2d(prototypes)
        if q.shape != (heads.count, m):
            raise ValueError(f"prototypes must have shape [{heads.count}, {m}], not {list(q.shape)}")
        self.prototypes = q
        self.float_weights = group_weights(q, heads.groups)     # [G, m], max |w| = 1
        self.weights = quantize_weights(self.float_weights, f.ota.weight_bits)
        grouped = q.reshape(heads.groups, -1, m).mean(axis=1)
        self._ema_state = grouped          # the RC filter starts charged to the static prototype
        self._ema_scale = np.maximum(np.abs(grouped).max(axis=1, keepdims=True), 1e-30)
        self.temperature_C = f.temperature_C
        self.tia_gain_trim = 1.0
        self.period_ns = 1e3 / f.token_rate_MHz
        self.write_ages_ns = np.full(m, cfg.dac.settle_ns)
        self._dac_state = self.dac.midscale
        self._ema_initial = grouped
        self.reference_codes: np.ndarray | None = None
        self._reference_spread = None
        if reference_codes is None and f.comparator.threshold == "target":
            raise ValueError("fpaa.comparator.threshold = target needs reference tokens to calibrate θ on")
        if reference_codes is not None:
            self.calibrate(reference_codes)

    # -- the shared evaluation -------------------------------------------------------------------------------
    def _tia(self, voltages: np.ndarray, weights: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        f = self.cfg.fpaa
        v_in = f.ota.input_gain * (voltages - self.cfg.dac.v_ref)
        current = self.ota.currents(v_in, weights, self.temperature_C)
        if noise is not None:
            current += noise * self.ota.noise_sigma(weights, self.temperature_C, f.token_rate_MHz * 1e6)
        v = f.tia.v_mid + f.tia.gain_Mohm * 1e6 * self.tia_gain_trim * current
        return np.clip(v, f.tia.rail_low, f.tia.rail_high) - f.tia.v_mid

    def _weights_for(self, queries: np.ndarray | None, n: int) -> np.ndarray:
        tau = self.cfg.fpaa.prototype.ema_tau_tokens
        if tau == 0:
            if queries is not None:
                raise ValueError("queries given but fpaa.prototype.ema_tau_tokens = 0 (static prototype)")
            return self.weights
        if queries is None:
            raise ValueError("fpaa.prototype.ema_tau_tokens > 0: score() needs the query stream (queries=)")
        groups = self.weights.shape[0]
        q = np.asarray(queries, dtype=np.float64).reshape(n, self.cfg.fpaa.heads.count, self.m)
        q = q.reshape(n, groups, -1, self.m).mean(axis=2)
        seen, self._ema_state = ema_prototypes(q, self._ema_state, tau)
        # The RC output drives g_m directly (no floating-gate quantization), saturating at full scale.
        return np.clip(seen / self._ema_scale, -1.0, 1.0)

    def _evaluate(self, voltages: np.ndarray, queries: np.ndarray | None = None) -> ScoreResult:
        n = len(voltages)
        weights = self._weights_for(queries, n)
        noise = self._noise.standard_normal((n, self.weights.shape[0]))
        circuits = self._tia(voltages, weights, noise)
        fired, theta = self.comparators.run(circuits)
        keep = fired.sum(axis=1) >= self.cfg.fpaa.heads.consensus_k
        return ScoreResult(circuits.mean(axis=1), keep, circuits, fired, np.array(theta))

    # -- vectorized view -------------------------------------------------------------------------------------
    def score(self, codes: np.ndarray, queries: np.ndarray | None = None) -> ScoreResult:
        """Score ``codes[N, m]`` (DAC codes) as consecutive tokens; state carries over to the next call."""
        codes = np.asarray(codes)
        queries = None if queries is None else np.asarray(queries)
        parts = []
        for start in range(0, max(len(codes), 1), CHUNK):
            chunk = slice(start, start + CHUNK)
            targets = self.dac.static_voltages(codes[chunk])
            volts, self._dac_state = self.dac.settle_periodic(targets, self._dac_state, self.period_ns,
                                                              self.write_ages_ns)
            parts.append(self._evaluate(volts, None if queries is None else queries[chunk]))
        return ScoreResult(*(np.concatenate([getattr(p, k) for p in parts])
                             for k in ("score", "keep", "circuits", "fired", "theta")))

    def reset(self, noise: bool = True) -> None:
        """Back to the power-on state (DAC outputs at mid-scale, comparators low at their trimmed θ, EMA charged
        to the prototype); ``noise``: restart the noise stream too, so equal inputs give equal outputs. Calibration
        (θ, TIA gain trim, temperature) is kept."""
        self._dac_state = self.dac.midscale
        self._ema_state = self._ema_initial
        self.comparators.reset()
        if noise:
            self._noise = np.random.default_rng([self.cfg.fpaa.seed, 1])

    def score_sequences(self, sequences, noise: bool = False) -> list[ScoreResult]:
        """Score each ``codes[n_i, m]`` of ``sequences`` from the power-on state (:meth:`reset` before each; the
        noise stream runs on unless ``noise``), so a sequence's result does not depend on its neighbours."""
        out = []
        for codes in sequences:
            self.reset(noise=noise)
            out.append(self.score(codes))
        return out

    def pins(self) -> FpaaPins:
        """A pin-level view for co-simulation, sharing this model's comparators, noise and temperature."""
        return FpaaPins(self)

    # -- calibration (seed §5.3) -----------------------------------------------------------------------------
    def reference_outputs(self, codes: np.ndarray) -> np.ndarray:
        """Settled, noise-averaged scores ``[N, G]`` of reference tokens (model state untouched)."""
        return self._tia(self.dac.static_voltages(codes), self.weights, None)

    def calibrate(self, reference_codes: np.ndarray) -> None:
        """Trim θ so ``keep_target`` of the reference tokens is kept (not with ``threshold: fixed``, whose θ is
        ``theta_V`` by definition); remember the tokens and their spread."""
        self.reference_codes = np.asarray(reference_codes)
        v = self.reference_outputs(self.reference_codes)
        c = self.cfg.fpaa
        if c.comparator.threshold != "fixed":
            self.comparators.fit_quantile(v, c.comparator.keep_target, c.heads.consensus_k)
        self._reference_spread = np.std(v, axis=0)

    def recalibrate(self, trim: str = "threshold") -> None:
        """After a temperature change: re-trim θ (``threshold``) or the TIA gain (``gain``, restores the
        reference spread so the old θ fits again) from the reference tokens of the last :meth:`calibrate`."""
        if self.reference_codes is None:
            raise ValueError("recalibrate() needs a previous calibrate(reference_codes)")
        if trim == "threshold":
            self.calibrate(self.reference_codes)
        elif trim == "gain":
            spread = np.std(self.reference_outputs(self.reference_codes), axis=0)
            self.tia_gain_trim *= float(np.mean(self._reference_spread / spread))
        else:
            raise ValueError(f"trim must be 'threshold' or 'gain', not {trim!r}")

    def token_time_ns(self) -> float:
        """Evaluation time per token: one period, times G with reprogramming when time-multiplexed (§5.2 (c))."""
        h = self.cfg.fpaa.heads
        if h.multiplex == "replicated":
            return self.period_ns
        return h.groups * (self.period_ns + h.reprogram_us * 1e3)


class FpaaPins:
    """Token-by-token, pin-level FPAA for co-simulation (the same model underneath as :meth:`FpaaModel.score`).

    Time only moves with :meth:`advance`. Each OTA input ``j`` holds the last code written to it (a sample-and-hold
    per input when DACs are time-multiplexed) and settles toward it with the DAC's time constant. :meth:`evaluate`
    decides at the current time; the comparator pin shows the decision ``delay_ns`` later.
    """

    def __init__(self, model: FpaaModel):
        self.model = model
        self.now_ns = 0.0
        self._target = model.dac.midscale
        self._at_write = self._target.copy()
        self._written = np.full(model.m, -np.inf)
        self._pin = False
        self._pending: list[tuple[float, bool]] = []   # (time the pin changes, level), in time order

    def voltages(self) -> np.ndarray:
        """Every OTA input's voltage now (V)."""
        decay = self.model.dac.decay(self.now_ns - self._written)
        return self._target + (self._at_write - self._target) * decay

    def apply(self, channel: int, code: int) -> None:
        """A DAC write of ``code`` to OTA input ``channel`` at the current time."""
        dac = self.model.dac
        if not 0 <= channel < self.model.m or not 0 <= code < 1 << dac.bits:
            raise ValueError(f"DAC write out of range: channel {channel} (0..{self.model.m - 1}), "
                             f"code {code} (0..{(1 << dac.bits) - 1})")
        self._at_write[channel] = self.voltages()[channel]
        self._target[channel] = dac.table[channel, code]
        self._written[channel] = self.now_ns

    def advance(self, dt_ns: float) -> None:
        if dt_ns < 0:
            raise ValueError(f"time cannot go back ({dt_ns} ns)")
        self.now_ns += dt_ns

    def evaluate(self, query: np.ndarray | None = None) -> ScoreResult:
        """Score the inputs as they are now; the pin follows after the comparator delay."""
        result = self.model._evaluate(self.voltages()[None, :], None if query is None else query[None])
        self._pending.append((self.now_ns + self.model.cfg.fpaa.comparator.delay_ns, bool(result.keep[0])))
        return result

    @property
    def output(self) -> bool:
        """Comparator (consensus) pin level at the current time."""
        while self._pending and self._pending[0][0] <= self.now_ns:
            self._pin = self._pending.pop(0)[1]
        return self._pin
