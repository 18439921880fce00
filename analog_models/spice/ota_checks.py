"""One OTA in SPICE against the behavioral law of :mod:`analog_models.ota`: DC transfer (tanh, V_L), g_m vs I_bias,
g_m vs temperature, Monte Carlo mismatch (Pelgrom) and ``.noise``. Each returns plain numbers and curves."""
from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

from atis.config import AtisConfig, OtaConfig

from ..ota import ELECTRON_CHARGE, OtaArray, thermal_voltage
from .bench import OtaBench
from .card import OTA_DEVICES
from .netlists import OTA_MISMATCH_KEYS, common_mode
from .runner import run_spice

__all__ = ["dac_input_range", "tanh_fit", "gm_vs_bias", "temperature_sweep", "drift_law", "fit_tempco",
           "monte_carlo", "noise", "TEMPERATURES_C", "BIAS_FACTORS"]

TEMPERATURES_C = np.arange(-20.0, 61.0, 10.0)            # the issue's −20…+60 °C, 10 °C steps
BIAS_FACTORS = np.array([0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0])   # × i_bias_nA (above ~20× the pair runs out of V_cm)


def dac_input_range(cfg: AtisConfig) -> tuple[float, float]:
    """The OTA's differential input over the DAC's output range: input_gain·(v - v_ref), v in v_zero..v_full."""
    g, d = cfg.fpaa.ota.input_gain, cfg.dac
    return g * (d.v_zero - d.v_ref), g * (d.v_full - d.v_ref)


def _fit_tanh(v: np.ndarray, i: np.ndarray, amplitude: float, v_l0: float) -> tuple[float, float, np.ndarray]:
    """V_L and offset of ``i = -amplitude·tanh((v - vos)/V_L)`` (the bench's sign), residual."""
    res = least_squares(lambda p: -np.tanh((v - p[1]) / p[0]) - i / amplitude, [v_l0, 0.0], x_scale=[v_l0, 1e-3])
    return float(res.x[0]), float(res.x[1]), res.fun * amplitude


def tanh_fit(cfg: AtisConfig, points: int = 101) -> dict:
    """DC transfer of a full-scale OTA at the programming temperature over the DAC input range; the tanh law with
    amplitude I_b (programmed) and V_L, offset fitted. Errors are fractions of I_b (full scale)."""
    f = cfg.fpaa
    i_b = f.ota.i_bias_nA * 1e-9
    t_p = f.program_temperature_C
    bench = OtaBench(cfg, np.array([i_b]))
    v = np.linspace(*dac_input_range(cfg), points)
    i = bench.sweep(v, t_p)[:, 0]
    v_l_model = 2 * f.ota.slope_n * thermal_voltage(t_p)
    v_l, vos, resid = _fit_tanh(v, i, i_b, v_l_model)
    model = -i_b * np.tanh(v / v_l_model)
    return {"v_V": v, "i_A": i, "fit_A": i - resid, "model_A": model, "i_bias_A": i_b,
            "v_l_fit_V": v_l, "v_l_model_V": v_l_model, "slope_n_fit": v_l / (2 * thermal_voltage(t_p)),
            "offset_V": vos, "tanh_error": float(np.max(np.abs(resid)) / i_b),
            "model_error": float(np.max(np.abs(i - model)) / i_b), "gates_V": bench.gates}


def gm_vs_bias(cfg: AtisConfig) -> dict:
    """Small-signal g_m of OTAs programmed to BIAS_FACTORS × i_bias, against the law g_m = I_b / V_L (config n)."""
    f = cfg.fpaa
    currents = BIAS_FACTORS * f.ota.i_bias_nA * 1e-9
    bench = OtaBench(cfg, currents)
    gm = bench.transconductance(f.program_temperature_C)
    law = currents / (2 * f.ota.slope_n * thermal_voltage(f.program_temperature_C))
    return {"i_bias_A": currents, "gm_S": gm, "gm_law_S": law, "ratio": gm / law}


def drift_law(temps_C: np.ndarray, tempco_mV_per_K: float, slope_n: float, t_p: float) -> np.ndarray:
    """The model's g_m(T)/g_m(T_p) (analog_models.ota.OtaArray.bias / linear_range), evaluated standalone."""
    ota = OtaArray(OtaConfig(vth_tempco_mV_per_K=tempco_mV_per_K, slope_n=slope_n), 1, np.zeros(1, int), t_p,
                   np.random.default_rng(0))
    return np.array([ota.transconductance(t) for t in temps_C]) / ota.transconductance(t_p)


def _step_drift(temps: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """g_m change per 10 °C step between consecutive sweep temperatures."""
    return ratio[1:] / ratio[:-1] - 1.0


def fit_tempco(temps: np.ndarray, ratio: np.ndarray, slope_n: float, t_p: float) -> float:
    """The vth_tempco_mV_per_K whose model law best matches the SPICE g_m ratios (least squares in log)."""
    res = least_squares(lambda a: np.log(drift_law(temps, a[0], slope_n, t_p)) - np.log(ratio), [1.3],
                        bounds=([0.0], [10.0]))
    return float(res.x[0])


def temperature_sweep(cfg: AtisConfig, slope_n_fit: float) -> dict:
    """g_m of a full-scale OTA programmed at T_p (gate then fixed) from −20 to +60 °C, vs the model's law with the
    config's α and n, and with α refitted for the SPICE V_L (``slope_n_fit``). ``*_error`` = the largest relative
    difference of the per-10 °C drift, model vs SPICE."""
    f = cfg.fpaa
    t_p = f.program_temperature_C
    bench = OtaBench(cfg, np.array([f.ota.i_bias_nA * 1e-9]))
    temps = np.union1d(TEMPERATURES_C, [t_p])
    gm = np.array([bench.transconductance(t)[0] for t in temps])
    ratio = gm / gm[temps == t_p][0]
    model = drift_law(temps, f.ota.vth_tempco_mV_per_K, f.ota.slope_n, t_p)
    tempco = fit_tempco(temps, ratio, slope_n_fit, t_p)
    fitted = drift_law(temps, tempco, slope_n_fit, t_p)
    steps = np.isin(temps[1:] - temps[:-1], [10.0])
    d_spice = _step_drift(temps, ratio)[steps]
    d_model, d_fit = _step_drift(temps, model)[steps], _step_drift(temps, fitted)[steps]
    return {"temps_C": temps, "gm_S": gm, "ratio": ratio, "model_ratio": model, "fitted_ratio": fitted,
            "step_from_C": temps[:-1][steps], "drift_spice": d_spice, "drift_model": d_model, "drift_fit": d_fit,
            "temperature_error": float(np.max(np.abs(d_model / d_spice - 1))),
            "temperature_error_fit": float(np.max(np.abs(d_fit / d_spice - 1))), "tempco_fit_mV_per_K": tempco}


def monte_carlo(cfg: AtisConfig, n: int = 200, seed: int | None = None) -> dict:
    """``n`` OTAs with Pelgrom mismatch on all five transistors (seeded from ``fpaa.seed``), each tail programmed
    to I_b (programming trims the tail's own mismatch, as on the chip); per OTA the model's two parameters are fitted,
    amplitude (1 + ε) and offset vos, with V_L fixed at the nominal fit. σ(ε), σ(vos) vs the config."""
    f = cfg.fpaa
    rng = np.random.default_rng(f.seed if seed is None else seed)
    roles = dict(zip(OTA_MISMATCH_KEYS, ("pair", "pair", "mirror", "mirror", "tail")))
    draws = [None] + [{k: (rng.normal(0, OTA_DEVICES[r].sigma_vt()), 1 + rng.normal(0, OTA_DEVICES[r].sigma_beta()))
                       for k, r in roles.items()} for _ in range(n)]
    i_b = f.ota.i_bias_nA * 1e-9
    bench = OtaBench(cfg, np.full(n + 1, i_b), draws)
    v = np.linspace(*dac_input_range(cfg), 41)
    i = bench.sweep(v, f.program_temperature_C)
    v_l, vos0, _ = _fit_tanh(v, i[:, 0], i_b, 2 * f.ota.slope_n * thermal_voltage(f.program_temperature_C))
    fits = np.array([least_squares(lambda p, col=col: -p[0] * np.tanh((v - p[1]) / v_l) - col / i_b,
                                   [1.0, vos0], x_scale=[0.01, 1e-3]).x for col in i[:, 1:].T])
    gain, offset = fits[:, 0] - 1.0, fits[:, 1] - vos0
    return {"n": n, "gain": gain, "offset_V": offset, "gain_sigma": float(np.std(gain, ddof=1)),
            "offset_sigma_mV": float(np.std(offset, ddof=1) * 1e3), "config_gain_sigma": f.ota.gain_mismatch,
            "gain_offset_corr": float(np.corrcoef(gain, offset)[0, 1]),
            "config_offset_mV": f.ota.offset_mV, "tail_gate_sigma_mV": float(np.std(bench.gates[1:]) * 1e3),
            "pelgrom": {role: {"sigma_vt_mV": d.sigma_vt() * 1e3, "sigma_beta": d.sigma_beta(),
                               "area_um2": d.area_um2} for role, d in OTA_DEVICES.items()}}


def noise(cfg: AtisConfig, noimod: int = 4) -> dict:
    """``.noise`` of a full-scale OTA's output current (read through a noiseless CCVS) at zero input: the white
    level and the level averaged over the model's noise bandwidth (the token rate), as the model's excess factor
    γ in 2·q·γ·I_tail."""
    f = cfg.fpaa
    i_b = f.ota.i_bias_nA * 1e-9
    bench = OtaBench(cfg, np.array([i_b]), noimod=noimod)
    bandwidth = f.token_rate_MHz * 1e6
    text = bench.netlist(bench.gates, f.temperature_C, f"vsig sig 0 dc {common_mode(cfg)} ac 1\n"
                         "h1 nout 0 vo0 1e6\n",
                         [f"noise v(nout) vsig dec 20 1 {bandwidth:.6g}", "setplot noise1",
                          "wrdata noise.txt onoise_spectrum"])
    table = run_spice(text, ("noise.txt",))["noise.txt"]
    freq, s_i = table[:, 0], (table[:, 1] / 1e6) ** 2           # A²/Hz
    shot = 2 * ELECTRON_CHARGE * i_b
    mean = float(np.trapezoid(s_i, freq) / (freq[-1] - freq[0]))
    return {"freq_Hz": freq, "s_i_A2_per_Hz": s_i, "gamma_white": float(s_i[0] / shot),
            "gamma_in_band": mean / shot, "config_noise_factor": f.ota.noise_factor, "noimod": noimod,
            "bandwidth_Hz": bandwidth}
