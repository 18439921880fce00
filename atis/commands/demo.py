"""``atis demo``: the main job on one config, from Verilog to the energy account, rendered as a summary."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..config import load_config
from ._common import ConfigOpt, bench_table, console, err, explain_failures, writable

__all__ = ["app", "demo"]

app = typer.Typer()


@app.command()
def demo(config: ConfigOpt = None,
         out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="work directory")] = Path(
             "build/demo"),
         tokens: Annotated[int, typer.Option(min=1, metavar="N", help="random tokens in the projection bench")]
         = 1000,
         scorer_tokens: Annotated[int, typer.Option(min=2, metavar="N", help="tokens in the scorer co-sim")]
         = 100) -> None:
    """The main job on one config: Verilog + lint, projection vs golden, scorer co-sim with the FPAA model,
    FPAA characterization and the energy account."""
    from ..demo import run_demo
    loaded = load_config(config)
    writable(out)
    with console.status("starting ...") as status:
        report = run_demo(loaded, out, tokens=tokens, scorer_tokens=scorer_tokens,
                          progress=lambda s: status.update(s + " ..."))
    cfg, spec = report.config, report.spec
    console.print(f"[bold]atis demo[/] — {cfg.source}", highlight=False)
    console.print(f"projection {cfg.projection.kind}: d={spec.d} -> m={spec.m}, {spec.dac_bits}-bit DAC codes, "
                  f"shift {spec.shift}, {spec.lanes} MAC lanes, {spec.acc_bits}-bit accumulators", highlight=False)
    for path in report.verilog:
        console.print(f"verilog: {path}  lint: {'clean' if report.lint_clean else 'PROBLEMS'}", highlight=False)
    if not report.lint_clean:
        err.print(report.lint_output, markup=False, highlight=False)
    console.print(bench_table([report.bench, report.scorer]))
    explain_failures([report.bench, report.scorer])
    sc = report.scorer.metrics.get("scorer", {})
    if sc:
        spi = f", SPI utilization {sc['spi_utilization']:.3f}" if "spi_utilization" in sc else ""
        console.print(f"scorer co-sim: {sc['tokens']} tokens through {sc['part']} DACs and the FPAA model, kept "
                      f"{sc['keep_ratio']:.2f}; keep bits vs vectorized model: {sc.get('mask_mismatches', '-')} "
                      f"mismatches; {sc['cycles_per_token']:g} cycles/token{spi}", highlight=False)
    f, e = report.fpaa, report.energy.summary
    hot = f.drift[10.0]
    console.print(f"FPAA model: kept {f.keep['nominal']:.3f} of projected tokens (target {f.keep['target']:.2f}); "
                  f"Spearman at {cfg.projection.dac_bits} bits {f.fidelity[cfg.projection.dac_bits]['spearman']:.3f}; "
                  f"+10 °C: g_m x{hot['gm_ratio']:.2f}, kept {hot['uncalibrated']:.3f} -> "
                  f"{hot['threshold_trim']:.3f} after θ trim", highlight=False)
    reduction = "nothing kept" if e["attention_reduction"] is None else f"{e['attention_reduction']:.1f}x"
    console.print(f"energy: ATIS {e['atis_pJ_per_token']:.1f} pJ/token (DAC {e['dac_pJ_per_token']:.0f}) vs digital "
                  f"scorer {e['digital_scorer_pJ_per_token']:.0f} pJ; attention {e['attention_elements_dense']:,} -> "
                  f"{e['attention_elements_pruned']:,} elements ({reduction}); "
                  f"details: atis fpaa, atis energy", highlight=False)
    if report.digits:
        rows = {r["scorer"]: r for r in report.digits["rows"]}
        pruned = ", ".join(f"{name} {100 * r['accuracy_drop']:.1f} %" for name, r in rows.items() if r["keep"] < 1)
        console.print(f"digits ({report.digits['images_test']} test images): int8 "
                      f"{100 * report.digits['int8_accuracy']:.1f} % unpruned (float twin "
                      f"{100 * report.digits['float_accuracy']:.1f} %); keep {cfg.fpaa.comparator.keep_target:g}: "
                      f"{pruned}; details: atis sweep", highlight=False)
    console.print(f"{'[green]PASS[/]' if report.passed else '[red]FAIL[/]'} in {report.wall_s:.1f} s")
    if not report.passed:
        raise typer.Exit(1)
