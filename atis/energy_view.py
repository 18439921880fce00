"""Rendering of :func:`analog_models.energy.energy_report`: rich tables and a stacked-bar figure."""
from __future__ import annotations

from pathlib import Path

from rich.table import Table

from atis.analog_models.energy import SCORING_PARTS, EnergyReport

__all__ = ["energy_tables", "energy_plot"]

_PART_LABELS = {"dac_conversions": "DAC conversions", "dac_bias": "DAC bias", "analog_core": "analog core",
                "reprogramming": "reprogramming", "digital_macs": "digital MACs"}


def energy_tables(report: EnergyReport) -> list[Table]:
    s = report.summary
    scoring = Table(title="scoring energy per token (pJ)")
    scoring.add_column("variant", no_wrap=True)
    used = [p for p in SCORING_PARTS if any(row[p] for row in report.per_token.values())]
    for part in used + ["total"]:
        scoring.add_column(_PART_LABELS.get(part, part), justify="right")
    for name, row in report.per_token.items():
        scoring.add_row(name, *(f"{row[p]:.1f}" for p in used), f"[bold]{sum(row.values()):.1f}[/]")

    system = Table(title=f"one sequence of {s['seq_len']} tokens, {s['kept_tokens']} kept (nJ)")
    for col in ("system", "scoring", "attention", "total", "saving"):
        system.add_column(col, justify="left" if col == "system" else "right", no_wrap=True)
    dense = sum(report.per_sequence["dense attention"].values())
    for name, row in report.per_sequence.items():
        total = sum(row.values())
        system.add_row(name, f"{row['scoring']:.1f}", f"{row['attention']:.1f}", f"{total:.1f}",
                       f"{dense / total:.2f}x" if total > 0 else "–")

    head = Table(title="headline figures (seed §4.2-§4.3)")
    head.add_column("quantity", no_wrap=True)
    head.add_column("value", justify="right")
    for key, label, fmt in (
            ("analog_core_static_uW", "analog core static (µW)", "{:.2f}"),
            ("analog_core_total_uW", "analog core total (µW)", "{:.2f}"),
            ("dac_pJ_per_token", "DAC energy per token (pJ)", "{:.1f}"),
            ("dac_uW_at_1MHz", "DAC power at 1 MHz (µW)", "{:.1f}"),
            ("atis_pJ_per_token", "ATIS scoring per token (pJ)", "{:.1f}"),
            ("digital_scorer_pJ_per_token", "digital scorer per token (pJ)", "{:.1f}"),
            ("attention_elements_dense", "attention elements, dense", "{:,}"),
            ("attention_elements_pruned", "attention elements, pruned", "{:,}"),
            ("attention_reduction", "attention reduction", "{:.2f}x"),
            ("system_saving", "system saving incl. scoring", "{:.2f}x")):
        head.add_row(label, "–" if s[key] is None else fmt.format(s[key]))
    return [head, scoring, system]


def energy_plot(report: EnergyReport, path: Path) -> Path:
    """Two stacked-bar panels: scoring energy per token by part, and per-sequence energy (scoring + attention)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 2]})
    names = list(report.per_token)
    bottom = [0.0] * len(names)
    for part in SCORING_PARTS:
        values = [report.per_token[n][part] for n in names]
        if any(values):
            left.bar(names, values, bottom=bottom, label=_PART_LABELS[part])
            bottom = [b + v for b, v in zip(bottom, values)]
    left.set_ylabel("pJ per token")
    left.set_title("scoring energy per token")
    left.legend()
    left.tick_params(axis="x", labelrotation=30)

    systems = list(report.per_sequence)
    scoring = [report.per_sequence[n]["scoring"] / 1e3 for n in systems]
    attention = [report.per_sequence[n]["attention"] / 1e3 for n in systems]
    right.bar(systems, attention, label="attention")
    right.bar(systems, scoring, bottom=attention, label="scoring")
    right.set_ylabel("µJ per sequence")
    s = report.summary
    right.set_title(f"system: {s['seq_len']} tokens, {s['kept_tokens']} kept")
    right.legend()
    right.tick_params(axis="x", labelrotation=30)
    for ax in (left, right):
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
