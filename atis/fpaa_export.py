"""``atis fpaa-export``: the analog side's program for the FPAA prototype, as a table for the vendor tool.

Per OTA input: its DAC channel and round, the prototype weight, and that weight quantized to the part's
programmable steps (``steps`` magnitude levels, sign by input polarity — e.g. 255 for an 8-bit capacitor-ratio
gain). Plus θ, the hysteresis band and the TIA gain from the calibrated model, and what the quantization costs:
weight error and the rank correlation of scores with programmed vs ideal weights.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from .analog_models.scoring import scorer_model
from .config import AtisConfig
from .golden.sequencer import resolve_sequencer

__all__ = ["fpaa_program", "write_fpaa_program"]


def fpaa_program(cfg: AtisConfig, steps: int = 255, seed: int = 0) -> dict:
    """The program (rows + settings) and its quantization error, for circuit 0 of the configured FPAA."""
    if steps < 1:
        raise ValueError("steps must be >= 1")
    model = scorer_model(cfg)
    seq = resolve_sequencer(cfg)
    w = model.float_weights[0]
    programmed = np.round(np.abs(w) * steps) / steps * np.sign(w)
    rows = [{"input": j, "dac_channel": j % seq.n_dac, "round": j // seq.n_dac, "weight": round(float(w[j]), 6),
             "polarity": "+" if programmed[j] >= 0 else "-", "gain_steps": int(round(abs(w[j]) * steps)),
             "gain": round(float(abs(programmed[j])), 6), "error": round(float(programmed[j] - w[j]), 6)}
            for j in range(len(w))]
    x = np.random.default_rng(seed).standard_normal((20_000, len(w)))
    theta = float(model.comparators.theta[0])
    return {
        "rows": rows,
        "settings": {"theta_V_above_tia_zero": theta,
                     "hysteresis_mV": 1e3 * cfg.fpaa.comparator.hysteresis_frac * abs(theta),
                     "tia_gain_Mohm": cfg.fpaa.tia.gain_Mohm, "tia_zero_V": cfg.fpaa.tia.v_mid,
                     "ota_bias_nA_full_scale": cfg.fpaa.ota.i_bias_nA, "gain_steps": steps},
        "quantization": {"max_abs_weight_error": float(np.max(np.abs(programmed - w))),
                         "rms_weight_error": float(np.sqrt(np.mean((programmed - w) ** 2))),
                         "spearman_programmed_vs_ideal": float(spearmanr(x @ programmed, x @ w).statistic)},
    }


def write_fpaa_program(program: dict, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    table, full = out_dir / "fpaa_program.csv", out_dir / "fpaa_program.json"
    with table.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(program["rows"][0]))
        writer.writeheader()
        writer.writerows(program["rows"])
    full.write_text(json.dumps(program, indent=2))
    return table, full
