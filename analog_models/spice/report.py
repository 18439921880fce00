"""Every SPICE check of ``atis spice`` in one report, its JSON summary, and the fit file ``fpaa.spice_fit`` reads."""
from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from atis.config import AtisConfig
from atis.config_analog import SPICE_FIT_FORMAT

from . import ota_checks
from .card import CARD
from .comparator_check import comparator_check
from .keep_bits import keep_bit_check
from .runner import ngspice_version

__all__ = ["SpiceReport", "run_checks", "write_fit"]


def _scalars(d: dict) -> dict:
    return {k: v for k, v in d.items() if isinstance(v, int | float | str)}


def _finite(values) -> list[float | None]:
    """Delays in ns, 2 decimals; None where the comparator never switched."""
    return [round(float(v), 2) if math.isfinite(v) else None for v in values]


@dataclass
class SpiceReport:
    """Results of every check (curves included, for the plots); :meth:`summary` is the JSON of the figures."""
    tanh: dict
    gm_bias: dict
    temperature: dict
    mismatch: dict
    noise: dict
    comparator: dict
    keep: dict[int, dict] = field(default_factory=dict)
    keep_fitted: dict = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    ngspice: str = ""

    def fit(self) -> dict:
        """The OTA law as SPICE says: the keys ``fpaa.spice_fit`` sets."""
        return {"slope_n": round(self.tanh["slope_n_fit"], 4),
                "vth_tempco_mV_per_K": round(self.temperature["tempco_fit_mV_per_K"], 4),
                "gain_mismatch": round(self.mismatch["gain_sigma"], 4),
                "offset_mV": round(self.mismatch["offset_sigma_mV"], 3),
                "noise_factor": round(self.noise["gamma_in_band"], 3)}

    def summary(self) -> dict:
        cmp = self.comparator
        keep16 = self.keep.get(16) or next(iter(self.keep.values()))
        return {
            "tanh_error": self.tanh["tanh_error"], "temperature_error": self.temperature["temperature_error_fit"],
            "keep_agreement": keep16["keep_agreement"],
            "temperature_error_config": self.temperature["temperature_error"],
            "tanh_error_config": self.tanh["model_error"], "v_l_fit_mV": self.tanh["v_l_fit_V"] * 1e3,
            "v_l_model_mV": self.tanh["v_l_model_V"] * 1e3, "slope_n_fit": self.tanh["slope_n_fit"],
            "gm_ratio_vs_bias": dict(zip((f"{i * 1e9:g}nA" for i in self.gm_bias["i_bias_A"]),
                                         (round(float(r), 4) for r in self.gm_bias["ratio"]))),
            "drift_per_10C_spice": [round(float(d), 4) for d in self.temperature["drift_spice"]],
            "drift_per_10C_model": [round(float(d), 4) for d in self.temperature["drift_model"]],
            "drift_per_10C_fit": [round(float(d), 4) for d in self.temperature["drift_fit"]],
            "drift_from_C": [float(t) for t in self.temperature["step_from_C"]],
            "mismatch": _scalars(self.mismatch), "noise": _scalars(self.noise),
            "comparator": {**_scalars(cmp), "delay_rise_ns": _finite(cmp["delay_rise_ns"]),
                           "delay_fall_ns": _finite(cmp["delay_fall_ns"]),
                           "overdrive_mV": [float(o) * 1e3 for o in cmp["overdrive_V"]]},
            "keep_bits": {str(m): _scalars(k) for m, k in self.keep.items()},
            "keep_bits_fitted_model": _scalars(self.keep_fitted),
            "fit": self.fit(), "timings_s": self.timings_s, "ngspice": self.ngspice, "card": CARD.name}


def run_checks(cfg: AtisConfig, n_tokens: int = 1000, ms: tuple[int, ...] = (16,), mc_n: int = 200,
               n_reference: int = 1000, progress: Callable[[str], None] | None = None) -> SpiceReport:
    """Run every check on ``cfg``'s circuit; keep bits for each m in ``ms`` (model as configured), and at the
    first m once more with the fitted OTA law."""
    step = progress or (lambda _: None)
    times: dict[str, float] = {}

    def timed(name: str, what: str, fn, *args, **kw):
        step(what)
        started = time.perf_counter()
        out = fn(*args, **kw)
        times[name] = round(time.perf_counter() - started, 2)
        return out
    tanh = timed("tanh", "DC transfer and V_L fit", ota_checks.tanh_fit, cfg)
    gm = timed("gm_bias", "g_m vs I_bias", ota_checks.gm_vs_bias, cfg)
    temp = timed("temperature", "temperature sweep -20..+60 °C", ota_checks.temperature_sweep, cfg,
                 tanh["slope_n_fit"])
    mc = timed("mismatch", f"Monte Carlo mismatch ({mc_n} OTAs)", ota_checks.monte_carlo, cfg, mc_n)
    nz = timed("noise", ".noise", ota_checks.noise, cfg)
    cmp = timed("comparator", "comparator transients", comparator_check, cfg)
    report = SpiceReport(tanh, gm, temp, mc, nz, cmp, ngspice=ngspice_version())
    for m in ms:
        report.keep[m] = timed(f"keep_m{m}", f"keep bits: {n_tokens} tokens through the m = {m} array",
                               keep_bit_check, cfg, n_tokens, m, n_reference)
    law = {k: v for k, v in report.fit().items() if k not in ("gain_mismatch", "offset_mV")}  # netlist: nominal
    report.keep_fitted = timed("keep_fitted", "keep bits with the fitted OTA law", keep_bit_check, cfg, n_tokens,
                               ms[0], n_reference, {"fpaa": {"ota": law}})
    report.timings_s = times
    return report


def write_fit(report: SpiceReport, path: Path, cfg: AtisConfig) -> Path:
    """The ``fpaa.spice_fit`` file: the fitted keys plus what they were measured on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": SPICE_FIT_FORMAT, "fpaa": {"ota": report.fit()},
            "measured_on": {"card": CARD.name, "ngspice": report.ngspice, "i_bias_nA": cfg.fpaa.ota.i_bias_nA,
                            "vdd_V": cfg.fpaa.vdd_V, "program_temperature_C": cfg.fpaa.program_temperature_C,
                            "monte_carlo_otas": report.mismatch["n"], "noimod": report.noise["noimod"]}}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
