"""Phase 1 on a real pre-trained transformer (seed §2.3, §7): how well does each scorer rank real attention?

Ground truth per layer: the attention each token receives (Σ over queries, mean over heads) in all-MiniLM-L6-v2
on held-out docstrings (:mod:`atis.corpus`). Every scorer ranks a sequence's tokens; at keep ratio r it keeps its
top ``k = round(r·n)``. Metrics per scorer × keep, mean over sequences and layers (and per layer):

* ``mass``: the share of attention the kept tokens receive; ``gain``: (mass − random) / (oracle − random);
* ``recall``: |kept ∩ oracle top-k| / k; ``spearman``: rank correlation of the scores with the ground truth;
* end to end, pruning before layer ``PRUNE_LAYER`` with that layer's scorer: cosine of the pruned vs the unpruned
  sentence embedding (``cos_mean``, ``cos_p5``: the mean hides failures) and ``retrieval``, the overlap of the 5
  nearest neighbours among the evaluation texts with and without pruning.

Scorers: ``oracle``, ``random``, ``key-norm`` (‖W_K·h + b‖), ``pagerank`` (Zero-TPrune-like weighted PageRank of
the attention graph: it needs the attention, so it is the strong digital reference, not a pre-filter),
``linear-d`` (float, the listwise ranking direction on the full hidden state: no projection, no circuit), and the
hardware-faithful ``fpaa-*``: :func:`atis.calibrate.calibrate` fits on the calibration split, the golden int8
projection and the behavioral FPAA model (DAC settling and INL, OTA tanh and mismatch, noise, TIA) score. Ranking
uses the analog score S (what a multi-bit readout sees); the comparator's own keep bits against the global θ give
``mask_kept_p5/p50/p95`` (the per-sequence kept fraction) and ``mask_mass``. ``fpaa-learned-sar4-topk`` reads
the same scores out as 4-bit SAR codes and keeps the top k of each sequence (issue 18): a budget, not a θ.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from .analog_models.readout import SarReadout
from .calibrate import calibrate, ranking_direction
from .config import AtisConfig, with_overrides
from .corpus import docstring_corpus
from .golden.readout import resolve_readout
from .grid import run_grid

__all__ = ["run_validate", "KEEPS", "PRUNE_LAYER"]

KEEPS = (0.2, 0.3, 0.4)
SAR_BITS = 4          # the multi-bit readout's code bits (issue 18)
PRUNE_LAYER = 2
DRIFT_C = 10.0
NEIGHBOURS = 5


def _spread(texts: list[str], n: int) -> list[str]:
    """``n`` texts evenly spaced over the list (every package represented), in order."""
    if n >= len(texts):
        return list(texts)
    return [texts[i] for i in np.linspace(0, len(texts) - 1, n).round().astype(int)]


def _top(scores: np.ndarray, keep: float) -> np.ndarray:
    k = max(1, round(keep * len(scores)))
    mask = np.zeros(len(scores), dtype=bool)
    mask[np.argsort(-scores, kind="stable")[:k]] = True
    return mask


def _pagerank(graph: np.ndarray, steps: int = 30) -> np.ndarray:
    s = np.full(len(graph), 1.0 / len(graph))
    for _ in range(steps):
        s = graph.T @ s
    return s


def _rho(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.ptp(a) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


class _Layer:
    """Every scorer of one layer: scores (and keep bits, for the FPAA ones) of the evaluation sequences."""

    def __init__(self, model, layer: int, cal, ev, m: int, cfg: AtisConfig | None, bits: tuple[int, ...],
                 keeps: tuple[float, ...]):
        wk, bk, wq, bq = model.key_query(layer)
        cal_h = [e.hidden[layer].astype(np.float64) for e in cal]
        cal_r = [e.received[layer] for e in cal]
        hs = [e.hidden[layer].astype(np.float64) for e in ev]
        self.truth = [e.received[layer] for e in ev]
        rng = np.random.default_rng(layer)
        self.scores: dict[str, list[np.ndarray]] = {
            "oracle": self.truth, "random": [rng.random(len(h)) for h in hs],
            "key-norm": [np.linalg.norm(h @ wk.T + bk, axis=1) for h in hs],
            "pagerank": [_pagerank(e.graph[layer].astype(np.float64)) for e in ev]}
        mu = np.concatenate(cal_h).mean(axis=0)
        w = ranking_direction([h - mu for h in cal_h], cal_r)
        self.scores["linear-d"] = [(h - mu) @ w for h in hs]
        self.masks: dict[str, dict[float, list[np.ndarray]]] = {}
        mean_query = (np.concatenate(cal_h) @ wq.T + bq).mean(axis=0)
        fits = {"fpaa-jl": dict(projection="jl"), "fpaa-fold": dict(projection="fold", wk=wk, mean_query=mean_query),
                "fpaa-learned": dict(projection="learned")}
        learned = None
        fits |= {f"fpaa-learned-{b}b": dict(projection="learned", dac_bits=b) for b in bits}
        for name, kw in fits.items():
            if learned is not None and kw["projection"] == "learned":
                kw = kw | {"matrix": learned}        # the bit variants share the learned projection
            scorer = calibrate(cal_h, cal_r, m=m, cfg=cfg, keep=keeps[0], **kw)
            if name == "fpaa-learned":
                learned = scorer.spec.matrix
            self._fpaa(name, scorer, hs, keeps, scorer.model)
            if name == "fpaa-learned":
                self._sar_topk(f"{name}-sar{SAR_BITS}-topk", scorer, hs, keeps)
                for sign, label in ((1, "+"), (-1, "-")):
                    for retrim in (False, True):
                        tag = f"{name}{label}{DRIFT_C:g}C" + ("-trimmed" if retrim else "")
                        self._fpaa(tag, scorer, hs, keeps, lambda keep, f=scorer, s=sign, r=retrim: f.model(
                            keep, temperature_offset_C=s * DRIFT_C, retrim=r))

    def _fpaa(self, name, scorer, hs, keeps, model_for):
        """Scores (θ-independent) and, per keep ratio, the keep bits of θ trimmed for it (at 27 °C)."""
        self.masks[name] = {}
        for keep in keeps:
            results = scorer.score(hs, model=model_for(keep))
            self.scores[name] = [r.score for r in results]
            self.masks[name][keep] = [r.keep for r in results]

    def _sar_topk(self, name, scorer, hs, keeps):
        """The scorer read out by a b-bit SAR (θ on the AD5628's last channel, range centred on the spec's θ):
        the codes are the scores (equal codes: the lower index first, as ``_top`` ranks them, the RTL's rule), and
        the top-k of them the kept set, exactly k = round(keep·n) per sequence (issue 18)."""
        cfg = with_overrides(scorer.cfg, {"fpaa": {"readout": {"mode": "sar", "bits": SAR_BITS}}})
        sar = dataclasses.replace(scorer, cfg=cfg)
        model = sar.model()
        readout = SarReadout(model, resolve_readout(cfg))
        codes = []
        for r in sar.score(hs, model=model):
            readout.reset()
            codes.append(readout.codes(r.score).astype(np.float64))
        self.scores[name] = codes
        self.masks[name] = {keep: [_top(c, keep) for c in codes] for keep in keeps}

    def metrics(self, name: str, keep: float) -> dict:
        """Means over the evaluation sequences, and ``recalls``: each sequence's recall@k (for the bootstrap)."""
        mass, recall = [], []
        for s, t in zip(self.scores[name], self.truth):
            kept, best = _top(s, keep), _top(t, keep)
            mass.append(t[kept].sum() / t.sum())
            recall.append((kept & best).sum() / best.sum())
        out = {"mass": float(np.mean(mass)), "recall": float(np.mean(recall)), "recalls": [float(r) for r in recall],
               "spearman": float(np.nanmean([_rho(s, t) for s, t in zip(self.scores[name], self.truth)]))}
        if name in self.masks:
            masks = self.masks[name][keep]
            out["mask_mass"] = float(np.mean([t[k].sum() / t.sum() for k, t in zip(masks, self.truth)]))
        return out


def _bootstrap(values: np.ndarray, draws: int = 1000) -> list[float]:
    """95 % interval of the mean over sequences (percentile bootstrap, seeded)."""
    pick = np.random.default_rng(0).integers(0, len(values), size=(draws, len(values)))
    return [float(q) for q in np.quantile(values[pick].mean(axis=1), (0.025, 0.975))]


def _end_to_end(model, ev, layer: _Layer, name: str, keep: float) -> dict:
    full = np.array([e.embedding for e in ev])
    pruned = model.pruned_embeddings(ev, [_top(s, keep) for s in layer.scores[name]], PRUNE_LAYER)
    cos = (full * pruned).sum(axis=1)
    out = {"cos_mean": float(cos.mean()), "cos_p5": float(np.quantile(cos, 0.05))}
    if len(ev) > NEIGHBOURS:
        def neighbours(x):
            sim = x @ full.T
            np.fill_diagonal(sim, -np.inf)
            return np.argsort(-sim, axis=1)[:, :NEIGHBOURS]
        a, b = neighbours(full), neighbours(pruned)
        out["retrieval"] = float(np.mean([len(set(x) & set(y)) / NEIGHBOURS for x, y in zip(a, b)]))
    return out


_ENCODED: dict[tuple[int, int], tuple] = {}
LAYERS = 6          # all-MiniLM-L6-v2


def _encoded(limit: int, calibration: int):
    """(model, corpus, calibration encodings, evaluation encodings), once per process (a dask worker's cells
    share them): deterministic, so every worker sees the same."""
    key = (limit, calibration)
    if key not in _ENCODED:
        from .minilm import load_minilm
        _ENCODED.clear()
        model, corpus = load_minilm(), docstring_corpus()
        cal = model.encode(_spread(corpus.calibration, calibration))
        ev = model.encode(_spread(corpus.evaluation, limit), graph=True)
        _ENCODED[key] = (model, corpus, cal, ev)
    return _ENCODED[key]


def validate_cell(cfg: AtisConfig, cell: list) -> dict:
    """One layer: every scorer's metrics per keep ratio, with the per-sequence recall and comparator kept
    fraction (for the pooled statistics) and, on ``PRUNE_LAYER``, the end-to-end figures. JSON only (cached)."""
    from threadpoolctl import threadpool_limits
    layer, limit, calibration, m, bits, keeps = cell
    with threadpool_limits(1):      # numpy's BLAS threads spin against torch's: 2-3x slower with both at 2
        model, corpus, cal, ev = _encoded(limit, calibration)
        lay = _Layer(model, layer, cal, ev, m, cfg, tuple(bits), tuple(keeps))
        out = {}
        for name in lay.scores:
            for keep in keeps:
                r = lay.metrics(name, keep)
                if name in lay.masks:
                    r["kept"] = [float(k.mean()) for k in lay.masks[name][keep]]
                if layer == PRUNE_LAYER:
                    r["end_to_end"] = _end_to_end(model, ev, lay, name, keep)
                out[f"{name}|{keep}"] = r
    return {"scorers": list(lay.scores), "metrics": out, "corpus": corpus.summary(),
            "evaluation_texts": len(ev), "calibration_texts": len(cal),
            "tokens_mean": float(np.mean([len(e.received[0]) for e in ev]))}


def run_validate(limit: int = 256, calibration: int = 512, keeps=KEEPS, m: int = 64, bits=(8, 4, 3),
                 cfg: AtisConfig | None = None, progress: Callable[[str], None] | None = None,
                 scheduler: str = "serial", cache_dir: Path | None = None) -> dict:
    """All rows (module docstring) for ``limit`` evaluation and ``calibration`` calibration texts; one grid cell
    per layer (``scheduler``, ``cache_dir``: see :func:`atis.grid.run_grid`)."""
    step = progress or (lambda what: None)
    cfg = cfg or AtisConfig()
    cells = [[layer, limit, calibration, m, list(bits), list(keeps)] for layer in range(LAYERS)]
    finished = iter(range(1, LAYERS + 1))
    layers, computed = run_grid(validate_cell, cfg, cells, scheduler=scheduler, cache_dir=cache_dir,
                                progress=lambda cell, cached: step(f"{next(finished)}/{LAYERS} layers "
                                                                   f"(layer {cell[0]}{', cached' if cached else ''})"))
    rows = []
    for name in layers[0]["scorers"]:
        for keep in keeps:
            per_layer = [lay["metrics"][f"{name}|{keep}"] for lay in layers]
            row = {"scorer": name, "keep": keep}
            row |= {k: float(np.mean([p[k] for p in per_layer])) for k in ("mass", "recall", "spearman",
                                                                            "mask_mass") if k in per_layer[0]}
            if "kept" in per_layer[0]:
                kept = np.concatenate([p["kept"] for p in per_layer])
                row |= {f"mask_kept_p{q}": float(np.quantile(kept, q / 100)) for q in (5, 50, 95)}
            row["recall_ci95"] = _bootstrap(np.mean([p["recalls"] for p in per_layer], axis=0))
            row |= per_layer[PRUNE_LAYER]["end_to_end"]
            row["per_layer"] = [{k: p[k] for k in ("mass", "recall", "spearman", "mask_mass") if k in p}
                                for p in per_layer]
            rows.append(row)
    by = {(r["scorer"], r["keep"]): r for r in rows}
    for r in rows:
        rand, best = by[("random", r["keep"])]["mass"], by[("oracle", r["keep"])]["mass"]
        r["gain"] = (r["mass"] - rand) / (best - rand) if best > rand else float("nan")
    first = layers[0]
    return {"model": "all-MiniLM-L6-v2", "corpus": first["corpus"], "evaluation_texts": first["evaluation_texts"],
            "calibration_texts": first["calibration_texts"], "tokens_mean": first["tokens_mean"], "m": m,
            "prune_layer": PRUNE_LAYER, "keeps": list(keeps), "rows": rows, "computed_cells": computed,
            "cells": LAYERS}
