"""``atis fpaa`` and ``atis energy``: the FPAA model's characterization and the energy account."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ..config import load_config
from ._common import FIGURE_SUFFIXES, ConfigOpt, FiguresJsonOpt, console, writable_file

if TYPE_CHECKING:
    from ..fpaa_report import FpaaReport

__all__ = ["app", "fpaa", "energy"]

app = typer.Typer()


def _fpaa_tables(report: FpaaReport) -> list[Table]:
    op = Table(title="FPAA operating point")
    op.add_column("quantity", no_wrap=True)
    op.add_column("value", justify="right")
    for key, value in report.operating_point.items():
        op.add_row(key, f"{value:,.4g}")
    op.add_row("keep ratio (target)", f"{report.keep['nominal']:.3f} ({report.keep['target']:.3f})")
    drift = Table(title="kept fraction after a temperature step (seed §5.3)")
    for col in ("step °C", "g_m ratio", "no trim", "θ trim", "gain trim"):
        drift.add_column(col, justify="right")
    for dt, row in report.drift.items():
        drift.add_row(f"{dt:+g}", f"{row['gm_ratio']:.3f}", f"{row['uncalibrated']:.3f}",
                      f"{row['threshold_trim']:.3f}", f"{row['gain_trim']:.3f}")
    fid = Table(title="Spearman vs float dot product, Gaussian tokens (seed §4.1)")
    for col in ("DAC bits", "FPAA model", "quantized ideal"):
        fid.add_column(col, justify="right")
    for bits, row in report.fidelity.items():
        fid.add_row(str(bits), f"{row['spearman']:.4f}", f"{row['spearman_quantized_ideal']:.4f}")
    return [op, drift, fid]


@app.command()
def fpaa(config: ConfigOpt = None,
         n: Annotated[int, typer.Option("--n", min=100, metavar="N", help="tokens per measurement")] = 20_000,
         plot: Annotated[Path, typer.Option("--plot", metavar="PNG", help="drift + fidelity figure")] = Path(
             "build/fpaa.png"),
         as_json: FiguresJsonOpt = False) -> None:
    """Characterize the FPAA model: operating point, keep ratio, drift and trim, fidelity per DAC width."""
    from ..fpaa_report import characterize, fpaa_plot
    cfg = load_config(config)
    writable_file(plot, "--plot", FIGURE_SUFFIXES)
    with console.status("characterizing ...") as status:
        report = characterize(cfg, n=n, progress=lambda s: status.update(s + " ..."))
    for table in _fpaa_tables(report):
        console.print(table)
    console.print(f"plot: {fpaa_plot(report, plot)}", highlight=False)
    if as_json:
        print(json.dumps(report.summary()))


@app.command()
def energy(config: ConfigOpt = None,
           plot: Annotated[Path, typer.Option("--plot", metavar="PNG", help="stacked-bar figure")] = Path(
               "build/energy.png"),
           break_even: Annotated[bool, typer.Option("--break-even", help="the break-even table: per n and keep "
                                                    "ratio, which pruned system beats dense attention and the "
                                                    "digital scorer")] = False,
           as_json: FiguresJsonOpt = False) -> None:
    """Honest energy accounting (seed §4.2-§4.3): analog core, DACs, digital scorer, attention saved."""
    from atis.analog_models.breakeven import break_even_markdown, break_even_table
    from atis.analog_models.energy import energy_report

    from ..energy_view import energy_plot, energy_tables
    cfg = load_config(config)
    writable_file(plot, "--plot", FIGURE_SUFFIXES)
    report = energy_report(cfg)
    for table in energy_tables(report):
        console.print(table)
    console.print(f"plot: {energy_plot(report, plot)}", highlight=False)
    table = break_even_table(cfg) if break_even else None
    if table:
        console.print(break_even_markdown(table), highlight=False, markup=False)
    if as_json:
        print(json.dumps(report.summary | ({"break_even": table} if table else {})))
