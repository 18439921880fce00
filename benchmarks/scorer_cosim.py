"""Scorer co-simulation figures: SPI utilization and simulated tokens/s per (m, n_dac), and the FPAA BFM's
co-simulation overhead (the same bench with a constant comparator instead of the model).

    python benchmarks/scorer_cosim.py [--config YAML] [--tokens N] [--m 16 64] [--n-dac 1 8]

Prints a Markdown table, then one JSON line. Every figure is measured in the bench (simulated clock cycles;
wall time of the token loop), none is computed from a formula.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from atis.cocotb_tests.runner import DEFAULT_WORK_DIR, Bench, run_bench
from atis.config import AtisConfig, load_config

MASK_TEST = "test_keep_mask_equals_vectorized_model"


def measure(config: AtisConfig, m: int, n_dac: int, tokens: int, fpaa: str) -> dict:
    overrides = {"model": {"d_model": max(m, 16)}, "projection": {"m": m}, "dac": {"n_channels": n_dac},
                 "transformer": {"weights": None}}     # the scorer needs no transformer weights
    bench = Bench(f"bench-scorer-m{m}-dac{n_dac}-{fpaa}", "scorer", "atis.cocotb_tests.test_scorer", overrides)
    result = run_bench(bench, config, work_dir=DEFAULT_WORK_DIR / "benchmarks", tokens=tokens, testcase=MASK_TEST,
                       extra_env={"ATIS_BENCH_FPAA": fpaa})
    if not result.passed:
        raise SystemExit(f"{bench.name} failed: {result.error or result.failed_tests}; log {result.log}")
    return result.metrics["scorer"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None, help="config YAML (default: configs/default.yaml)")
    parser.add_argument("--tokens", type=int, default=200, help="tokens per run")
    parser.add_argument("--m", type=int, nargs="+", default=[16, 64], help="projected dims")
    parser.add_argument("--n-dac", type=int, nargs="+", default=[1, 8], help="physical DAC channels")
    args = parser.parse_args()
    cfg = load_config(args.config)
    rows = []
    for m in args.m:
        for n_dac in args.n_dac:
            model = measure(cfg, m, n_dac, args.tokens, "model")
            constant = measure(cfg, m, n_dac, args.tokens, "constant")
            rows.append({"m": m, "n_dac": n_dac, "cycles_per_token": model["cycles_per_token"],
                         "spi_utilization": round(model.get("spi_utilization", float("nan")), 4),
                         "tokens_per_s_sim": round(model["tokens_per_s_sim"]),
                         "mask_mismatches": model["mask_mismatches"],
                         "wall_s_model": model["wall_s"], "wall_s_constant": constant["wall_s"],
                         "fpaa_overhead": round(model["wall_s"] / constant["wall_s"], 2)})
    print(f"scorer co-simulation, {args.tokens} tokens per run\n")
    print("| m | n_dac | cycles/token | SPI utilization | tokens/s (sim) | mask mismatches | wall s model | "
          "wall s constant | model / constant |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['m']} | {r['n_dac']} | {r['cycles_per_token']:g} | {r['spi_utilization']} | "
              f"{r['tokens_per_s_sim']:,} | {r['mask_mismatches']} | {r['wall_s_model']} | {r['wall_s_constant']} | "
              f"{r['fpaa_overhead']} |")
    print(json.dumps({"benchmark": "scorer_cosim", "tokens": args.tokens, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
