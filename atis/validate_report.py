"""Writes ``atis validate``'s ``validate.json``, ``validate.md`` and figures (mass and recall vs keep per scorer)."""
from __future__ import annotations

import json
from pathlib import Path

__all__ = ["write_validate", "validate_markdown"]

#: Panels of the figures, at most 6 series each: references, the FPAA routes, then precision and drift.
PANELS = (("references", ("oracle", "random", "key-norm", "pagerank", "linear-d")),
          ("FPAA scorers", ("pagerank", "fpaa-jl", "fpaa-fold", "fpaa-learned")),
          ("DAC bits", ("pagerank", "fpaa-learned-8b", "fpaa-learned", "fpaa-learned-4b", "fpaa-learned-3b")),
          ("±10 °C", ("fpaa-learned", "fpaa-learned +10C", "fpaa-learned +10C trimmed", "fpaa-learned -10C",
                      "fpaa-learned -10C trimmed")))


def _cell(row: dict, key: str, fmt: str = ".3f") -> str:
    value = row.get(key)
    return "–" if value is None else format(value, fmt)


def validate_markdown(result: dict, keep: float | None = None) -> str:
    """The table (one keep ratio, or all): ranking metrics, the comparator mask's kept spread, end to end."""
    c = result["corpus"]
    lines = [f"{result['model']}, {result['evaluation_texts']} held-out docstrings (mean {result['tokens_mean']:.0f} "
             f"tokens), scorers fitted on {result['calibration_texts']}; corpus sha256 {c['sha256'][:12]}…; "
             f"m = {result['m']}; metrics are means over sequences and the 6 layers; end to end prunes before "
             f"layer {result['prune_layer']}.", "",
             "| keep | scorer | mass | gain | recall@k | Spearman | mask kept p5–p95 | cos mean | cos p5 | "
             "NN overlap |", "|---:|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    for r in result["rows"]:
        if keep is not None and r["keep"] != keep:
            continue
        spread = (f"{r['mask_kept_p5']:.2f}–{r['mask_kept_p95']:.2f}" if "mask_kept_p5" in r else "–")
        lines.append(f"| {r['keep']:g} | {r['scorer']} | {_cell(r, 'mass')} | {_cell(r, 'gain', '.2f')} | "
                     f"{_cell(r, 'recall')} | {_cell(r, 'spearman')} | {spread} | {_cell(r, 'cos_mean')} | "
                     f"{_cell(r, 'cos_p5')} | {_cell(r, 'retrieval', '.2f')} |")
    return "\n".join(lines)


def _figure(result: dict, out: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    fig, axes = plt.subplots(2, len(PANELS), figsize=(4 * len(PANELS), 6.5), sharex=True)
    for col, (title, names) in enumerate(PANELS):
        for row_i, metric in enumerate(("mass", "recall")):
            ax = axes[row_i][col]
            for name in names:
                pts = sorted((r["keep"], r[metric]) for r in rows if r["scorer"] == name)
                if pts:
                    ax.plot(*zip(*pts), marker="o", lw=1, label=name)
            ax.set(title=title if row_i == 0 else None, xlabel="keep ratio" if row_i else None,
                   ylabel=("attention mass kept" if metric == "mass" else "recall@k") if col == 0 else None)
            ax.grid(alpha=0.3)
            if row_i == 0:
                ax.legend(fontsize=7)
    fig.suptitle(f"{result['model']}: ranking real attention ({result['evaluation_texts']} held-out texts)")
    fig.tight_layout()
    path = out / "mass_recall_vs_keep.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_validate(result: dict, out: Path) -> list[Path]:
    """Everything into ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "validate.json").write_text(json.dumps(result, indent=2))
    (out / "validate.md").write_text(validate_markdown(result) + "\n")
    return [out / "validate.json", out / "validate.md", _figure(result, out)]
