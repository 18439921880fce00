"""``atis faults``: every analog fault kind through the scorer RTL with its keep-rate watchdog, and its effect."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from ..config import load_config
from ._common import BenchDirOpt, ConfigOpt, FiguresJsonOpt, console, fail, writable

__all__ = ["app", "faults", "markdown"]

app = typer.Typer()


def _f(x, fmt: str = ".3f") -> str:
    return "–" if x is None else format(x, fmt)


def _recovery(r: dict) -> str:
    if not r["detected"]:
        return "none needed" if r.get("keep_faulty") is None else "not flagged"
    if r.get("hard_fault_at") is not None:
        return (f"re-trim did not help (tripped again by token {r['hard_fault_at']}): "
                f"{'keep-all stays on' if r['fallback'] == 'keep_all' else 'flag stays up'}")
    return f"re-trimmed at token {r['recalibrated_at']}"


def markdown(report) -> str:
    """The fault table, the per-channel sweep and the settings, as Markdown."""
    s = report.settings
    lines = [f"Watchdog W = {s['window']} tokens, band [{s['keep_lo']:g}, {s['keep_hi']:g}], fallback "
             f"{s['fallback']}; m = {s['m']}, {s['n_dac']} DAC channels, keep target {s['keep_target']:g}; "
             f"{s['tokens']} co-simulated tokens per fault in sequences of {s['sequence']}.", "",
             "| fault | onset | detected | tokens to detect | keep before | keep under fault | recovery | "
             "keep after recovery | kept after trip (out) | sequences before the flag | co-sim = model/golden |",
             "|---|---:|---|---:|---:|---:|---|---:|---:|---:|---|"]
    for r in report.rows:
        same = not (r["capture_mismatches"] or r["status_mismatches"] or r["mask_mismatches"])
        lines.append(f"| {r['fault']} | {r['at_token']} | {'yes' if r['detected'] else 'no'} | "
                     f"{_f(r['latency_tokens'], 'd')} | {_f(r['keep_before'])} | {_f(r['keep_faulty'])} | "
                     f"{_recovery(r)} | {_f(r['keep_after_recovery'])} | {_f(r['out_keep_after_trip'])} | "
                     f"{r['unflagged_sequences']} | {'yes' if same else 'NO'} |")
    if not report.sweep:
        return "\n".join(lines)
    lines += ["", f"Every channel, vectorized model ({s['sweep_tokens']:,} tokens each, no watchdog): kept fraction "
              "under the fault, "
              "keep bits flipped, rank correlation of the scores with the fault-free ones, kept after one re-trim.",
              "", "| fault | channels | outside the band | keep under fault | flipped (max) | Spearman (min) | "
              "keep after re-trim |", "|---|---:|---:|---|---:|---:|---|"]
    kinds = {}
    for r in report.sweep:
        kinds.setdefault((r["kind"], r["value"]), []).append(r)
    for rs in kinds.values():
        faulty = [r["keep_faulty"] for r in rs]
        after = [r["keep_after_retrim"] for r in rs]
        outside = sum(not s["keep_lo"] <= k <= s["keep_hi"] for k in faulty)
        name = rs[0]["fault"].split("[")[0]
        lines.append(f"| {name} | {len(rs)} | {outside} | {min(faulty):.3f}..{max(faulty):.3f} | "
                     f"{max(r['flipped'] for r in rs):.3f} | {min(r['spearman'] for r in rs):.3f} | "
                     f"{min(after):.3f}..{max(after):.3f} |")
    lines.append(f"\n(fault-free kept fraction on the same tokens: {report.sweep[0]['keep_fault_free']:.4f})")
    return "\n".join(lines)


@app.command("faults")
def faults(config: ConfigOpt = None, out: BenchDirOpt = Path("build/faults"), as_json: FiguresJsonOpt = False) -> None:
    """Every analog fault kind (stuck comparator, dead/saturated DAC channel, open OTA, ±20 °C, supply droop)
    injected through the FPAA model into a co-simulation of the scorer RTL with its keep-rate watchdog: detected
    or not, tokens until detection, keep rate before, under the fault and after recovery; plus every channel on
    the vectorized model."""
    from ..faults import faults_config, run_faults
    cfg = load_config(config)
    try:
        faults_config(cfg)
    except ValueError as e:
        fail(f"{cfg.source or 'config'}: {e}", 2)
    writable(out)
    with console.status("fault run ...") as status:
        report = run_faults(cfg, work_dir=out, progress=lambda msg: status.update(msg))
    if report.rows:
        print(markdown(report))
    for problem in report.problems:
        console.print(f"[bold red]problem:[/] {problem}", highlight=False)
    if as_json:
        print(json.dumps(report.to_json()))
    if report.problems:
        raise typer.Exit(1)
