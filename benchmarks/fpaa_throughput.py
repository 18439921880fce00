"""Speed of the vectorized FPAA model next to a bare numpy matmul of the same size, in the same run.

    python benchmarks/fpaa_throughput.py [--config YAML] [--n 1000000] [--repeat 3]

Tokens: Gaussian, quantized to the config's DAC width. The model runs the whole chain (DAC table + settling, OTA
tanh with mismatch, noise, TIA, comparators, consensus) for each threshold mode; the baseline is
``x[N, m] @ q[m]`` in float64. Best of ``--repeat`` wall times; prints a Markdown table, then one JSON line.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from atis.analog_models import FpaaModel
from atis.analog_models.fidelity import gaussian_codes
from atis.config import load_config, with_overrides


def best_of(repeat: int, run) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None, help="config YAML (default: configs/default.yaml)")
    parser.add_argument("--n", type=int, default=1_000_000, help="tokens per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best is reported)")
    args = parser.parse_args()
    base = load_config(args.config)
    m, bits = base.projection.m, base.projection.dac_bits
    x = np.random.default_rng(0).standard_normal((args.n, m))
    codes = gaussian_codes(x, bits).astype(np.uint8 if bits <= 8 else np.int64)
    refs = codes[:5000]
    q = np.random.default_rng(1).standard_normal(m)
    matmul_s = best_of(args.repeat, lambda: x @ q)
    rows = []
    for mode in ("fixed", "target", "adaptive"):
        cfg = with_overrides(base, {"fpaa": {"comparator": {"threshold": mode}}})
        model_s = best_of(args.repeat, lambda cfg=cfg: FpaaModel(cfg, reference_codes=refs).score(codes))
        rows.append({"threshold": mode, "model_s": round(model_s, 3), "tokens_per_s": round(args.n / model_s),
                     "matmul_s": round(matmul_s, 4), "ratio_model_over_matmul": round(model_s / matmul_s, 1)})
    print(f"FPAA model, m = {m}, {bits}-bit DAC, N = {args.n:,} tokens (best of {args.repeat})\n")
    print("| θ mode | model s | tokens/s | matmul s | model / matmul |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['threshold']} | {r['model_s']} | {r['tokens_per_s']:,} | {r['matmul_s']} | "
              f"{r['ratio_model_over_matmul']} |")
    print(json.dumps({"benchmark": "fpaa_throughput", "m": m, "n": args.n, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
