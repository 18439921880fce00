"""``atis spice``: the behavioral FPAA model checked against ngspice (tanh law, g_m vs bias, temperature,
mismatch, noise, comparator, keep bits through the array), with the plots and the ``fpaa.spice_fit`` file."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ..config import load_config
from ._common import ConfigOpt, FiguresJsonOpt, console, fail, writable

if TYPE_CHECKING:
    from atis.analog_models.spice.report import SpiceReport

__all__ = ["app", "spice"]

app = typer.Typer()


def _tables(r: SpiceReport) -> list[Table]:
    s = r.summary()
    law = Table(title="OTA law: ngspice (PTM 180 nm, BSIM3v3) vs the behavioral model")
    for col in ("check", "SPICE", "model (config)", "goal"):
        law.add_column(col, justify="left" if col == "check" else "right")
    law.add_row("V_L (mV)", f"{s['v_l_fit_mV']:.2f} (n = {s['slope_n_fit']:.3f})", f"{s['v_l_model_mV']:.2f}", "")
    law.add_row("tanh error after V_L fit (% FS)", f"{s['tanh_error'] * 100:.2f}",
                f"{s['tanh_error_config'] * 100:.2f}", "≤ 5")
    law.add_row("g_m drift error −20…+60 °C (%)", f"{s['temperature_error'] * 100:.1f} (α fit)",
                f"{s['temperature_error_config'] * 100:.1f}", "≤ 10")
    mc, nz, cmp = s["mismatch"], s["noise"], s["comparator"]
    law.add_row("gain mismatch σ (%)", f"{mc['gain_sigma'] * 100:.2f}", f"{mc['config_gain_sigma'] * 100:.2f}", "")
    law.add_row("offset σ (mV)", f"{mc['offset_sigma_mV']:.2f}", f"{mc['config_offset_mV']:.2f}", "")
    law.add_row("noise γ (white / over token rate)", f"{nz['gamma_white']:.2f} / {nz['gamma_in_band']:.2f}",
                f"{nz['config_noise_factor']:.2f}", "")
    law.add_row("hysteresis (fraction of θ)", f"{cmp['band_frac']:.3f}", f"{cmp['config_hysteresis_frac']:.3f}", "")
    law.add_row("comparator delay at 2/10/50 mV (ns)",
                " / ".join("—" if d is None else f"{d:.1f}" for d, o in zip(cmp["delay_rise_ns"], cmp["overdrive_mV"])
                           if round(o, 3) in (2, 10, 50)), f"{cmp['config_delay_ns']:.1f}", "")
    keep = Table(title="keep bits: projected tokens through the SPICE array vs the model")
    for col in ("m", "tokens", "agree outside band", "flips outside", "inside band (flips)", "own-θ trim",
                "score offset / rms (mV)", "SPICE run s"):
        keep.add_column(col, justify="right")
    rows = [(str(m), k) for m, k in s["keep_bits"].items()] + [("fit", s["keep_bits_fitted_model"])]
    for m, k in rows:
        keep.add_row(m, str(k["n_tokens"]), f"{k['keep_agreement'] * 100:.2f} %", str(k["disagree_outside"]),
                     f"{k['inside_band']} ({k['disagree_inside']})", f"{k['keep_agreement_trimmed'] * 100:.2f} %",
                     f"{k['score_offset_mV']:+.2f} / {k['score_error_rms_mV']:.2f}", f"{k['spice_run_s']:.1f}")
    return [law, keep]


def _check_inputs(cfg, sizes: tuple[int, ...]) -> None:
    """What the checks would reject after minutes of ngspice, rejected before the first run."""
    from atis.analog_models.spice.keep_bits import ideal_overrides
    from atis.config import ConfigError, with_overrides
    for size in sizes:
        try:
            with_overrides(cfg, ideal_overrides(size))
        except ConfigError as e:
            fail(f"--m {size}: {e}", 2)
    c = cfg.fpaa.comparator
    if c.hysteresis_frac * abs(c.theta_V) <= 0:
        fail(f"fpaa.comparator.hysteresis_frac = {c.hysteresis_frac:g}, theta_V = {c.theta_V:g}: the comparator check "
             "builds its Schmitt band as hysteresis_frac·|theta_V| and measures it; both must be above 0", 2)


@app.command()
def spice(config: ConfigOpt = None,
          tokens: Annotated[int, typer.Option("--tokens", min=10, metavar="N",
                                              help="projected tokens through the array netlist")] = 1000,
          m: Annotated[list[int] | None, typer.Option("--m", min=1, max=256, metavar="M",
                                                      help="array sizes for the keep bits (repeatable; default 16)")]
          = None,
          monte_carlo: Annotated[int, typer.Option("--monte-carlo", min=10, metavar="N",
                                                   help="OTAs in the mismatch Monte Carlo")] = 200,
          out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR",
                                            help="spice.json, spice_fit.json, spice.png")] = Path("build/spice"),
          as_json: FiguresJsonOpt = False) -> None:
    """Check the behavioral FPAA model against ngspice: the OTA's tanh law and V_L, g_m vs bias and temperature,
    Monte Carlo mismatch, .noise, the comparator's delay and hysteresis, and keep bits of projected tokens through
    the whole array; writes the fitted OTA law for `fpaa.spice_fit` (needs Debian's ngspice)."""
    from atis.analog_models.spice.plots import spice_plot
    from atis.analog_models.spice.report import run_checks, write_fit
    from atis.analog_models.spice.runner import NgspiceMissing, SpiceError, find_ngspice
    try:
        find_ngspice()
    except NgspiceMissing as e:
        fail(str(e), 2)
    cfg = load_config(config)
    sizes = tuple(m or (16,))
    _check_inputs(cfg, sizes)
    writable(out)
    try:
        with console.status("SPICE ...") as status:
            report = run_checks(cfg, tokens, sizes, monte_carlo,
                                progress=lambda what: status.update(what + " ..."))
    except SpiceError as e:
        fail(str(e), 1)
    for table in _tables(report):
        console.print(table)
    summary = report.summary()
    (out / "spice.json").write_text(json.dumps(summary, indent=2) + "\n")
    fit = write_fit(report, out / "spice_fit.json", cfg)
    console.print(f"plot: {spice_plot(report, out / 'spice.png')}\nfit:  {fit} (use it as fpaa.spice_fit)",
                  highlight=False)
    if as_json:
        print(json.dumps(summary))
