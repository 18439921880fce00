"""Accuracy × sparsity × precision on the digits: score, prune, classify (seed Phase 2), with energy per image.

Every scorer is fitted on the training split only, against the layer-1 attention received of the trained
int8 model (``attention_received``, seed §2.3), and judged on the test split through ``forward_int``:

* ``oracle``: the true attention received (needs the dense layer-1 attention: an upper bound, not a circuit);
  ``random``: a random ranking. Both keep the top ``round(keep·64)`` tokens of each image.
* ``digital``: the m-MAC digital scorer (``atis.golden.digital_scorer``) with the int8 least-squares prototype;
  ``fpaa-Nb``: the behavioral FPAA model with N-bit DACs, prototype = the same least-squares fit, θ trimmed on the
  training tokens (``threshold: target``); ``±10C`` after a temperature step, uncalibrated / θ re-trimmed on the
  training tokens; ``adaptive``: the adaptive θ. These threshold a score, so the kept count varies per image
  (``kept`` is the mean), as in hardware.
* ``sensor``: the FPAA fed the pixel's 3×3 neighbourhood straight from the sensor, no DAC (seed §5.4, §7).
* ``budget-*`` (issue 18, :mod:`atis.sweep_budget`): the ``fpaa`` scorer read out by its comparator
  (``budget-topk``) or a b-bit SAR (``budget-sarB-topk``), keeping exactly round(keep·64) tokens per image, or the
  threshold's tokens capped to 2/3..4/3 of that (``budget-sar4-cap``). ``kept_p5``/``kept_p95``: the spread of the
  kept fraction over the images.

Energy per image (model of ``analog_models.energy``): 64 tokens × the scorer's pJ/token, plus the attention of
every block over the kept tokens at 2·d MACs per element (k² with drop, 64·k with keymask); the oracle pays the
dense layer-1 attention it reads.
"""
from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from atis.analog_models import FpaaModel
from atis.analog_models.energy import energy_report
from atis.analog_models.readout_cost import readout_cost

from .calibrate import centered_prototype
from .config import AtisConfig, ConfigError, config_to_dict, with_overrides
from .digits import PIXELS, load_embedding, load_split
from .golden.digital_scorer import DigitalScorerSpec, digital_scores
from .golden.projection import projection_codes, resolve_projection
from .golden.transformer import attention_received, forward_int, load_weights
from .grid import run_grid
from .sweep_budget import budget_run

__all__ = ["KEEPS", "BITS", "SAR_BITS", "run_sweep", "sweep_data"]

KEEPS = (1.0, 0.6, 0.4, 0.3, 0.2)
BITS = (8, 6, 4, 3)
SAR_BITS = (2, 3, 4, 5, 6)      # issue 18: b-bit SAR readout + per-image top-k
DRIFT_C = 10.0


def _top_k(scores: np.ndarray, keep: float) -> np.ndarray:
    k = max(1, round(keep * scores.shape[1]))
    ranks = np.argsort(np.argsort(-scores, axis=1, kind="stable"), axis=1)
    return ranks < k


def _neighbourhoods(images: np.ndarray) -> np.ndarray:
    """[N·64, 9]: each pixel's 3×3 neighbourhood (zero padded), intensities 0..16."""
    img = np.pad(images.reshape(-1, 8, 8), ((0, 0), (1, 1), (1, 1)))
    return np.stack([img[:, 1 + dy:9 + dy, 1 + dx:9 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)],
                    axis=-1).reshape(-1, 9)


class _Data:
    """Tokens, DAC codes, attention targets of both splits for one config."""

    def __init__(self, cfg: AtisConfig):
        self.cfg, self.d = cfg, cfg.model.d_model
        if cfg.transformer.weights is None:
            raise ConfigError("transformer.weights: the sweep needs trained weights (atis train), not random ones")
        self.weights = load_weights(cfg.transformer, self.d)
        emb = load_embedding(cfg.transformer.weights, self.d)
        self.split = load_split()
        self.train_tokens, self.test_tokens = emb.tokens(self.split.x_train), emb.tokens(self.split.x_test)
        self.train_att = np.array([attention_received(x, self.weights) for x in self.train_tokens])
        self.test_att = np.array([attention_received(x, self.weights) for x in self.test_tokens])
        self._shifts: dict[int, int] = {}

    def calibrated(self, cfg: AtisConfig) -> AtisConfig:
        """``cfg`` with the projection shift fitted on the training tokens (``shift: auto`` assumes Gaussian
        tokens of σ = 32, which the embedding is not). Too small a shift drives the OTAs into tanh compression,
        too large wastes DAC codes: of the shifts from "99.5 % inside the DAC range" up to 6 more, the one whose
        settled FPAA scores (least-squares prototype) rank the training tokens' attention best (Spearman)."""
        key = cfg.projection.dac_bits
        if key not in self._shifts:
            z = np.abs(self.train_tokens.reshape(-1, self.d) @ resolve_projection(cfg).matrix.T)
            half = 1 << (cfg.projection.dac_bits - 1)
            low = max(0, int(np.ceil(np.log2(max(np.quantile(z, 0.995), 1.0) / half))))
            sample = np.random.default_rng(3).choice(z.shape[0], size=min(20000, z.shape[0]), replace=False)
            target = self.train_att.reshape(-1)[sample]
            best = (-2.0, low)
            for shift in range(low, min(low + 7, 32)):
                c = with_overrides(cfg, {"projection": {"shift": shift}})
                codes = self.codes(c, "train")[sample] - (1 << (c.projection.dac_bits - 1))
                q = centered_prototype(codes, target)
                model = FpaaModel(with_overrides(c, {"fpaa": {"comparator": {"threshold": "fixed"}}}),
                                  prototypes=np.repeat(q, c.fpaa.heads.count, axis=0))
                with warnings.catch_warnings():         # a saturated candidate scores constant: rho = nan
                    warnings.simplefilter("ignore")
                    rho = spearmanr(model.reference_outputs(codes + (1 << (c.projection.dac_bits - 1))).mean(axis=1),
                                    target).statistic
                best = max(best, (float(np.nan_to_num(rho, nan=-1.0)), shift))
            self._shifts[key] = best[1]
        return with_overrides(cfg, {"projection": {"shift": self._shifts[key]}})

    def codes(self, cfg: AtisConfig, which: str) -> np.ndarray:
        tokens = self.train_tokens if which == "train" else self.test_tokens
        return projection_codes(tokens.reshape(-1, self.d), resolve_projection(cfg))


def _fpaa_masks(data: _Data, cfg: AtisConfig, keep: float, *, drift: float = 0.0, trim: bool = False,
                adaptive: bool = False) -> np.ndarray:
    bits_cfg = with_overrides(data.calibrated(cfg), {"fpaa": {"comparator": {
        "keep_target": keep, "threshold": "adaptive" if adaptive else "target"}}})
    train_codes, test_codes = data.codes(bits_cfg, "train"), data.codes(bits_cfg, "test")
    mid = 1 << (bits_cfg.projection.dac_bits - 1)
    q = centered_prototype(train_codes - mid, data.train_att.reshape(-1))
    model = FpaaModel(bits_cfg, prototypes=np.repeat(q, bits_cfg.fpaa.heads.count, axis=0),
                      reference_codes=train_codes)
    model.temperature_C += drift
    if trim:
        model.recalibrate("threshold")
    return model.score(test_codes).keep.reshape(-1, PIXELS)


def _digital_masks(data: _Data, cfg: AtisConfig, keep: float) -> np.ndarray:
    cfg = data.calibrated(cfg)
    train_codes, test_codes = data.codes(cfg, "train"), data.codes(cfg, "test")
    mid = 1 << (cfg.projection.dac_bits - 1)
    q = centered_prototype(train_codes - mid, data.train_att.reshape(-1))[0]
    spec = DigitalScorerSpec(np.round(127 * q / np.abs(q).max()).astype(np.int64), 0, cfg.projection.dac_bits)
    threshold = int(np.floor(np.quantile(digital_scores(train_codes, spec), 1.0 - keep)))
    return (digital_scores(test_codes, spec) > threshold).reshape(-1, PIXELS)


def _sensor_masks(data: _Data, cfg: AtisConfig, keep: float) -> np.ndarray:
    """Pixel neighbourhoods as OTA input voltages (v_ref ± the DAC's swing), no projection, no DAC."""
    sensor_cfg = with_overrides(cfg, {"projection": {"m": 9, "lanes": 1}, "dac": {"n_channels": 8},
                             "fpaa": {"comparator": {"keep_target": keep, "threshold": "fixed"}}})
    dac = sensor_cfg.dac

    def volts(px):
        return dac.v_zero + (dac.v_full - dac.v_zero) * px / 16.0
    train_px, test_px = _neighbourhoods(data.split.x_train), _neighbourhoods(data.split.x_test)
    q = centered_prototype(train_px.astype(float), data.train_att.reshape(-1))
    model = FpaaModel(sensor_cfg, prototypes=np.repeat(q, sensor_cfg.fpaa.heads.count, axis=0))
    reference = model._tia(volts(train_px), model.weights, None)
    model.comparators.fit_quantile(reference, keep, sensor_cfg.fpaa.heads.consensus_k)
    return model._evaluate(volts(test_px)).keep.reshape(-1, PIXELS)


def _scorers(cfg: AtisConfig) -> dict[str, tuple[Callable, str, int | None]]:
    """name -> (mask maker(data, keep), energy key, DAC bits)."""
    bits = cfg.projection.dac_bits
    out: dict[str, tuple[Callable, str, int | None]] = {
        "oracle": (lambda data, keep: _top_k(data.test_att, keep), "oracle", None),
        "random": (lambda data, keep: _top_k(np.random.default_rng(7).random(data.test_att.shape), keep),
                   "random", None),
        "digital": (lambda data, keep: _digital_masks(data, cfg, keep), "digital scorer", bits),
    }
    for b in BITS:
        cb = with_overrides(cfg, {"projection": {"dac_bits": b}})
        out[f"fpaa-{b}b"] = (lambda data, keep, cb=cb: _fpaa_masks(data, cb, keep), "fpaa", b)
    for sign, label in ((1, "+"), (-1, "-")):
        for trim in (False, True):
            name = f"fpaa-{bits}b{label}{DRIFT_C:g}C" + ("-trimmed" if trim else "")
            out[name] = (lambda data, keep, s=sign, t=trim: _fpaa_masks(data, cfg, keep, drift=s * DRIFT_C, trim=t),
                         "fpaa", bits)
    out[f"fpaa-{bits}b-adaptive"] = (lambda data, keep: _fpaa_masks(data, cfg, keep, adaptive=True), "fpaa", bits)
    out["sensor"] = (lambda data, keep: _sensor_masks(data, cfg, keep), "sensor", None)
    # Keep budgets (atis.sweep_budget): the comparator's bit or a b-bit SAR code, selected per image.
    out["budget-topk"] = (lambda data, keep: budget_run(data, cfg, keep, None, "topk").masks, "fpaa", bits)
    for b in SAR_BITS:
        out[f"budget-sar{b}-topk"] = (lambda data, keep, b=b: budget_run(data, cfg, keep, b, "topk").masks,
                                      f"sar{b}", bits)
    out["budget-sar4-cap"] = (lambda data, keep: budget_run(data, cfg, keep, 4, "cap").masks, "sar4", bits)
    return out


def _scoring_pJ(cfg: AtisConfig, kind: str, bits: int | None) -> float:
    if kind in ("oracle", "random"):
        return 0.0
    if kind.startswith("sar"):                      # the scorer's DACs and core + the θ DAC's b conversions
        return readout_cost(with_overrides(cfg, {"projection": {"dac_bits": bits}}), "sar", int(kind[3:]))["pJ"]
    report = energy_report(with_overrides(cfg, {"projection": {"dac_bits": bits}}) if bits else cfg)
    key = {"digital scorer": "digital scorer", "sensor": "ATIS sensor mode (no DAC)"}.get(
        kind, f"ATIS, {cfg.projection.m} DACs x {bits} b")
    return sum(report.per_token[key].values())


def _energy_nJ(cfg: AtisConfig, kind: str, bits: int | None, kept: np.ndarray, mode: str) -> float:
    """Mean energy per image: scoring + attention of every block over the kept tokens."""
    element_pJ = 2 * cfg.model.d_model * cfg.energy.mac_pJ
    per_layer = kept ** 2 if mode == "drop" else PIXELS * kept
    attention = cfg.transformer.layers * per_layer.mean() * element_pJ
    scoring = PIXELS * _scoring_pJ(cfg, kind, bits)
    if kind == "oracle":
        scoring += PIXELS ** 2 * element_pJ
    return (scoring + attention) * 1e-3


def _accuracy(data: _Data, masks: np.ndarray, mode: str) -> float:
    w, y = data.weights, data.split.y_test
    pred = [int(forward_int(x, k, w, mode).argmax()) for x, k in zip(data.test_tokens, masks)]
    return float(np.mean(np.array(pred) == y))


_DATA: dict[str, _Data] = {}


def _data_for(cfg: AtisConfig) -> _Data:
    """One :class:`_Data` per config and process (a dask worker builds it once for all its cells)."""
    key = json.dumps(config_to_dict(cfg), sort_keys=True)
    if key not in _DATA:
        _DATA.clear()
        _DATA[key] = _Data(cfg)
    return _DATA[key]


def sweep_data(cfg: AtisConfig):
    """The digits data of ``cfg`` (tokens and layer-1 attention of both splits, the fitted projection shifts),
    built once per process; what :func:`atis.sweep_budget.budget_run` takes."""
    return _data_for(cfg)


def sweep_cell(cfg: AtisConfig, cell: list) -> dict:
    """One row of the sweep: ``cell = [keep, scorer]`` (``[1.0, "unpruned"]``: the unpruned reference, with the
    int8 and float accuracies and the split sizes)."""
    keep, name = cell
    data = _data_for(cfg)
    full = np.ones((len(data.test_tokens), PIXELS), dtype=bool)
    if name == "unpruned":
        from .golden.transformer import forward_float
        float_pred = [int(forward_float(x, k, data.weights, "drop").argmax()) for x, k in zip(data.test_tokens, full)]
        int8 = _accuracy(data, full, "drop")
        return {"scorer": name, "keep": 1.0, "kept_mean": float(PIXELS), "dac_bits": None,
                "accuracy_drop": int8, "accuracy_keymask": int8,
                **{f"energy_nJ_{mode}": _energy_nJ(cfg, "random", None, full.sum(axis=1), mode)
                   for mode in ("drop", "keymask")},
                "float_accuracy": float(np.mean(np.array(float_pred) == data.split.y_test)),
                "images_test": len(data.test_tokens), "images_train": len(data.train_tokens)}
    maker, kind, bits = _scorers(cfg)[name]
    masks = maker(data, keep)
    kept = masks.sum(axis=1)
    row = {"scorer": name, "keep": keep, "kept_mean": float(kept.mean()), "dac_bits": bits,
           **{f"kept_p{q}": float(np.quantile(kept, q / 100) / PIXELS) for q in (5, 95)}}
    for mode in ("drop", "keymask"):
        row[f"accuracy_{mode}"] = _accuracy(data, masks, mode)
        row[f"energy_nJ_{mode}"] = _energy_nJ(cfg, kind, bits, kept, mode)
    return row


def run_sweep(cfg: AtisConfig, keeps=KEEPS, scorers: list[str] | None = None,
              progress: Callable[[str], None] | None = None, scheduler: str = "serial",
              cache_dir: Path | None = None) -> dict:
    """All rows of the sweep (see the module docstring) plus the int8-vs-float reference accuracies.

    ``scheduler``: ``serial``, ``local`` (a dask LocalCluster) or a dask scheduler's address; the rows are the
    same either way. ``cache_dir``: reuse rows computed before for the same config, weights and code."""
    step = progress or (lambda _: None)
    table = _scorers(cfg)
    names = scorers or list(table)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"unknown scorer {unknown[0]!r} (known: {', '.join(table)})")
    if cfg.transformer.weights is None:
        raise ConfigError("transformer.weights: the sweep needs trained weights (atis train), not random ones")
    cells = [[1.0, "unpruned"]] + [[keep, name] for keep in keeps if keep != 1.0 for name in names]
    finished = iter(range(1, len(cells) + 1))
    rows, computed = run_grid(sweep_cell, cfg, cells, scheduler=scheduler, cache_dir=cache_dir,
                              progress=lambda cell, cached: step(f"{next(finished)}/{len(cells)} keep {cell[0]:g}: "
                                                                 f"{cell[1]}" + (" (cached)" if cached else "")))
    reference = rows[0]
    meta = {k: reference.pop(k) for k in ("float_accuracy", "images_test", "images_train")}
    body = ([reference] if 1.0 in keeps else []) + rows[1:]
    return {"images_test": meta["images_test"], "images_train": meta["images_train"],
            "int8_accuracy": reference["accuracy_drop"], "float_accuracy": meta["float_accuracy"],
            "d_model": cfg.model.d_model, "rows": body, "computed_cells": computed, "cells": len(cells),
            "config": dataclasses.asdict(cfg.transformer) | {"weights": str(cfg.transformer.weights)}}


def hardware_scorer(keep: float) -> Callable[[AtisConfig, Path], dict]:
    """The fixture of ``atis.cocotb_tests.runner.pipeline_bench``: :func:`fpaa_scorer_overrides` at ``keep``."""
    return lambda cfg, where: fpaa_scorer_overrides(cfg, keep, where)


def fpaa_scorer_overrides(cfg: AtisConfig, keep: float, where) -> dict:
    """Config overrides that put the sweep's FPAA scorer into hardware: the training-fitted projection shift, the
    least-squares prototype (written to ``where/prototype.npz``) and θ trimmed on the training tokens as a
    fixed threshold — so the RTL co-simulation, its FPAA BFM and ``expected_keep`` all use the same scorer."""
    data = _Data(cfg)
    c = data.calibrated(cfg)
    c = with_overrides(c, {"fpaa": {"comparator": {"keep_target": keep, "threshold": "target"}}})
    train_codes = data.codes(c, "train")
    q = centered_prototype(train_codes - (1 << (c.projection.dac_bits - 1)), data.train_att.reshape(-1))
    q = np.repeat(q, c.fpaa.heads.count, axis=0)
    model = FpaaModel(c, prototypes=q, reference_codes=train_codes)
    path = Path(where) / "prototype.npz"
    np.savez(path, q=q)
    return {"projection": {"shift": c.projection.shift},
            "fpaa": {"prototype": {"source": "file", "file": str(path)},
                     "comparator": {"threshold": "fixed", "theta_V": float(model.comparators.theta[0])}}}
