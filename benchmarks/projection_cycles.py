"""Projection throughput measured in the cocotb bench: cycles/token per MAC-lane count, and bench wall time.

    python benchmarks/projection_cycles.py [--config YAML] [--lanes 1 2 4 8 16] [--tokens N]

Prints a Markdown table, then one JSON line. Cycles are simulated-clock measurements (the bench's
``test_throughput_with_ready_sink``), not wall-clock estimates; wall time is reported, never judged.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from atis.cocotb_tests.runner import DEFAULT_WORK_DIR, Bench, run_bench
from atis.config import load_config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None, help="config YAML (default: configs/default.yaml)")
    parser.add_argument("--lanes", type=int, nargs="+", default=[1, 2, 4, 8, 16], help="MAC lane counts")
    parser.add_argument("--tokens", type=int, default=50, help="random tokens in the golden comparison")
    args = parser.parse_args()
    cfg = load_config(args.config)
    rows = []
    for lanes in args.lanes:
        bench = Bench(f"bench-projection-L{lanes}", "projection", "atis.cocotb_tests.test_projection",
                      {"projection": {"lanes": lanes}})
        result = run_bench(bench, cfg, work_dir=DEFAULT_WORK_DIR / "benchmarks", tokens=args.tokens)
        if not result.passed:
            print(f"{bench.name} failed: {result.error or result.failed_tests}; log {result.log}", file=sys.stderr)
            return 1
        thr = result.metrics["throughput"]
        rows.append({"lanes": lanes, "d": thr["d"], "m": thr["m"], "cycles_per_token": thr["cycles_per_token"],
                     "model_cycles_per_token": thr["model_cycles_per_token"],
                     "macs_per_cycle": round(thr["d"] * thr["m"] / thr["cycles_per_token"], 3),
                     "bench_wall_s": round(result.wall_s, 1)})
    print(f"projection {cfg.projection.kind}, d={cfg.model.d_model}, m={cfg.projection.m}\n")
    print("| lanes | cycles/token (measured) | model max(d, m·⌈d/L⌉) | MACs/cycle | bench wall s |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['lanes']} | {r['cycles_per_token']:g} | {r['model_cycles_per_token']} | "
              f"{r['macs_per_cycle']} | {r['bench_wall_s']} |")
    print(json.dumps({"benchmark": "projection_cycles", "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
