"""Bitstream builds of every board: utilization, Fmax vs target, critical path, build time.

    python benchmarks/board_builds.py [--board NAME ...] [--out DIR]

Prints a Markdown table, then one JSON line. A board that misses timing or does not fit is reported with its
numbers (the row says so) instead of stopping the others. `pytest` builds the iCE40 target only (marked `board`).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from atis.boards import BOARDS
from atis.boards.build import BuildError, build_board


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", nargs="+", default=list(BOARDS), help="boards (default: all)")
    parser.add_argument("--out", type=Path, default=Path("build/boards"), help="build directory")
    args = parser.parse_args()
    rows = []
    for name in args.board:
        try:
            report = build_board(name, None, args.out)
            rows.append({"board": name, "ok": True, "fmax_MHz": min(report.fmax_MHz.values()),
                         "target_MHz": report.target_MHz, "build_s": report.build_s,
                         "used": {k: v["used"] for k, v in report.utilization.items() if v["used"]},
                         "available": {k: v["available"] for k, v in report.utilization.items() if v["used"]},
                         "critical_path": report.critical_path})
        except BuildError as e:
            rows.append({"board": name, "ok": False, "error": str(e)})
    print("| board | Fmax MHz | target MHz | build s | utilization | critical path |")
    print("|---|---:|---:|---:|---|---|")
    for r in rows:
        if not r["ok"]:
            print(f"| {r['board']} | - | - | - | FAILED: {r['error']} | |")
            continue
        use = ", ".join(f"{k} {v}/{r['available'][k]}" for k, v in sorted(r["used"].items()))
        cp = r["critical_path"]
        print(f"| {r['board']} | {r['fmax_MHz']:.2f} | {r['target_MHz']:g} | {r['build_s']} | {use} | "
              f"{cp.get('delay_ns', 0):.2f} ns |")
    print(json.dumps({"benchmark": "board_builds", "rows": rows}))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
