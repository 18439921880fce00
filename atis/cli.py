"""The ``atis`` command line: the command groups of ``atis.commands`` assembled into one typer app."""
from __future__ import annotations

import logging
import sys

import typer
from rich.markup import escape

from .commands import analog, bench, boards, config, demo, digits, faults, rtl, run, spice, validate
from .commands._common import err
from .config import ConfigError
from .toolchain import ToolchainError

__all__ = ["app", "main"]

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="atis: Analog Token Importance Scoring — FPGA + FPAA co-design flow.")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version
        print(f"atis {version('atis')}")
        raise typer.Exit()


@app.callback()
def _options(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                          help="print the version and exit")) -> None:
    """atis: Analog Token Importance Scoring — FPGA + FPAA co-design flow."""


# Unnamed sub-apps put their commands at the top level, in this order (the order `atis --help` lists them).
for group in (config, rtl, demo, analog, spice, faults, boards, run, digits, validate):
    app.add_typer(group.app)
app.add_typer(bench.app, name="bench")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except (ConfigError, ToolchainError) as e:
        err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
        sys.exit(2)
    except OSError as e:        # a file the commands did not check up front: say which, not a traceback
        where = f"{e.filename}: " if e.filename else ""
        err.print(f"[bold red]error:[/] {escape(where + (e.strerror or str(e)))}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
