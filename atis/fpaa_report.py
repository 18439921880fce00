"""``atis fpaa``: characterize the configured FPAA model on the real input chain (int8 tokens -> golden projection
-> DAC codes): operating point, keep ratio, temperature drift with and without trim, fidelity per DAC width, speed."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from atis.analog_models import FpaaModel
from atis.analog_models.fidelity import fidelity

from .config import AtisConfig
from .golden.projection import projection_codes, resolve_projection
from .golden.reference import random_tokens, reference_codes

__all__ = ["FpaaReport", "characterize", "fpaa_plot", "TEMPERATURE_STEPS"]

TEMPERATURE_STEPS = (-20.0, -10.0, -5.0, 0.0, 5.0, 10.0, 20.0)   # °C from the configured temperature


@dataclass
class FpaaReport:
    operating_point: dict[str, float]
    keep: dict[str, float]
    drift: dict[float, dict[str, float]] = field(default_factory=dict)
    fidelity: dict[int, dict[str, float]] = field(default_factory=dict)

    def summary(self) -> dict:
        return {**self.operating_point, **{f"keep_{k}": v for k, v in self.keep.items()},
                "drift": {str(k): v for k, v in self.drift.items()},
                "spearman_by_bits": {str(b): r["spearman"] for b, r in self.fidelity.items()}}


def _model(cfg: AtisConfig, refs: np.ndarray, temp_C: float) -> FpaaModel:
    model = FpaaModel(cfg, reference_codes=refs)
    model.temperature_C = temp_C
    return model


def characterize(cfg: AtisConfig, n: int = 20_000, seed: int = 0, progress=None) -> FpaaReport:
    """Everything ``atis fpaa`` prints; ``progress(step)`` is called before each step."""
    step = progress or (lambda _: None)
    spec = resolve_projection(cfg)
    refs = reference_codes(cfg, spec)
    codes = projection_codes(random_tokens(cfg, n, seed), spec)
    t0 = cfg.fpaa.temperature_C

    step("scoring at the configured temperature")
    model = FpaaModel(cfg, reference_codes=refs)
    started = time.perf_counter()
    result = model.score(codes)
    elapsed = time.perf_counter() - started
    f = cfg.fpaa
    band = f.comparator.hysteresis_frac * np.abs(model.comparators.theta)
    full = (1 << cfg.projection.dac_bits) - 1
    op = {
        "temperature_C": t0,
        "gm_uS": model.ota.transconductance(t0) * 1e6,
        "v_linear_mV": model.ota.linear_range(t0) * 1e3,
        "noise_mV_rms": float(model.ota.noise_sigma(model.weights, t0, f.token_rate_MHz * 1e6).mean()
                              * f.tia.gain_Mohm * 1e6 * 1e3),
        "score_spread_mV": float(result.score.std() * 1e3),
        "theta_V": float(model.comparators.theta.mean()),
        "hysteresis_mV": float(band.mean() * 1e3),
        "dac_codes_at_rails": float(np.mean((codes == 0) | (codes == full))),
        "tia_outputs_at_rails": float(np.mean((result.circuits <= f.tia.rail_low - f.tia.v_mid) |
                                              (result.circuits >= f.tia.rail_high - f.tia.v_mid))),
        "model_tokens_per_s": n / elapsed,
    }
    keep = {"nominal": float(result.keep.mean()), "target": f.comparator.keep_target}

    drift = {}
    for dt in TEMPERATURE_STEPS:
        step(f"temperature {dt:+g} °C")
        row = {"gm_ratio": model.ota.transconductance(t0 + dt) / model.ota.transconductance(t0),
               "uncalibrated": float(_model(cfg, refs, t0 + dt).score(codes).keep.mean())}
        for trim in ("threshold", "gain"):
            trimmed = _model(cfg, refs, t0 + dt)
            trimmed.recalibrate(trim)
            row[f"{trim}_trim"] = float(trimmed.score(codes).keep.mean())
        drift[dt] = row
    step("fidelity per DAC width")
    return FpaaReport(op, keep, drift, fidelity(cfg, n=n, seed=seed))


def fpaa_plot(report: FpaaReport, path: Path) -> Path:
    """Keep ratio vs temperature step (raw and trimmed) and Spearman fidelity vs DAC width."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    steps = sorted(report.drift)
    for key, label in (("uncalibrated", "no trim"), ("threshold_trim", "θ re-trimmed"),
                       ("gain_trim", "TIA gain re-trimmed")):
        left.plot(steps, [report.drift[s][key] for s in steps], marker="o", label=label)
    left.axhline(report.keep["target"], color="grey", linestyle=":", label="target")
    left.set_xlabel("temperature step (°C)")
    left.set_ylabel("kept fraction")
    left.set_title("keep ratio under drift (seed §5.3)")
    left.legend()
    bits = sorted(report.fidelity)
    right.plot(bits, [report.fidelity[b]["spearman"] for b in bits], marker="o", label="FPAA model")
    right.plot(bits, [report.fidelity[b]["spearman_quantized_ideal"] for b in bits], marker="s", linestyle="--",
               label="ideal dot of quantized tokens")
    right.set_xlabel("DAC bits")
    right.set_ylabel("Spearman vs float dot product")
    right.set_title("ranking fidelity (seed §4.1)")
    right.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
