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

__all__ = ["console", "err", "ConfigOpt", "FiguresJsonOpt", "BenchDirOpt", "fail", "writable", "writable_file",
           "FIGURE_SUFFIXES", "bench_table", "explain_failures", "finish_bench"]

def _flags_take_no_value() -> None:
    """typer's rich help prints a flag's type (``--json <bool>``) as if it took a value, and ``--json true`` is
    then an error. A flag's type column stays empty; an option with a metavar keeps it."""
    from typer import core
    shown = getattr(core.TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "atis_flags", False):
        return

    def display_type_rich(self, ctx):
        return None if self.is_flag and self.metavar is None else shown(self, ctx)
    display_type_rich.atis_flags = True
    core.TyperOption.display_type_rich = display_type_rich


_flags_take_no_value()

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


def writable(out: Path, option: str = "--out", lock: str = ".atis.lock") -> Path:
    """Fail before the work if folder ``out`` cannot take results (it is created; a probe file is removed) or if
    another atis command is writing into it (the lock file ``lock`` of :mod:`atis.outlock`; held until this
    process exits)."""
    from ..outlock import FolderBusy, lock_folder
    if out.exists() and not out.is_dir():
        fail(f"{option} {out}: is a file, not a folder", 2)
    try:
        _probe(out)
        lock_folder(out, lock)
    except FolderBusy as e:
        fail(f"{option} {e}", 2)
    except OSError as e:
        fail(f"{option} {out}: cannot write there ({_why(out, e)})", 2)
    return out


def _probe(folder: Path) -> None:
    """Create ``folder`` and write (and remove) a file in it; raises OSError where that fails."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=folder):
        pass


def _why(folder: Path, e: OSError) -> str:
    """The reason a folder cannot be made: a file in the way is named (mkdir only says 'File exists')."""
    for above in (folder, *folder.parents):
        if above.exists():
            return f"{above} is a file" if not above.is_dir() else e.strerror or str(e)
    return e.strerror or str(e)


#: What matplotlib writes without guessing (a name with no suffix silently became NAME.png).
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def writable_file(path: Path, option: str, suffixes: tuple[str, ...] | None = None) -> Path:
    """Fail before the work unless ``path`` names a file that can be written (its folder is created) with one of
    ``suffixes``; returns the path that will be written."""
    if path.is_dir():
        example = path / ("figure" + suffixes[0] if suffixes else "report.json")
        fail(f"{option} {path}: is a folder; give a file name, e.g. {example}", 2)
    if suffixes and path.suffix.lower() not in suffixes:
        fail(f"{option} {path}: the file name must end in {', '.join(suffixes)}", 2)
    try:
        _probe(path.parent)
    except OSError as e:
        fail(f"{option} {path}: cannot write there ({_why(path.parent, e)})", 2)
    return path


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
        for test, cause in r.causes.items():
            err.print(f"  {test}: {escape(cause)}", highlight=False)
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
