"""Writes a sweep's ``sweep.json``, ``sweep.md`` and figures (accuracy vs keep, vs DAC bits, energy vs accuracy)."""
from __future__ import annotations

import json
from pathlib import Path

__all__ = ["write_sweep", "sweep_markdown"]


def sweep_markdown(result: dict) -> str:
    lines = [f"Digits, d = {result['d_model']}, {result['images_test']} test images (trained on "
             f"{result['images_train']}). Unpruned: int8 {100 * result['int8_accuracy']:.2f} %, float twin "
             f"{100 * result['float_accuracy']:.2f} %.", "",
             "| keep | scorer | kept (mean) | acc. drop % | acc. keymask % | Δ vs unpruned (pt) | nJ/image drop | "
             "nJ/image keymask |", "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        delta = 100 * (r["accuracy_drop"] - result["int8_accuracy"])
        lines.append(f"| {r['keep']:g} | {r['scorer']} | {r['kept_mean']:.1f} | {100 * r['accuracy_drop']:.2f} | "
                     f"{100 * r['accuracy_keymask']:.2f} | {delta:+.2f} | {r['energy_nJ_drop']:.1f} | "
                     f"{r['energy_nJ_keymask']:.1f} |")
    return "\n".join(lines)


def _figures(result: dict, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    base = next((r for r in rows if r["keep"] == 1.0), None)
    scorers = list(dict.fromkeys(r["scorer"] for r in rows if r["keep"] < 1.0))

    colours = plt.cm.tab20.colors            # 14 scorers: more than the default cycle's 10 colours
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.set_prop_cycle(color=colours)
    for name in scorers:
        pts = sorted((r["keep"], r["accuracy_drop"]) for r in rows if r["scorer"] == name)
        if base:
            pts.append((1.0, base["accuracy_drop"]))
        ax.plot(*zip(*pts), marker="o", label=name, lw=1)
    ax.set(xlabel="keep ratio", ylabel="test accuracy", title="accuracy vs keep ratio (drop)")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_keep.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for keep in sorted({r["keep"] for r in rows if r["keep"] < 1.0}):
        pts = sorted((r["dac_bits"], r["accuracy_drop"]) for r in rows
                     if r["keep"] == keep and r["scorer"].startswith("fpaa-") and r["scorer"].endswith("b"))
        if pts:
            ax.plot(*zip(*pts), marker="o", label=f"keep {keep:g}")
    ax.set(xlabel="DAC bits", ylabel="test accuracy", title="FPAA scorer: accuracy vs DAC precision")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_bits.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.set_prop_cycle(color=colours)
    for name in scorers + (["unpruned"] if base else []):
        pts = [(r["energy_nJ_drop"], r["accuracy_drop"]) for r in rows if r["scorer"] == name]
        ax.scatter(*zip(*pts), label=name, s=18)
    ax.set(xscale="log", xlabel="energy per image (nJ, scoring + attention, drop)", ylabel="test accuracy",
           title="energy vs accuracy")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(out / "energy_vs_accuracy.png", dpi=120)
    plt.close(fig)


def write_sweep(result: dict, out: Path) -> str:
    """Everything into ``out``; returns the Markdown table."""
    out.mkdir(parents=True, exist_ok=True)
    md = sweep_markdown(result)
    (out / "sweep.json").write_text(json.dumps(result, indent=2))
    (out / "sweep.md").write_text(md + "\n")
    _figures(result, out)
    return md
