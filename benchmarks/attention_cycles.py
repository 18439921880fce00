"""Attention-core cycles of the transformer RTL, dense (all kept) vs gated, per n × keep × mask semantics.

    python benchmarks/attention_cycles.py [--config YAML] [--n 32 64 128] [--keep 0.2 0.3 0.5] [--mask drop keymask]

One Verilator build per mask semantics covers the whole n × keep grid (the same tokens for dense and gated at
each n). Prints a Markdown table, then one JSON line; every cycle count is measured in the co-simulation, and the
logits of every run are compared with the golden model.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from atis.cocotb_tests.runner import DEFAULT_WORK_DIR, Bench, run_bench
from atis.config import AtisConfig, load_config


def measure(config: AtisConfig, mask: str, sizes: list[int], ratios: list[float]) -> dict:
    bench = Bench(f"bench-attention-{mask}", "transformer", "atis.cocotb_tests.test_transformer",
                  {"transformer": {"mask": mask}})
    result = run_bench(bench, config, work_dir=DEFAULT_WORK_DIR / "benchmarks", testcase="test_attention_cycles",
                       extra_env={"ATIS_BENCH_N": ",".join(map(str, sizes)),
                                  "ATIS_BENCH_KEEP": ",".join(map(str, ratios))})
    if not result.passed:
        raise SystemExit(f"{bench.name} failed: {result.error or result.failed_tests}; log {result.log}")
    return result.metrics["attention"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None, help="config YAML (default: configs/default.yaml)")
    parser.add_argument("--n", type=int, nargs="+", default=[32, 64, 128], help="tokens per sequence")
    parser.add_argument("--keep", type=float, nargs="+", default=[0.2, 0.3, 0.5], help="keep ratios")
    parser.add_argument("--mask", nargs="+", default=["drop", "keymask"], choices=["drop", "keymask"])
    args = parser.parse_args()
    cfg = load_config(args.config)
    results = {mask: measure(cfg, mask, args.n, args.keep) for mask in args.mask}
    first = next(iter(results.values()))
    print(f"attention core: d = {first['d_model']}, {first['heads']} heads, P = {first['lanes']} lanes, "
          f"{first['layers']} block(s)\n")
    print("| mask | n | keep | kept | dense cycles | gated cycles | reduction | ideal (1/keep)² | "
          "total dense | total gated | logit mismatches |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for mask, att in results.items():
        for r in att["runs"]:
            print(f"| {mask} | {r['n']} | {r['keep']:g} | {r['kept']} | {r['dense_cycles']:,} | {r['gated_cycles']:,} "
                  f"| {r['cycle_reduction']:.2f} | {r['ideal_reduction']:.2f} | {r['dense_total_cycles']:,} | "
                  f"{r['gated_total_cycles']:,} | {r['logit_mismatches']} |")
    print(json.dumps({"benchmark": "attention_cycles", "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
