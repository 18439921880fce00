"""Issue 18: does a multi-bit readout + top-k give a keep budget one can rely on, and what does it cost?

    python benchmarks/keep_budget.py [--config YAML] [--keep 0.3] [--text N] [--calibration N] [--sizes]

Per mode at one keep ratio, on the digits test set (539 images of 64 tokens, default config: d = 64, 6-bit DACs,
AD5628): the realized kept fraction per image (5th / 50th / 95th percentile, max), the attention cost relative to
the budget ((kept / k)², mean and 95th percentile), recall@k against the oracle (the true layer-1 attention
received, top k = round(keep·64)), the test accuracy (drop semantics), comparator decisions and θ DAC writes per
token, scoring cycles per token on the AD5628 (m + writes frames), pJ per token (``atis energy`` + the θ
conversions), and the share of SAR decisions whose overdrive is under 5 mV (where the SPICE comparator needs more
than the 50 ns ``compare_wait_ns``: 33 ns at 5 mV, 72 ns at 2 mV). With ``--text N`` (needs the ``real`` extra)
the same spread and recall on N held-out docstrings through all-MiniLM-L6-v2 layer 2 (``atis.validate``'s data).
With ``--sizes``: the area of the selector (``hdl/topk.py``) and the SAR controller (``hdl/readout.py``) alone,
Yosys ``synth_ice40``/``synth_ecp5`` + ``stat`` (as ``benchmarks/block_sizes.py``), at the iCEBreaker (n = 64) and
default (n = 128) sequence lengths. Markdown tables, then one JSON line.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from atis.analog_models.readout_cost import readout_cost
from atis.config import load_config
from atis.digits import PIXELS
from atis.golden.selection import SelectionSpec, budget, select
from atis.golden.transformer import forward_int
from atis.sweep import sweep_data
from atis.sweep_budget import budget_run

SAR_BITS = (2, 3, 4, 5, 6)
SLOW_MV = 5.0


def _oracle(att: np.ndarray, k: int) -> np.ndarray:
    order = np.argsort(-att, axis=1, kind="stable")
    out = np.zeros(att.shape, dtype=bool)
    np.put_along_axis(out, order[:, :k], True, axis=1)
    return out


def _accuracy(data, masks: np.ndarray) -> float:
    pred = [int(forward_int(x, k, data.weights, "drop").argmax()) for x, k in zip(data.test_tokens, masks)]
    return float(np.mean(np.array(pred) == data.split.y_test))


def _spread(masks: np.ndarray, k: int, best: np.ndarray) -> dict:
    kept = masks.sum(axis=1)
    frac = kept / masks.shape[1]
    cost = (kept / k) ** 2
    return {"kept_p5": float(np.quantile(frac, 0.05)), "kept_p50": float(np.quantile(frac, 0.5)),
            "kept_p95": float(np.quantile(frac, 0.95)), "kept_max": float(frac.max()),
            "cost_mean": float(cost.mean()), "cost_p95": float(np.quantile(cost, 0.95)),
            "exact_k": float(np.mean(kept == k)), "recall": float(np.mean((masks & best).sum(axis=1) / k))}


def digits(cfg, keep: float) -> list[dict]:
    data = sweep_data(cfg)
    k = budget(keep, PIXELS)
    best = _oracle(data.test_att, k)
    rows = []

    def add(name, masks, cost, slow=None, accuracy=True):
        row = {"mode": name, **_spread(masks, k, best), **cost}
        row["accuracy"] = _accuracy(data, masks) if accuracy else None
        row["slow_decisions"] = slow
        rows.append(row)

    comparator = readout_cost(cfg, "comparator", 1)
    add("oracle top-k (needs the attention)", best, {}, accuracy=True)
    base = budget_run(data, cfg, keep, None, "threshold")
    add("global θ (comparator)", base.masks, comparator)
    add("comparator bit + top-k (b = 1)", budget_run(data, cfg, keep, None, "topk").masks, comparator)
    spec = SelectionSpec("topk", PIXELS, 16, keep)
    ideal = np.array([select(np.argsort(np.argsort(s)), spec) for s in base.scores])   # rank = an exact code
    add("analog score + top-k (ideal readout)", ideal, {})
    for b in SAR_BITS:
        run = budget_run(data, cfg, keep, b, "topk")
        slow = float(np.mean(np.array(run.readout.margins_V) < SLOW_MV * 1e-3))
        add(f"SAR b = {b} + top-k", run.masks, readout_cost(cfg, "sar", b), slow)
        if b == 4:
            codes = run.codes.reshape(-1)
            thr = budget_run(data, cfg, keep, 4, "threshold")
            add("SAR b = 4 + threshold (MSB = θ)", thr.masks, readout_cost(cfg, "sar", 4))
            add("SAR b = 4 + cap (2/3..4/3 of k)", budget_run(data, cfg, keep, 4, "cap").masks,
                readout_cost(cfg, "sar", 4))
            coarse = np.where(np.isin(run.codes >> 2, (1, 2)), run.codes, run.codes & ~3)
            add("coarse 2 b + refine near θ, + top-k", np.array([select(c, spec) for c in coarse]),
                readout_cost(cfg, "coarse", 4, codes))
            add("single-slope ramp b = 4 + top-k (same codes)", run.masks, readout_cost(cfg, "ramp", 4, codes),
                accuracy=False)
    return rows


def text(cfg, keep: float, limit: int, calibration: int, bits=(4,)) -> list[dict]:
    """Held-out docstrings through all-MiniLM-L6-v2, layer 2: the fpaa-learned scorer of ``atis validate``."""
    import dataclasses

    from atis.analog_models.readout import SarReadout
    from atis.calibrate import calibrate
    from atis.config import with_overrides
    from atis.golden.readout import resolve_readout
    from atis.validate import PRUNE_LAYER, _encoded
    model, _, cal, ev = _encoded(limit, calibration)
    layer = PRUNE_LAYER
    scorer = calibrate([e.hidden[layer] for e in cal], [e.received[layer] for e in cal], m=64, dac_bits=6,
                       projection="learned", keep=keep, cfg=cfg)
    hs, truth = [e.hidden[layer] for e in ev], [e.received[layer] for e in ev]

    def rows_of(name, masks):
        kept = np.array([m.mean() for m in masks])
        rec = [(m & _top(t, keep)).sum() / budget(keep, len(t)) for m, t in zip(masks, truth)]
        return {"mode": name, "kept_p5": float(np.quantile(kept, 0.05)), "kept_p50": float(np.median(kept)),
                "kept_p95": float(np.quantile(kept, 0.95)), "kept_max": float(kept.max()),
                "recall": float(np.mean(rec))}

    out = []
    results = scorer.score(hs)
    out.append(rows_of("global θ (comparator)", [r.keep for r in results]))
    out.append(rows_of("analog score + top-k (ideal readout)", [_top(r.score, keep) for r in results]))
    for b in bits:
        c = with_overrides(scorer.cfg, {"fpaa": {"readout": {"mode": "sar", "bits": b}}})
        sar = dataclasses.replace(scorer, cfg=c)
        fpaa = sar.model(keep)
        readout = SarReadout(fpaa, resolve_readout(c))
        codes = []
        for r in sar.score(hs, model=fpaa):
            readout.reset()
            codes.append(readout.codes(r.score))
        for mode in ("topk", "cap"):
            masks = [select(cd, SelectionSpec(mode, len(cd), b, keep, 2 / 3 * keep, 4 / 3 * keep)) for cd in codes]
            out.append(rows_of(f"SAR b = {b} + {mode}", masks))
    return out


def _top(scores: np.ndarray, keep: float) -> np.ndarray:
    return select(np.argsort(np.argsort(scores, kind="stable"), kind="stable"), SelectionSpec("topk", len(scores),
                                                                                                 16, keep))


def sizes() -> list[dict]:
    """LUT/FF/BRAM of the selector and the SAR controller alone, per family, from Yosys."""
    import tempfile

    from amaranth.back import verilog

    from atis.boards.utilization import block_utilization
    from atis.golden.readout import ReadoutSpec
    from atis.hdl.readout import SarReadout
    from atis.hdl.topk import TopKSelector
    blocks = {f"topk n={n} b={b}": TopKSelector(SelectionSpec(mode, n, b, 0.3, 0.2, 0.4))
              for n, b, mode in ((64, 4, "topk"), (128, 4, "topk"), (128, 6, "cap"))}
    blocks["sar b=4"] = SarReadout(ReadoutSpec("sar", 4, "ad5628", 7, 12, 50, 5, 10.0))
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, dut) in enumerate(blocks.items()):
            path = Path(tmp) / f"atis_b{i}.v"
            path.write_text(verilog.convert(dut, name=f"atis_b{i}", emit_src=False))
            for family in ("ice40", "ecp5"):
                (top,) = [a for a in block_utilization(path, f"atis_b{i}", family, Path(tmp) / family)
                          if "." not in a.path]
                out.append({"block": name, "family": family, **top.total})
    return out


def _table(rows: list[dict], cols: list[tuple[str, str, str]]) -> str:
    lines = ["| " + " | ".join(h for h, _, _ in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        cells = []
        for _, key, fmt in cols:
            v = r.get(key)
            cells.append("–" if v is None else (fmt.format(v) if fmt else str(v)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None, help="config YAML (default: configs/default.yaml)")
    parser.add_argument("--keep", type=float, default=0.3, help="keep ratio (default: %(default)s)")
    parser.add_argument("--text", type=int, default=0, metavar="N", help="also N MiniLM held-out texts (0: no)")
    parser.add_argument("--calibration", type=int, default=128, metavar="N", help="MiniLM calibration texts")
    parser.add_argument("--sizes", action="store_true", help="also synthesize the selector and SAR controller")
    args = parser.parse_args()
    cfg = load_config(args.config)
    started = time.monotonic()
    rows = digits(cfg, args.keep)
    print(f"## Digits test set, keep {args.keep:g} (k = {budget(args.keep, PIXELS)} of {PIXELS})\n")
    print(_table(rows, [("mode", "mode", ""), ("kept p5", "kept_p5", "{:.3f}"), ("p50", "kept_p50", "{:.3f}"),
                        ("p95", "kept_p95", "{:.3f}"), ("max", "kept_max", "{:.3f}"),
                        ("(kept/k)² mean", "cost_mean", "{:.2f}"), ("p95", "cost_p95", "{:.2f}"),
                        ("recall@k", "recall", "{:.3f}"), ("accuracy", "accuracy", "{:.4f}"),
                        ("decisions/token", "decisions", "{:.2f}"), ("θ writes/token", "theta_writes", "{:.2f}"),
                        ("cycles/token (AD5628)", "cycles_ad5628", "{:,.0f}"), ("pJ/token", "pJ", "{:.1f}"),
                        ("decisions < 5 mV", "slow_decisions", "{:.3f}")]))
    result = {"keep": args.keep, "digits": rows, "wall_s_digits": round(time.monotonic() - started, 1)}
    if args.text:
        began = time.monotonic()
        result["text"] = text(cfg, args.keep, args.text, args.calibration)
        result["wall_s_text"] = round(time.monotonic() - began, 1)
        print(f"\n## all-MiniLM-L6-v2 layer 2, {args.text} held-out docstrings, keep {args.keep:g}\n")
        print(_table(result["text"], [("mode", "mode", ""), ("kept p5", "kept_p5", "{:.3f}"),
                                      ("p50", "kept_p50", "{:.3f}"), ("p95", "kept_p95", "{:.3f}"),
                                      ("max", "kept_max", "{:.3f}"), ("recall@k", "recall", "{:.3f}")]))
    if args.sizes:
        result["sizes"] = sizes()
        keys = list(dict.fromkeys(k for r in result["sizes"] for k in r if k not in ("block", "family")))
        print("\n## Area of the blocks alone (Yosys)\n")
        print(_table(result["sizes"], [("block", "block", ""), ("family", "family", "")] +
                     [(k, k, "{:,}") for k in keys]))
    print()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
