"""What the command modules share: the consoles, fail(), the common options and the bench table and ending."""
from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from atis.cocotb_tests.runner import BenchResult

__all__ = ["console", "err", "ConfigOpt", "FiguresJsonOpt", "BenchDirOpt", "fail", "writable", "bench_table",
           "explain_failures", "finish_bench"]

console = Console()
err = Console(stderr=True, soft_wrap=True)   # an error stays one line, whatever the terminal width

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", metavar="YAML",
                                                   help="config file (default: configs/default.yaml)")]
FiguresJsonOpt = Annotated[bool, typer.Option("--json", help="end with one JSON line of the figures")]
BenchDirOpt = Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="work directory")]


def fail(message: str, code: int) -> NoReturn:
    """One ``error: ...`` line on stderr, then exit with ``code``."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def writable(out: Path) -> None:
    """Fail before the work if folder ``out`` cannot take results (it is created; a probe file is removed)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as e:
        fail(f"--out {out}: cannot write there ({e.strerror})", 2)


def bench_table(results: Iterable[BenchResult]) -> Table:
    """The summary table of cocotb bench results (regress, demo)."""
    table = Table(title="cocotb benches (Verilator)")
    for col in ("bench", "result", "tests", "failed", "tokens", "cycles/token", "wall s"):
        table.add_column(col, justify="left" if col in ("bench", "result") else "right", no_wrap=True)
    for r in results:
        status = "[green]PASS[/]" if r.passed else f"[red]{'ERROR' if r.error else 'FAIL'}[/]"
        tokens = r.metrics.get("golden_random", r.metrics.get("scorer", {}))
        cycles = r.metrics.get("throughput", r.metrics.get("scorer", {})).get("cycles_per_token")
        table.add_row(r.name, status, str(r.tests), str(r.failures),
                      str(tokens.get("tokens_checked", tokens.get("tokens", "-"))),
                      f"{cycles:g}" if cycles is not None else "-", f"{r.wall_s:.1f}")
    return table


def explain_failures(results: Iterable[BenchResult]) -> None:
    """Each failed bench on stderr: what failed, its log and waveform."""
    for r in results:
        if r.passed:
            continue
        err.print(f"[red]{r.name}[/]: {escape(r.error or 'failed: ' + ', '.join(r.failed_tests))}", highlight=False)
        if r.log:
            err.print(f"  log:      {r.log}", highlight=False)
        if r.waveform:
            err.print(f"  waveform: {r.waveform}", highlight=False)


def finish_bench(result: BenchResult, as_json: bool, figures: dict[str, Any]) -> None:
    """A bench command's ending: failures explained, the JSON line if asked for, exit 1 unless it passed."""
    explain_failures([result])
    if as_json:
        print(json.dumps({"passed": result.passed, "bench_wall_s": round(result.wall_s, 2), **figures}))
    if not result.passed:
        raise typer.Exit(1)
