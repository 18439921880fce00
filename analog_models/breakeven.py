"""Where ATIS pays (seed Phase 1: "deployment scenarios where ATIS provides net energy savings").

Per sequence of n tokens with k = round(keep·n) kept, every figure from the config's unit costs:

* dense attention: n² · ``attention_pJ_per_element``;
* each pruned system: n · (projection + scoring per token) + k² · ``attention_pJ_per_element``;
* the projection's digital work per token: the ±1 JL matrix costs one add per non-zero entry (``add_pJ``), a
  learned int8 matrix d·m MACs (``mac_pJ``), top-variance selection nothing (wires). Sensor mode has no
  projection: the sensor drives the OTAs;
* scoring per token: the digital scorer (m MACs on the projected codes), and ATIS with the AD5628 prototype
  (8 DACs time-multiplexed), with m parallel DACs, and in sensor mode (no DAC) — from
  :func:`analog_models.energy.energy_report`.

``break_even_n`` solves n·s + (keep·n)²·a = n²·a for n (k taken as keep·n): below it, the scorer costs more
than the attention it saves.
"""
from __future__ import annotations

import numpy as np

from atis.config import AtisConfig
from atis.golden.projection import projection_matrix

from .energy import energy_report

__all__ = ["projection_pJ", "scorer_pJ", "break_even_table", "break_even_markdown", "break_even_n", "NS", "KEEPS"]

NS = (64, 256, 1024, 4096)
KEEPS = (0.2, 0.3, 0.4)


def projection_pJ(cfg: AtisConfig) -> float:
    """Digital energy of the d -> m projection per token (see the module docstring)."""
    p, e = cfg.projection, cfg.energy
    if p.kind == "topvar":
        return 0.0
    if p.kind == "jl":
        return float(np.count_nonzero(projection_matrix(cfg))) * e.add_pJ
    return cfg.model.d_model * p.m * e.mac_pJ


def scorer_pJ(cfg: AtisConfig) -> dict[str, float]:
    """Projection + scoring energy per token of each pruned system."""
    report = energy_report(cfg)
    per = {name: sum(parts.values()) for name, parts in report.per_token.items()}
    s = report.summary
    proj = projection_pJ(cfg)
    m, bits = cfg.projection.m, cfg.projection.dac_bits
    return {"digital scorer": proj + per["digital scorer"],
            f"ATIS, AD5628 ({s['time_mux_dacs']} DACs)": proj + per[f"ATIS, {s['time_mux_dacs']} DACs x "
                                                                   f"{s['time_mux_rounds_per_token']} rounds"],
            f"ATIS, {m} parallel DACs": proj + per[f"ATIS, {m} DACs x {bits} b"],
            "ATIS sensor mode": per["ATIS sensor mode (no DAC)"]}


def break_even_n(per_token_pJ: float, keep: float, element_pJ: float) -> float | None:
    """Smallest n at which pruning with a scorer of ``per_token_pJ`` beats dense attention (None: never, as
    pruning saves nothing when keep = 1 or attention costs nothing)."""
    saved = element_pJ * (1.0 - keep * keep)
    return per_token_pJ / saved if saved > 0 else None


def break_even_table(cfg: AtisConfig, ns=NS, keeps=KEEPS) -> dict:
    """Rows per (n, keep): nJ per sequence of dense attention and of every pruned system; the break-even n."""
    a = cfg.energy.attention_pJ_per_element
    systems = scorer_pJ(cfg)
    rows = []
    for keep in keeps:
        for n in ns:
            k = max(1, round(keep * n))
            row = {"n": n, "keep": keep, "dense attention": n * n * a * 1e-3}
            row |= {name: (n * s + k * k * a) * 1e-3 for name, s in systems.items()}
            rows.append(row)
    return {"projection": cfg.projection.kind, "projection_pJ_per_token": projection_pJ(cfg),
            "per_token_pJ": systems, "attention_pJ_per_element": a, "rows": rows,
            "break_even_n": {f"{name} @ keep {keep:g}": break_even_n(s, keep, a)
                             for name, s in systems.items() for keep in keeps}}


def break_even_markdown(table: dict) -> str:
    systems = list(table["per_token_pJ"])
    lines = [f"Projection `{table['projection']}`: {table['projection_pJ_per_token']:.1f} pJ/token; attention "
             f"{table['attention_pJ_per_element']:g} pJ per n² element. nJ per sequence; **bold** = below dense "
             "attention; ✓ = below the digital scorer's pruning too.", "",
             "| n | keep | dense | " + " | ".join(systems) + " |", "|---:|---:|---:|" + "---:|" * len(systems)]
    for r in table["rows"]:
        cells = []
        for name in systems:
            v = r[name]
            text = f"**{v:,.0f}**" if v < r["dense attention"] else f"{v:,.0f}"
            if name != "digital scorer" and v < r["digital scorer"]:
                text += " ✓"
            cells.append(text)
        lines.append(f"| {r['n']} | {r['keep']:g} | {r['dense attention']:,.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
