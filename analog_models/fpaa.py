"""The behavioral FPAA: DAC -> OTA array -> KCL -> TIA -> comparator(s) -> consensus keep bit (seed §3, §4, §5).

Two views of one model:

* :meth:`FpaaModel.score` — vectorized over tokens ``codes[N, m]`` (millions per second), for sweeps.
  DAC writes follow a periodic schedule: every input is written once per token period (``1 / token_rate``) and
  input ``j`` is evaluated ``write_ages_ns[j]`` after its write (default: ``dac.settle_ns`` for all). The OTA
  inputs come from per-(channel, previous code, code) tables (:mod:`.tables`: exact when the DAC settles within a
  period, else within 1e-12 V of the score) or, when a table would be further off, from the settling recurrence.
* :class:`FpaaPins` — the pin-level, token-by-token object a cocotb FPAA BFM owns: ``apply(channel, code)``,
  ``advance(ns)``, ``evaluate()``, ``output``. It keeps each input's write time, so any write schedule works.

Both end in the same :meth:`FpaaModel._evaluate` (OTA currents, noise draw, TIA, comparators, consensus), and the
noise stream is drawn in token order, so their keep bits agree on the same seed and schedule, their scores to
rounding (tested).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atis.config import AtisConfig
from atis.golden.prototype import group_weights, load_prototypes

from .comparator import ComparatorBank
from .dac import DacModel
from .faults import Fault, FaultSchedule
from .ota import OtaArray, quantize_weights
from .prototype import ema_prototypes
from .rc import rc_track
from .tables import TOLERANCE_V, InputTable

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


def _joined(parts: list[ScoreResult]) -> ScoreResult:
    if len(parts) == 1:
        return parts[0]
    return ScoreResult(*(np.concatenate([getattr(p, k) for p in parts])
                         for k in ("score", "keep", "circuits", "fired", "theta")))


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
        theta_channel = cfg.fpaa.readout.mode == "sar" and cfg.dac.part == "ad5628"    # the last drives θ
        self.dac = DacModel(cfg.dac, cfg.projection.dac_bits, m, rng,
                            input_channels=cfg.dac.n_channels - 1 if theta_channel else None)
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
        self._dac_prev = np.full(m, self.dac.mid_code)       # the codes that led to _dac_state (for the tables)
        self.use_tables = True       # False: always the settling recurrence (the reference path; benchmarks)
        self._table: InputTable | None = None
        self._table_bound_V = 0.0    # its worst-case score error at TIA gain trim 1 (0: exact)
        self._arrays = self.ota.circuits_of_array()
        self.evaluations = 0         # tokens evaluated since construction: the clock of injected faults
        self._faults: FaultSchedule | None = None
        self._ema_initial = grouped
        self.reference_codes: np.ndarray | None = None
        self._reference_spread = None
        if reference_codes is None and f.comparator.threshold == "target":
            raise ValueError("fpaa.comparator.threshold = target needs reference tokens to calibrate θ on")
        if reference_codes is not None:
            self.calibrate(reference_codes)

    # -- the shared evaluation -------------------------------------------------------------------------------
    def _ota_inputs(self, voltages: np.ndarray) -> np.ndarray:
        return self.cfg.fpaa.ota.input_gain * (voltages - self.cfg.dac.v_ref)

    def _currents(self, voltages: np.ndarray, weights: np.ndarray) -> np.ndarray:
        return self.ota.currents(self._ota_inputs(voltages), weights, self.temperature_C)

    def _tia(self, voltages: np.ndarray, weights: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        """TIA outputs above v_mid ``[N, G]`` for OTA input voltages ``[N, m]`` (DAC side)."""
        return self._tia_of(self._currents(voltages, weights), weights, noise)

    def _tia_of(self, current: np.ndarray, weights: np.ndarray, noise: np.ndarray | None) -> np.ndarray:
        f = self.cfg.fpaa
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
        """Score tokens given as OTA input voltages ``[N, m]``."""
        return self._evaluate_with(len(voltages), lambda weights: self._currents(voltages, weights), queries)

    def _evaluate_with(self, n: int, currents, queries: np.ndarray | None = None) -> ScoreResult:
        """Score ``n`` tokens whose OTA currents are ``currents(weights) -> [n, G]``."""
        weights = self._weights_for(queries, n)
        noise = self._noise.standard_normal((n, self.weights.shape[0]))
        circuits = self._tia_of(currents(weights), weights, noise)
        fired, theta = self.comparators.run(circuits)
        if self._faults is None:
            self.evaluations += n
        else:                          # stuck pins forced; faults due after these evaluations take effect
            fired = self._faults.after_evaluation(fired, n)
        keep = fired.sum(axis=1) >= self.cfg.fpaa.heads.consensus_k
        return ScoreResult(circuits.mean(axis=1), keep, circuits, fired, np.array(theta))

    # -- vectorized view -------------------------------------------------------------------------------------
    def score(self, codes: np.ndarray, queries: np.ndarray | None = None) -> ScoreResult:
        """Score ``codes[N, m]`` (DAC codes) as consecutive tokens; state carries over to the next call."""
        codes = self.dac.check_codes(codes)
        queries = None if queries is None else np.asarray(queries)
        if self._faults is None or not (self._faults.pending or self._faults.direct_next):
            return self._score_run(codes, queries)
        parts = [self._score_run(codes[a:b], None if queries is None else queries[a:b], direct)
                 for a, b, direct in self._faults.segments(len(codes))]     # cut at the fault onsets
        return _joined(parts)

    def inject(self, *faults: Fault) -> None:
        """Schedule hardware faults (:mod:`.faults`): each acts from its ``at_token``-th evaluation on."""
        if self._faults is None:
            self._faults = FaultSchedule(self)
        self._faults.add(faults)

    def drop_input_table(self) -> None:
        """Forget the input table (the DAC transfer changed): the next call builds it again."""
        self._table = None

    def _score_run(self, codes: np.ndarray, queries: np.ndarray | None, direct: bool = False) -> ScoreResult:
        table = None if direct else self._input_table(codes)
        parts = []
        for start in range(0, max(len(codes), 1), CHUNK):
            chunk = slice(start, start + CHUNK)
            parts.append(self._score_chunk(codes[chunk], None if queries is None else queries[chunk], table))
        return _joined(parts)

    def _score_chunk(self, codes: np.ndarray, queries: np.ndarray | None, table: InputTable | None) -> ScoreResult:
        prev = self._dac_prev
        if len(codes):
            self._dac_prev = codes[-1].copy()
        if table is None:
            targets = self.dac.static_voltages(codes)
            volts, self._dac_state = self.dac.settle_periodic(targets, self._dac_state, self.period_ns,
                                                              self.write_ages_ns)
            return self._evaluate(volts, queries)
        self._dac_state = self._state_after(codes, table.a)
        return self._evaluate_with(len(codes), lambda w: self._table_currents(table, codes, prev, w), queries)

    def _input_table(self, codes: np.ndarray) -> InputTable | None:
        """The input table for the current schedule and temperature, or None where the recurrence must run: not
        wanted, non-integer codes, too large a table, or a table further than TOLERANCE_V from the recurrence."""
        dac, ota, f = self.dac, self.ota, self.cfg.fpaa
        if (not self.use_tables or not len(codes) or not np.issubdtype(codes.dtype, np.integer)
                or not InputTable.fits(len(self._arrays), self.m, dac.bits)):
            return None
        key = (float(self.period_ns), tuple(np.asarray(self.write_ages_ns, dtype=float).tolist()),
               float(self.temperature_C))
        if self._table is None or self._table.key != key:
            mid = dac.midscale
            span = np.maximum(self.cfg.dac.rail_high - mid, mid - self.cfg.dac.rail_low)
            self._table = table = InputTable(
                dac.table, mid, span, float(dac.decay(self.period_ns)), dac.decay(self.write_ages_ns),
                lambda v, array: ota.activation(self._ota_inputs(v), array, self.temperature_C),
                [a for a, _ in self._arrays], key)
            gain = np.abs(ota.gain[ota.array_of])                            # [G, m]
            weights = gain if f.prototype.ema_tau_tokens else np.abs(self.weights) * gain    # EMA: |w| <= 1
            slope = abs(f.ota.input_gain) / ota.linear_range(self.temperature_C)
            amps_to_V = ota.bias(self.temperature_C) * f.tia.gain_Mohm * 1e6      # at TIA gain trim 1
            self._table_bound_V = table.error_bound_V(slope, weights, amps_to_V)
        if self._table_bound_V * abs(self.tia_gain_trim) > TOLERANCE_V:
            return None
        return self._table

    def _table_currents(self, table: InputTable, codes: np.ndarray, prev: np.ndarray,
                        weights: np.ndarray) -> np.ndarray:
        """:meth:`OtaArray.currents` with the tanh outputs looked up, block by block."""
        ota = self.ota
        out = np.empty((len(codes), len(ota.array_of)))
        static = {a: ota.gains(weights, a, circuits) for a, circuits in self._arrays if weights.ndim == 2}
        for rows, inputs in table.inputs(codes, prev, [a for a, _ in self._arrays]):
            for a, circuits in self._arrays:
                gains = static[a] if static else ota.gains(weights[rows], a, circuits)
                ota.weighted_sum(inputs[a], gains, circuits, out[rows])
        return out * ota.bias(self.temperature_C)

    def _state_after(self, codes: np.ndarray, a: float) -> np.ndarray:
        """The DAC outputs just before the next write, by the period recurrence over the last tokens only: the
        tokens further back weigh a^k < 1e-30 (exact for a = 0, where it is the last targets)."""
        back = len(codes) if a >= 0.5 else 1 + (0 if a == 0.0 else int(np.ceil(-30.0 / np.log10(a))))
        back = min(back, len(codes))
        y = self._dac_state if back == len(codes) else self.dac.midscale
        targets = self.dac.table[np.arange(self.m), codes[-back:]]
        if back > 8:
            return rc_track(targets, y, a)[1]
        for target in targets:           # a few rows: cheaper than a filter call (short sequences)
            y = (1.0 - a) * target + a * y
        return y

    def reset(self, noise: bool = True) -> None:
        """Back to the power-on state (DAC outputs at mid-scale, comparators low at their trimmed θ, EMA charged
        to the prototype); ``noise``: restart the noise stream too, so equal inputs give equal outputs. Calibration
        (θ, TIA gain trim, temperature) is kept."""
        self._dac_state = self.dac.midscale
        self._dac_prev = np.full(self.m, self.dac.mid_code)
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
