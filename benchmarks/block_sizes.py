"""Per-block area of the RTL for a board family, from Yosys per hierarchy level (size before RTL for a board).

    python benchmarks/block_sizes.py [--config YAML] [--block transformer] [--family ice40|ecp5] [--depth 3]

Prints a Markdown table (totals per level, children indented) next to the family's budget, then one JSON line.
The default is the iCEBreaker config's transformer for the iCE40UP5K.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from atis.boards.utilization import FAMILIES, block_utilization, utilization_markdown
from atis.config import bundled_config, load_config
from atis.design import resolve_design
from atis.hdl.export import MODULE_PREFIX, write_verilog

#: What the boards offer (DESIGN.md §1b): iCE40UP5K and ECP5-85F.
BUDGETS = {"ice40": {"lut": 5280, "dsp": 8, "bram": 30, "spram": 4},
           "ecp5": {"lut": 83640, "dsp": 156, "bram": 208}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=None, help="config YAML (default: configs/icebreaker.yaml)")
    parser.add_argument("--block", action="append", help="block(s) to synthesize (default: transformer)")
    parser.add_argument("--family", choices=sorted(FAMILIES), default="ice40")
    parser.add_argument("--depth", type=int, default=3, help="hierarchy levels in the table")
    args = parser.parse_args()
    design = resolve_design(load_config(args.config or bundled_config("icebreaker")))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for block in args.block or ["transformer"]:
            (path,) = write_verilog(design, tmp, [block])
            areas = block_utilization(path, MODULE_PREFIX + block, args.family, Path(tmp) / "syn")
            print(f"## {block} ({args.family}; budget {BUDGETS[args.family]})\n")
            results[block] = {a.path: a.total for a in areas}
            print(utilization_markdown(results[block], args.depth) + "\n")
    print(json.dumps({"family": args.family, "budget": BUDGETS[args.family], "blocks": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
