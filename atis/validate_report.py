"""Writes ``atis validate``'s ``validate.json``, ``validate.md`` and figures (mass and recall vs keep per scorer)."""
from __future__ import annotations

import json
from pathlib import Path

__all__ = ["write_validate", "validate_markdown"]

#: Ranking panels (at most 6 series each): the references, then the FPAA routes next to PageRank.
PANELS = (("references", ("oracle", "random", "key-norm", "pagerank", "linear-d")),
          ("FPAA scorers", ("pagerank", "fpaa-jl", "fpaa-fold", "fpaa-learned")))
BITS = (("fpaa-learned-3b", 3), ("fpaa-learned-4b", 4), ("fpaa-learned", 6), ("fpaa-learned-8b", 8))
DRIFT = ("fpaa-learned", "fpaa-learned+10C", "fpaa-learned+10C-trimmed", "fpaa-learned-10C",
         "fpaa-learned-10C-trimmed")


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
    by = {(r["scorer"], r["keep"]): r for r in rows}
    fig, axes = plt.subplots(2, 4, figsize=(16, 6.5))
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
    ax = axes[0][2]                          # recall vs DAC bits, 95 % bootstrap intervals over sequences
    for keep in result["keeps"]:
        pts = [(bits, by[(name, keep)]) for name, bits in BITS if (name, keep) in by]
        if pts:
            r = [p[1]["recall"] for p in pts]
            err = [[v - p[1]["recall_ci95"][0] for v, p in zip(r, pts)], [p[1]["recall_ci95"][1] - v
                                                                           for v, p in zip(r, pts)]]
            ax.errorbar([p[0] for p in pts], r, yerr=err, marker="o", capsize=3, label=f"keep {keep:g}")
            pr = by.get(("pagerank", keep))
            if pr:
                ax.axhline(pr["recall"], ls=":", lw=1, color=ax.lines[-1].get_color())
    ax.set(title="fpaa-learned: DAC bits", xlabel="DAC bits (dotted: PageRank)", ylabel="recall@k (95 % CI)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    axes[1][2].axis("off")
    ax = axes[0][3]                          # the comparator mask's per-sequence kept fraction under drift
    keep = 0.3 if 0.3 in result["keeps"] else result["keeps"][0]
    drift = [by[(n, keep)] for n in DRIFT if (n, keep) in by]
    mids = [r["mask_kept_p50"] for r in drift]
    ax.errorbar(range(len(drift)), mids, yerr=[[m - r["mask_kept_p5"] for m, r in zip(mids, drift)],
                                               [r["mask_kept_p95"] - m for m, r in zip(mids, drift)]],
                fmt="o", capsize=4)
    ax.axhline(keep, ls=":", color="grey")
    ax.set_xticks(range(len(drift)), [r["scorer"].replace("fpaa-learned", "").strip() or "27 °C"
                                      for r in drift], rotation=30, fontsize=7)
    ax.set(title=f"global θ, target {keep:g}", ylabel="kept per sequence (p5, p50, p95)")
    ax.grid(alpha=0.3)
    axes[1][3].axis("off")
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
