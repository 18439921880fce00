"""Speed of the vectorized FPAA model next to a bare numpy matmul of the same size, in the same run.

    python benchmarks/fpaa_throughput.py [--config YAML] [--n 1000000] [--repeat 3] [--m 16 64] [--direct-n 200000]

Tokens: Gaussian, quantized to the config's DAC width (uint8). The model runs the whole chain (DAC table + settling,
OTA tanh with mismatch, noise, TIA, comparators, consensus) for each threshold mode, timed from construction
(calibration and input tables included). "direct" is the same model with ``use_tables = False``: the settling
recurrence and a tanh per input, the path every score took before the input tables; it runs on the first
``--direct-n`` tokens, and its keep bits and scores are compared with the table path's on those tokens. "lookup"
is the table lookup alone (index arithmetic + gather of every input's tanh output, nothing else): the floor of the
table path in numpy. The baseline is ``x[N, m] @ q[m]`` in float64. Best of ``--repeat`` wall times (and, apart, of
this process's CPU times: on a shared machine the wall figure includes waiting for a core; the 1-minute load
average is printed); prints a Markdown table, then one JSON line. Goal (issue 17): >= 5 M tokens/s at m = 64,
<= 15x the matmul.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from atis.analog_models import FpaaModel
from atis.analog_models.fidelity import gaussian_codes
from atis.config import load_config, with_overrides

GOAL_TOKENS_PER_S, GOAL_RATIO = 5e6, 15.0


def best_of(repeat: int, run) -> tuple[float, float, object]:
    """(best wall s, best CPU s of this process, the last result)."""
    wall, cpu, result = [], [], None
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = run()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return min(wall), min(cpu), result


def measure(base, m: int, n: int, direct_n: int, repeat: int) -> list[dict]:
    cfg_m = with_overrides(base, {"projection": {"m": m}})
    bits = cfg_m.projection.dac_bits
    x = np.random.default_rng(0).standard_normal((n, m))
    codes = gaussian_codes(x, bits).astype(np.uint8 if bits <= 8 else np.int64)
    refs, q = codes[:5000], np.random.default_rng(1).standard_normal(m)
    matmul_s, _, _ = best_of(repeat, lambda: x @ q)
    table_model = FpaaModel(with_overrides(cfg_m, {"fpaa": {"comparator": {"threshold": "fixed"}}}))
    table = table_model._input_table(codes)
    lookup_s, _, _ = best_of(repeat, lambda: [None for _ in table.inputs(codes, codes[0], list(table.tables))])
    rows = []
    for mode in ("fixed", "target", "adaptive"):
        cfg = with_overrides(cfg_m, {"fpaa": {"comparator": {"threshold": mode}}})

        def run(tables: bool, tokens: np.ndarray, cfg=cfg):
            model = FpaaModel(cfg, reference_codes=refs)
            model.use_tables = tables
            return model.score(tokens)

        model_s, model_cpu_s, fast = best_of(repeat, lambda: run(True, codes))
        direct_s, _, slow = best_of(repeat, lambda: run(False, codes[:direct_n]))
        k = len(slow.keep)
        rows.append({"m": m, "threshold": mode, "model_s": round(model_s, 4), "tokens_per_s": round(n / model_s),
                     "cpu_tokens_per_s": round(n / model_cpu_s), "lookup_tokens_per_s": round(n / lookup_s),
                     "direct_tokens_per_s": round(k / direct_s), "speedup": round(n / model_s * direct_s / k, 1),
                     "matmul_s": round(matmul_s, 4), "matmul_tokens_per_s": round(n / matmul_s),
                     "ratio_model_over_matmul": round(model_s / matmul_s, 1),
                     "keep_identical": bool(np.array_equal(fast.keep[:k], slow.keep)),
                     "max_score_diff_V": float(np.max(np.abs(fast.score[:k] - slow.score)))})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None, help="config YAML (default: configs/default.yaml)")
    parser.add_argument("--n", type=int, default=1_000_000, help="tokens per run (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement, best reported (default: 3)")
    parser.add_argument("--m", type=int, nargs="+", default=[16, 64], help="OTA inputs m (default: 16 64)")
    parser.add_argument("--direct-n", type=int, default=200_000,
                        help="tokens for the direct (pre-table) path (default: %(default)s)")
    args = parser.parse_args()
    base = load_config(args.config)
    load_before = os.getloadavg()[0]
    rows = [r for m in args.m for r in measure(base, m, args.n, min(args.direct_n, args.n), args.repeat)]
    load = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    print(f"FPAA model, {base.projection.dac_bits}-bit DAC, N = {args.n:,} tokens (direct path: "
          f"{min(args.direct_n, args.n):,}), best of {args.repeat}; load average {load[0]} -> {load[1]} "
          f"on {os.cpu_count()} CPUs\n")
    print("| m | θ mode | tokens/s | CPU tokens/s | lookup tokens/s | direct tokens/s | speedup | matmul tokens/s "
          "| model / matmul | keep bits = direct | max score diff (V) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for r in rows:
        print(f"| {r['m']} | {r['threshold']} | {r['tokens_per_s']:,} | {r['cpu_tokens_per_s']:,} | "
              f"{r['lookup_tokens_per_s']:,} | {r['direct_tokens_per_s']:,} | "
              f"{r['speedup']}x | {r['matmul_tokens_per_s']:,} | {r['ratio_model_over_matmul']}x | "
              f"{'yes' if r['keep_identical'] else 'NO'} | {r['max_score_diff_V']:.1e} |")
    mode = base.fpaa.comparator.threshold
    summary = {f"m{r['m']}": {k: r[k] for k in ("tokens_per_s", "cpu_tokens_per_s", "lookup_tokens_per_s",
                                                "matmul_tokens_per_s", "ratio_model_over_matmul",
                                                "direct_tokens_per_s", "speedup")}
               for r in rows if r["threshold"] == mode}
    goal = summary.get("m64")
    met = None if goal is None else bool(goal["tokens_per_s"] >= GOAL_TOKENS_PER_S
                                         and goal["ratio_model_over_matmul"] <= GOAL_RATIO)
    print(f"\nθ mode {mode} (the config's): " + ", ".join(
        f"m = {k[1:]}: {v['tokens_per_s'] / 1e6:.2f} M tokens/s, {v['ratio_model_over_matmul']}x the matmul"
        for k, v in summary.items()) + (f"; goal (>= 5 M tokens/s, <= 15x at m = 64) met: {met}" if goal else ""))
    print(json.dumps({"benchmark": "fpaa_throughput", "n": args.n, "repeat": args.repeat, "load_average": load,
                      "threshold": mode,
                      "summary": summary, "goal_met": met,
                      "keep_identical": all(r["keep_identical"] for r in rows), "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
