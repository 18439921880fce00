"""Writes a sweep's ``sweep.json``, ``sweep.md`` and figures (accuracy vs keep, vs DAC bits, energy vs accuracy)."""
from __future__ import annotations

import json
from pathlib import Path

__all__ = ["write_sweep", "sweep_markdown"]


def sweep_markdown(result: dict) -> str:
    lines = [f"Digits, d = {result['d_model']}, {result['images_test']} test images (trained on "
             f"{result['images_train']}). Unpruned: int8 {100 * result['int8_accuracy']:.2f} %, float twin "
             f"{100 * result['float_accuracy']:.2f} %.", "",
             "| keep | scorer | kept (mean) | kept p5–p95 | acc. drop % | acc. keymask % | Δ vs unpruned (pt) | "
             "nJ/image drop | nJ/image keymask |", "|---:|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        delta = 100 * (r["accuracy_drop"] - result["int8_accuracy"])
        spread = f"{r['kept_p5']:.2f}–{r['kept_p95']:.2f}" if "kept_p5" in r else "–"
        lines.append(f"| {r['keep']:g} | {r['scorer']} | {r['kept_mean']:.1f} | {spread} | "
                     f"{100 * r['accuracy_drop']:.2f} | {100 * r['accuracy_keymask']:.2f} | {delta:+.2f} | "
                     f"{r['energy_nJ_drop']:.1f} | "
                     f"{r['energy_nJ_keymask']:.1f} |")
    return "\n".join(lines)


def _figures(result: dict, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    base = next((r for r in rows if r["keep"] == 1.0), None)
    scorers = list(dict.fromkeys(r["scorer"] for r in rows if r["keep"] < 1.0))

    # Panels of at most 6 series (references + one family each), not 14 look-alike colours in one.
    refs = [n for n in ("oracle", "random", "digital") if n in scorers]
    families = [("references", refs + [n for n in ("sensor",) if n in scorers]),
                ("DAC bits", ["oracle"] + [n for n in scorers if n.startswith("fpaa-") and n.endswith("b")]),
                ("drift and adaptive θ", ["oracle"] + [n for n in scorers if n.startswith("fpaa-") and
                                                        not n.endswith("b")]),
                ("keep budget", ["oracle"] + [n for n in scorers if n.startswith("budget-")])]
    families = [(title, names[:6]) for title, names in families if len(names) > 1]
    fig, axes = plt.subplots(1, len(families), figsize=(4.2 * len(families), 4), sharey=True, squeeze=False)
    for ax, (title, names) in zip(axes[0], families):
        for name in names:
            pts = sorted((r["keep"], r["accuracy_drop"]) for r in rows if r["scorer"] == name)
            if base:
                pts.append((1.0, base["accuracy_drop"]))
            ax.plot(*zip(*pts), marker="o", label=name, lw=1)
        ax.set(xlabel="keep ratio", title=title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("test accuracy (drop)")
    fig.suptitle("accuracy vs keep ratio")
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
    ax.set_prop_cycle(color=plt.cm.tab20.colors)     # a scatter legend: markers, not lines to tell apart
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
