"""``atis verilog`` and ``atis regress``: Verilog per block, and the cocotb benches under Verilator."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..config import load_config
from ._common import ConfigOpt, bench_table, console, err, explain_failures, fail, writable

__all__ = ["app", "verilog", "regress"]

app = typer.Typer()

# Spelled out so `--help` does not elaborate anything; tests/test_cli.py keeps them equal to the real lists.
BLOCK_NAMES = ("projection", "scorer", "softmax", "attention_head", "transformer", "pipeline", "watched_scorer")
BENCH_NAMES = ("projection-jl", "projection-learned", "projection-topvar", "scorer-spi", "scorer-parallel",
               "scorer-heads", "transformer", "transformer-sequenced")


@app.command()
def verilog(config: ConfigOpt = None,
            out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="output directory")] = Path(
                "build/verilog"),
            block: Annotated[list[str] | None, typer.Option("--block", "-b", metavar="NAME",
                                                               help="only this block (repeatable; default: all): "
                                                                    + ", ".join(BLOCK_NAMES))]
            = None,
            lint: Annotated[bool, typer.Option(help="run verilator --lint-only -Wall on each file")] = False) -> None:
    """Write one Verilog file per block (module atis_<block>) elaborated from the config."""
    from atis.design import resolve_design
    from atis.hdl.export import BLOCKS, lint_verilog, write_verilog
    design = resolve_design(load_config(config))
    unknown = [b for b in block or [] if b not in BLOCKS]
    if unknown:
        fail(f"--block {unknown[0]}: unknown block (known: {', '.join(BLOCKS)})", 2)
    why = design.transformer_unsupported
    if why and "transformer" in (block or []):
        fail(f"--block transformer: {why}", 2)
    writable(out)
    if why and not block:
        console.print(f"skipping the transformer: {why}", highlight=False)
    for path in write_verilog(design, out, block):
        console.print(f"wrote {path}", highlight=False)
        if lint:
            clean, output = lint_verilog(path)
            if not clean:
                err.print(output, highlight=False, markup=False)
                fail(f"{path}: verilator lint found problems", 1)
            console.print("  lint clean (verilator -Wall)", highlight=False)


@app.command()
def regress(pattern: Annotated[str | None, typer.Option("-k", metavar="PATTERN",
                                                           help="only benches whose name contains PATTERN: "
                                                                + ", ".join(BENCH_NAMES))] = None,
            config: ConfigOpt = None,
            tokens: Annotated[int, typer.Option(min=1, metavar="N", help="random tokens per golden comparison")] = 1000,
            as_json: Annotated[bool, typer.Option("--json", help="end with one JSON line of the results")]
            = False) -> None:
    """Run the cocotb benches under Verilator and print a summary table."""
    from atis.cocotb_tests.runner import DEFAULT_WORK_DIR, run_bench, select_benches
    cfg = load_config(config)
    writable(DEFAULT_WORK_DIR, "work folder")
    benches = select_benches(pattern)
    if not benches:
        fail(f"-k {pattern}: matches no bench", 2)
    results = []
    for bench in benches:
        with console.status(f"running {bench.name} ..."):
            results.append(run_bench(bench, cfg, tokens=tokens))
    console.print(bench_table(results))
    explain_failures(results)
    if as_json:
        print(json.dumps({r.name: {"passed": r.passed, "tests": r.tests, "failures": r.failures,
                                   "wall_s": round(r.wall_s, 2), "metrics": r.metrics} for r in results}))
    if not all(r.passed for r in results):
        raise typer.Exit(1)
