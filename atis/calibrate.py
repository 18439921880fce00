"""Fit an ATIS scorer to any transformer (seed §2.3, §3.2, §5.1): bring hidden states and attention, get a scorer.

>>> scorer = calibrate(hidden, received, m=64, dac_bits=6, keep=0.3)      # doctest: +SKIP
>>> scorer.spec.save("scorer.npz")            # then `scorer: {spec: scorer.npz}` in a config
>>> masks = scorer.keep_masks(new_hidden)     # the comparator's keep bits, per sequence

Inputs, per calibration sequence ``s``: ``hidden[s]`` float ``[n_s, d]`` (the tokens entering the layer) and
``received[s]`` ``[n_s]``, the attention each token receives (Σ over queries, mean over heads), or the attention
matrices ``[H, n_s, n_s]`` / ``[n_s, n_s]`` from which it is summed. Sequences may differ in length.

The recipe: a power-of-two int8 front end (:class:`Int8Frontend`); the projection (``jl``: seeded ±1; ``fold``: the
static query prototype folded through W_K, ``W_Kᵀ·q̄``, as its first row; ``learned``: a direction fitted with a
listwise ranking loss as its first row, the principal directions after it); the shift whose settled FPAA scores
rank the calibration attention best (searched from 2 below "99.5 % of codes inside the DAC range" up to 6 above);
a centred least-squares prototype against the within-sequence rank of the attention (robust to its heavy tail);
and θ trimmed on the calibration tokens for ``keep``.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.stats import rankdata, spearmanr

from .analog_models import FpaaModel
from .analog_models.fpaa import ScoreResult
from .config import AtisConfig, with_overrides
from .golden.projection import ProjectionSpec, accumulator_bits, jl_matrix, project, projection_codes
from .golden.prototype import least_squares_prototype
from .golden.quant import requantize
from .scorer_spec import KINDS, Int8Frontend, ScorerSpec

__all__ = ["calibrate", "FittedScorer", "CalibrationError", "received_attention", "centered_prototype",
           "search_shift", "ranking_direction"]


class CalibrationError(ValueError):
    """Calibration input that cannot be used (shape, NaN, empty); the message names the argument."""


def received_attention(attention: np.ndarray) -> np.ndarray:
    """``[H, n, n]`` or ``[n, n]`` attention (rows: queries) -> ``[n]`` attention received, mean over heads."""
    a = np.asarray(attention, dtype=np.float64)
    return (a if a.ndim == 2 else a.mean(axis=0)).sum(axis=-2)


def _sequences(hidden, received, name: str = "hidden") -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    if isinstance(hidden, np.ndarray) and hidden.ndim == 2:
        hidden = [hidden]
    if len(hidden) == 0:
        raise CalibrationError(f"{name}: no sequences")
    xs = [np.asarray(h, dtype=np.float64) for h in hidden]
    d = xs[0].shape[-1] if xs[0].ndim == 2 else None
    for i, x in enumerate(xs):
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] != d or d == 0:
            raise CalibrationError(f"{name}[{i}]: must be float [n >= 1, d = {d}], not shape {list(x.shape)}")
        if not np.all(np.isfinite(x)):
            raise CalibrationError(f"{name}[{i}]: holds NaN or infinite values")
    if received is None:
        return xs, None
    if isinstance(received, np.ndarray) and received.ndim == 1:
        received = [received]
    if len(received) != len(xs):
        raise CalibrationError(f"received: {len(received)} sequences for {len(xs)} of {name}")
    rs = []
    for i, (x, r) in enumerate(zip(xs, received)):
        r = np.asarray(r, dtype=np.float64)
        if r.ndim in (2, 3) and r.shape[-2:] == (len(x), len(x)):
            r = received_attention(r)
        if r.shape != (len(x),):
            raise CalibrationError(f"received[{i}]: must be [n = {len(x)}] (or attention [H?, n, n]), "
                                   f"not shape {list(r.shape)}")
        if not np.all(np.isfinite(r)):
            raise CalibrationError(f"received[{i}]: holds NaN or infinite values")
        rs.append(r)
    return xs, rs


def _rank_target(received: list[np.ndarray]) -> np.ndarray:
    """Each token's within-sequence rank of attention received, in 0..1 (the regression target of the fit)."""
    return np.concatenate([(rankdata(r) - 1) / max(len(r) - 1, 1) for r in received])


def centered_prototype(features: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares prototype ``q[1, m]`` of centred features vs the centred target (the offset belongs to θ)."""
    f = np.asarray(features, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    return least_squares_prototype(f - f.mean(axis=0), t - t.mean())


def ranking_direction(tokens: list[np.ndarray], received: list[np.ndarray], ridge: float = 1e-3) -> np.ndarray:
    """``w[d]`` whose scores ``x·w`` rank each sequence's tokens like its attention: a listwise (ListNet) loss,
    cross-entropy between softmax(x·w) and the attention received normalized per sequence, with an L2 ridge."""
    x = np.concatenate([t - t.mean(axis=0) for t in tokens]).astype(np.float64)
    x /= x.std() + 1e-12
    p = np.concatenate([r / r.sum() if r.sum() > 0 else np.full(len(r), 1 / len(r)) for r in received])
    starts = np.cumsum([0] + [len(t) for t in tokens[:-1]])
    seg = np.repeat(np.arange(len(tokens)), [len(t) for t in tokens])

    def loss(w):
        s = x @ w
        s = s - np.maximum.reduceat(s, starts)[seg]
        e = np.exp(s)
        z = np.add.reduceat(e, starts)
        total = -(p @ (s - np.log(z)[seg])) / len(tokens) + ridge * w @ w
        return total, x.T @ (e / z[seg] - p) / len(tokens) + 2 * ridge * w
    return minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 300}).x


def _int8_rows(rows: np.ndarray) -> np.ndarray:
    peak = np.abs(rows).max(axis=1, keepdims=True)
    return np.round(127 * rows / np.where(peak > 0, peak, 1)).astype(np.int64)


def _matrix(kind: str, tokens: list[np.ndarray], received, m: int, seed: int, wk, mean_query) -> np.ndarray:
    flat = np.concatenate(tokens).astype(np.float64)
    d = flat.shape[1]
    jl = jl_matrix(m, d, seed)
    if kind == "jl":
        return jl
    if kind == "fold":
        wk, mq = np.asarray(wk, dtype=np.float64), np.asarray(mean_query, dtype=np.float64).reshape(-1)
        if wk.ndim != 2 or wk.shape[1] != d or mq.shape != (wk.shape[0],):
            raise CalibrationError(f"wk must be [d_k, d = {d}] and mean_query [d_k], not {list(wk.shape)} and "
                                   f"{list(mq.shape)}")
        first = _int8_rows((wk.T @ mq)[None])
    else:
        centred = flat - flat.mean(axis=0)
        pcs = np.linalg.eigh(centred.T @ centred)[1][:, ::-1][:, :m - 1].T      # principal directions
        first = _int8_rows(np.vstack([ranking_direction(tokens, received), pcs]))
        if len(first) == m:
            return first
    # The ±1 rows get an integer gain so their spread matches the first row's: one shift serves every row.
    spread = (flat @ first.T).std(axis=0).mean() / max(float((flat @ jl[1:].T).std(axis=0).mean()), 1e-12)
    return np.vstack([first, jl[len(first):] * int(np.clip(round(spread), 1, 127))])


def search_shift(cfg: AtisConfig, spec: ProjectionSpec, tokens: np.ndarray, target: np.ndarray,
                 sample: int = 20000) -> int:
    """The shift whose settled FPAA scores (centred prototype) rank ``target`` best (Spearman), from 2 below the
    smallest shift that keeps 99.5 % of ``|P·x|`` inside the DAC range to 6 above it. Too small a shift drives the
    OTAs into tanh compression (and saturates codes), too large wastes DAC codes."""
    acc = project(tokens, spec.matrix)
    half = 1 << (spec.dac_bits - 1)
    low = int(np.ceil(np.log2(max(np.quantile(np.abs(acc), 0.995), 1.0) / half)))
    pick = np.random.default_rng(3).choice(len(tokens), size=min(sample, len(tokens)), replace=False)
    best = (-2.0, max(low, 0))
    for shift in range(max(0, low - 2), min(low + 7, 32)):
        codes = requantize(acc[pick], shift, spec.dac_bits)
        c = with_overrides(cfg, {"projection": {"shift": shift}, "fpaa": {"comparator": {"threshold": "fixed"}}})
        q = centered_prototype(codes - half, target[pick])
        model = FpaaModel(c, prototypes=np.repeat(q, c.fpaa.heads.count, axis=0))
        with warnings.catch_warnings():         # a saturated candidate scores constant: rho = nan
            warnings.simplefilter("ignore")
            rho = spearmanr(model.reference_outputs(codes).mean(axis=1), target[pick]).statistic
        best = max(best, (float(np.nan_to_num(rho, nan=-1.0)), shift))
    return best[1]


@dataclass
class FittedScorer:
    """A calibrated scorer: its :class:`ScorerSpec`, the config it runs under, and the calibration codes θ is
    trimmed on (so θ can be re-trimmed for another keep ratio without refitting)."""
    spec: ScorerSpec
    cfg: AtisConfig
    reference_codes: np.ndarray

    @property
    def projection(self) -> ProjectionSpec:
        return ProjectionSpec(self.spec.matrix, self.spec.shift, self.spec.dac_bits, 1,
                              accumulator_bits(self.spec.matrix))

    def codes(self, hidden: np.ndarray) -> np.ndarray:
        """DAC codes ``[n, m]`` of float hidden states ``[n, d]``: int8 front end, then the golden projection."""
        return projection_codes(self.spec.frontend(hidden), self.projection)

    def model(self, keep: float | None = None, temperature_offset_C: float = 0.0,
              retrim: bool = False) -> FpaaModel:
        """A fresh FPAA model of this scorer, θ trimmed on the calibration tokens for ``keep`` (default: the
        spec's; that trim is the spec's ``theta_V``). ``temperature_offset_C`` heats it after the trim;
        ``retrim`` then re-trims θ on the calibration tokens (seed §5.3)."""
        c = with_overrides(self.cfg, {"fpaa": {"comparator": {"threshold": "target",
                                                              "keep_target": keep or self.spec.keep}}})
        model = FpaaModel(c, prototypes=self.spec.prototypes, reference_codes=self.reference_codes)
        model.temperature_C += temperature_offset_C
        if retrim:
            model.recalibrate("threshold")
        return model

    def score(self, hidden, keep: float | None = None, model: FpaaModel | None = None) -> list[ScoreResult]:
        """Each sequence of ``hidden`` (float ``[n, d]``, or a list of them) through the FPAA model from the
        power-on state: the analog score (V) and the comparator's keep bits against the global θ."""
        xs, _ = _sequences(hidden, None)
        for i, x in enumerate(xs):
            if x.shape[1] != self.spec.d:
                raise CalibrationError(f"hidden[{i}]: d = {x.shape[1]}, the scorer was fitted for d = {self.spec.d}")
        model = model or self.model(keep)
        return model.score_sequences([self.codes(x) for x in xs])

    def keep_masks(self, hidden, keep: float | None = None) -> list[np.ndarray]:
        """The comparator's keep bits per sequence (global θ: the kept count varies per sequence)."""
        return [r.keep for r in self.score(hidden, keep)]


def calibrate(hidden: Sequence[np.ndarray], received: Sequence[np.ndarray], *, m: int = 64, dac_bits: int = 6,
              projection: str = "jl", keep: float = 0.3, wk: np.ndarray | None = None,
              mean_query: np.ndarray | None = None, matrix: np.ndarray | None = None, cfg: AtisConfig | None = None,
              seed: int = 1) -> FittedScorer:
    """Fit a scorer (see the module docstring). ``cfg`` supplies the analog side (DAC, OTA, TIA, comparator;
    default: the built-in defaults); ``projection`` is ``jl``, ``fold`` (needs ``wk`` and ``mean_query``) or
    ``learned``; ``matrix``: your own int8 projection ``P[m, d]`` instead (``m`` is then its row count).
    Bad shapes, NaN and empty inputs raise :class:`CalibrationError` naming the argument."""
    xs, rs = _sequences(hidden, received)
    if projection not in KINDS:
        raise CalibrationError(f"projection = {projection!r}: must be one of {', '.join(KINDS)}")
    if projection == "fold" and (wk is None or mean_query is None):
        raise CalibrationError("projection = 'fold' needs wk [d_k, d] and mean_query [d_k]")
    d = xs[0].shape[1]
    if matrix is not None:
        matrix = np.asarray(matrix)
        if (matrix.ndim != 2 or matrix.shape[1] != d or matrix.dtype.kind not in "iu" or matrix.size == 0
                or matrix.min() < -128 or matrix.max() > 127):
            raise CalibrationError(f"matrix: must be int8-valued integers [m, d = {d}], not {matrix.dtype} "
                                   f"{list(matrix.shape)}")
        m = matrix.shape[0]
    if not 1 <= m <= d:
        raise CalibrationError(f"m = {m}: must be in 1..d ({d})")
    if not 0.0 < keep <= 1.0:
        raise CalibrationError(f"keep = {keep}: must be in (0, 1]")
    frontend = Int8Frontend.fit(np.concatenate(xs))
    tokens = [frontend(x) for x in xs]
    flat = np.concatenate(tokens)
    if matrix is None:
        matrix = _matrix(projection, tokens, rs, m, seed, wk, mean_query)
    matrix = matrix.astype(np.int64)
    base = cfg if cfg is not None else AtisConfig()
    # Only the analog side of ``cfg`` is used: its transformer weights (another model's width) are not.
    base = with_overrides(base, {"model": {"d_model": d, "seq_len": min(max(len(x) for x in xs), 4096)},
                                 "transformer": {"weights": None},
                                 "projection": {"kind": "jl", "m": m, "dac_bits": dac_bits, "lanes": 1,
                                                "weights": None},
                                 "fpaa": {"heads": {"count": 1, "groups": 1, "consensus_k": 1},
                                          "prototype": {"source": "random", "ema_tau_tokens": 0.0}},
                                 "scorer": {"spec": None}})
    target = _rank_target(rs)
    shift = search_shift(base, ProjectionSpec(matrix, 0, dac_bits, 1, accumulator_bits(matrix)), flat, target)
    proj = ProjectionSpec(matrix, shift, dac_bits, 1, accumulator_bits(matrix))
    codes = projection_codes(flat, proj)
    q = centered_prototype(codes - (1 << (dac_bits - 1)), target)
    c = with_overrides(base, {"projection": {"shift": shift},
                              "fpaa": {"comparator": {"threshold": "target", "keep_target": keep}}})
    theta = float(FpaaModel(c, prototypes=q, reference_codes=codes).comparators.theta[0])
    spec = ScorerSpec(projection, matrix, shift, dac_bits, q, frontend.exponent, theta, keep)
    run = with_overrides(c, {"fpaa": {"comparator": {"threshold": "fixed", "theta_V": theta}}})
    return FittedScorer(spec, run, codes)
