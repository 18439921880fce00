"""``atis run`` (the host program: digits images through a pipeline board, every answer checked) and
``atis virtual-board`` (the same board top under Verilator, on a TCP port)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..config import load_config
from ._common import console, fail, writable, writable_file
from .boards import BoardOpt

__all__ = ["app", "run", "virtual_board"]

app = typer.Typer()

#: A read timeout for the virtual board: its wall time per simulated byte is far from the baud rate's (the d = 64
#: ULX3S top simulates about 28 k cycles/s, so its 45 kB weight load takes about 4 minutes before the 'K').
VIRTUAL_TIMEOUT_S = 900

KeepOpt = Annotated[float, typer.Option("--keep", min=0.01, max=1.0, metavar="K",
                                        help="virtual board: the FPAA model's keep target (θ trimmed on the "
                                             "training images)")]
VirtualDirOpt = Annotated[Path, typer.Option("--work-dir", metavar="DIR", help="virtual board build folder")]


def _config(board: str, config: Path | None):
    from atis.boards.platforms import get_board
    return load_config(config) if config is not None else load_config(get_board(board).config)


def _summary(report) -> Table:
    table = Table(title=f"atis run: {report.board} on {report.port}", show_header=False)
    rows = [("images", f"{report.images}"),
            ("accuracy", f"{report.accuracy:.3f}" + (f" (golden model {report.golden_accuracy:.3f})"
                                                      if report.golden_accuracy is not None else "")),
            ("logit mismatches vs forward_int", f"{report.logit_mismatches}"),
            ("keep-bit mismatches vs FPAA model", "-" if report.keep_mismatches is None
             else f"{report.keep_mismatches}"),
            ("mean kept fraction", f"{report.mean_kept_fraction:.3f}"),
            ("cycles per image: scoring + transformer after the last token",
             f"{report.scoring_cycles_per_image} + {report.tail_cycles_per_image:.0f} "
             f"({report.attention_cycles_per_image:.0f} in attention)"),
            ("latency at the board clock (tokens there)", f"{report.latency_us:.1f} µs at {report.clock_MHz:g} MHz"),
            ("UART-bound images/s", f"{report.uart_bound_images_per_s:.1f} at {report.baud} baud"),
            ("compute-bound images/s", f"{report.compute_bound_images_per_s:.0f}"),
            ("measured images/s (wall)", f"{report.measured_images_per_s:.2f}: bound by {report.bound}"
             if not report.port.startswith("socket://") else f"{report.measured_images_per_s:.2f} (simulated)")]
    for k, v in rows:
        table.add_row(k, v)
    return table


def _run(link, cfg, design, board: str, images: int, model_keep, as_json: bool):
    from atis.host import run_digits
    with Progress(TextColumn("images"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=as_json) as bar:
        task = bar.add_task("images", total=images)
        report = run_digits(link, cfg, design, board=board, images=images, model_keep=model_keep,
                            progress=lambda k: bar.update(task, completed=k))
    return report


@app.command()
def run(board: BoardOpt = "icebreaker",
        port: Annotated[str | None, typer.Option("--port", "-p", metavar="PORT",
                                                    help="serial port (/dev/ttyUSB1, COM3) or a pyserial URL "
                                                         "(socket://127.0.0.1:4000)")] = None,
        virtual: Annotated[bool, typer.Option("--virtual", help="start the virtual board (Verilator) and run "
                                                                "against it")] = False,
        config: Annotated[Path | None, typer.Option("--config", "-c", metavar="YAML",
                                                       help="the bitstream's config (default: configs/<board>.yaml)")]
        = None,
        images: Annotated[int, typer.Option("--images", "-n", min=1, max=539, metavar="N",
                                            help="digits test images")] = 20,
        keep: KeepOpt = 0.3,
        timeout: Annotated[float, typer.Option("--timeout", min=0.1, metavar="S",
                                               help="seconds without a byte before a read fails (virtual board: at "
                                                    "least 900, the simulation is slow)")]
        = 5.0,
        work_dir: VirtualDirOpt = Path("build/virtual"),
        out: Annotated[Path | None, typer.Option("--out", "-o", metavar="FILE", help="write the report as JSON")]
        = None,
        as_json: Annotated[bool, typer.Option("--json", help="end with one JSON line of the report")] = False) -> None:
    """Digits test images through a pipeline board: load weights, score, prune, classify; every logit checked
    against the golden model on the keep mask the board returned."""
    from atis.design import resolve_design
    from atis.host import BoardLink, HostError, check_link_rate, link_baud

    if (port is None) == (not virtual):
        fail("give --port PORT (a board) or --virtual (the simulated board), one of them", 2)
    if out is not None:
        writable_file(out, "--out")
    cfg = _config(board, config)
    vboard, board_figures = None, {}
    if virtual:
        from atis.analog_models.scoring import expected_keep
        from atis.virtual_board import VirtualBoard, VirtualBoardError
        writable(work_dir, "--work-dir", lock=f".{board}.lock")
        vboard = VirtualBoard(board, cfg, keep=keep, work_dir=work_dir)
        try:
            with console.status("building the virtual board (Verilator) ...", spinner="dots"):
                vboard.prepare()
                port = f"socket://127.0.0.1:{vboard.start()}"
        except VirtualBoardError as e:
            fail(str(e), 1)
        cfg, design, timeout = vboard.cfg, vboard.design, max(timeout, VIRTUAL_TIMEOUT_S)
        model_keep = lambda tokens: expected_keep(cfg, tokens).keep     # noqa: E731
    else:
        design, model_keep = resolve_design(cfg), None
        if design.scorer != "fpaa" or design.transformer_unsupported:
            fail(f"{cfg.source}: no pipeline bitstream can be built from this config "
                 f"({design.transformer_unsupported or 'fpga.scorer = digital'})", 2)
    baud = link_baud(design)
    try:
        check_link_rate(design, baud)
        with BoardLink(port, baud=baud, classes=cfg.transformer.classes, n=cfg.model.seq_len,
                       timeout_s=timeout) as link:
            report = _run(link, cfg, design, board, images, model_keep, as_json)
    except HostError as e:
        fail(str(e), 1)
    finally:
        if vboard is not None:
            board_figures = _stop(vboard)
    figures = report.to_json()
    if vboard is not None:
        figures["virtual_board"] = {k: v for k, v in board_figures.items() if k != "decisions"}
    console.print(_summary(report))
    if out is not None:
        out.write_text(json.dumps(figures, indent=2))
        console.print(f"report: {out}", highlight=False)
    if as_json:
        print(json.dumps({k: v for k, v in figures.items() if k != "per_image"}))
    if report.logit_mismatches or report.keep_mismatches or board_figures.get("led_error"):
        raise typer.Exit(1)


def _stop(vboard) -> dict:
    from atis.virtual_board import VirtualBoardError
    try:
        return vboard.stop()
    except VirtualBoardError as e:
        fail(str(e), 1)


@app.command("virtual-board")
def virtual_board(board: BoardOpt = "icebreaker",
                  config: Annotated[Path | None, typer.Option("--config", "-c", metavar="YAML",
                                                                 help="default: configs/<board>.yaml")] = None,
                  port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, metavar="TCP",
                                                    help="TCP port on 127.0.0.1 (0: any free one)")] = 4000,
                  keep: KeepOpt = 0.3, work_dir: VirtualDirOpt = Path("build/virtual")) -> None:
    """The board's pipeline top under Verilator, its UART on a TCP port: `atis run --port socket://127.0.0.1:PORT`
    (one host connection after another until Ctrl-C)."""
    from atis.virtual_board import VirtualBoard, VirtualBoardError
    cfg = _config(board, config)
    writable(work_dir, "--work-dir", lock=f".{board}.lock")
    vboard = VirtualBoard(board, cfg, keep=keep, work_dir=work_dir, port=port, once=False)
    try:
        with console.status("building the virtual board (Verilator) ...", spinner="dots"):
            vboard.prepare()
            bound = vboard.start()
    except (VirtualBoardError, OSError) as e:
        fail(str(e), 1)
    console.print(f"virtual {board} listening: atis run --board {board} --port socket://127.0.0.1:{bound} "
                  f"-c {vboard.cfg.source}  (UART {vboard.baud} baud simulated; log {vboard.where / 'sim.log'})",
                  highlight=False)
    try:
        vboard.wait(timeout_s=None)
    except KeyboardInterrupt:
        console.print("stopped")
