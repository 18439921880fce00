"""Soak: 10⁵ tokens through the scorer co-simulation (scorer RTL + keep-rate watchdog, FPAA model on the pins) with
random input gaps, random output backpressure and a comparator pin that toggles randomly around the capture's
sampling edge: 0 lost, duplicated or reordered tokens (every element is checked for its data, framing and token
index), one keep bit per token, one evaluation per token.

    python benchmarks/soak.py [--config YAML] [--tokens N] [--seed S]

The shape is the fault bench's (``atis.faults.FAULTS_SHAPE``: d = m = 16, parallel DAC). Prints a Markdown table,
then one JSON line. The wall time is measured; not part of pytest (minutes).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from atis.cocotb_tests.runner import DEFAULT_WORK_DIR, Bench, run_bench
from atis.config import load_config
from atis.faults import FAULTS_SHAPE


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None, help="config YAML (default: configs/default.yaml)")
    parser.add_argument("--tokens", type=int, default=100_000, help="tokens to stream (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="seed of tokens, gaps, backpressure, glitches")
    args = parser.parse_args()
    cfg = load_config(args.config)
    bench = Bench("soak", "watched_scorer", "atis.cocotb_tests.test_faults", FAULTS_SHAPE)
    started = time.monotonic()
    result = run_bench(bench, cfg, work_dir=DEFAULT_WORK_DIR / "benchmarks", tokens=args.tokens, seed=args.seed,
                       testcase="test_soak", extra_env={"ATIS_SOAK": "1"})
    wall = time.monotonic() - started
    soak = result.metrics.get("soak", {})
    row = {"tokens": args.tokens, "received": soak.get("received"), "evaluations": soak.get("evaluations"),
           "stream_problems": soak.get("problems"), "left_over_elements": soak.get("left_over"),
           "passed": result.passed, "soak_wall_s": soak.get("wall_s"), "build_s": round(result.build_s, 1),
           "total_wall_s": round(wall, 1), "sim_cpu_s": round(result.sim_cpu_s, 1)}
    print("| tokens | received | evaluations | lost/duplicated/reordered | left over | passed | soak wall s | "
          "build s | total wall s |")
    print("|---:|---:|---:|---:|---:|---|---:|---:|---:|")
    print(f"| {row['tokens']:,} | {row['received']} | {row['evaluations']} | {row['stream_problems']} | "
          f"{row['left_over_elements']} | {row['passed']} | {row['soak_wall_s']} | {row['build_s']} | "
          f"{row['total_wall_s']} |")
    if not result.passed:
        print(f"failed: {result.error or result.causes}; log {result.log}", file=sys.stderr)
    print(json.dumps({"benchmark": "soak", **row, "first_problems": soak.get("first_problems")}))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
