"""The comparator with hysteresis in SPICE: transistor-level core, resistive positive feedback, transient runs.

Core: NMOS-input 5-transistor amplifier (tail mirrored from a bias current I_c) and two CMOS inverters, so the
output swings rail to rail. Hysteresis is the classic non-inverting Schmitt network, designed from the config:
the TIA output ``v`` reaches the + input through R1, the comparator output feeds back through R2, the - input is
a reference, so the trip points are ``θ_ref·(R1+R2)/R2`` (rising) and that minus ``vdd·R1/R2`` (falling):
R1/R2 = h/vdd with h = ``hysteresis_frac``·|θ|, and θ_ref centres the band on v_mid + θ. I_c is sized by bisection
so the delay at :data:`DESIGN_OVERDRIVE_V` equals ``delay_ns``; the other overdrives show what a fixed delay misses.
"""
from __future__ import annotations

import numpy as np

from atis.config import AtisConfig

from .card import COMPARATOR_DEVICES as DEV
from .card import card_text
from .runner import SpiceError, run_spice

__all__ = ["comparator_check", "DESIGN_OVERDRIVE_V", "OVERDRIVES_V"]

DESIGN_OVERDRIVE_V = 0.01                                 # overdrive past the trip point the delay is sized at
OVERDRIVES_V = np.array([0.001, 0.002, 0.005, 0.01, 0.02, 0.05])
R2_OHM = 10e6          # feedback resistor: large, so the output barely loads the TIA through R1 + R2
_STEP_NS, _HOLD_NS = 100.0, 300.0


def _netlist(cfg: AtisConfig, theta: float, i_c: float, source: str, tran: str) -> str:
    f = cfg.fpaa
    vdd, h = f.vdd_V, f.comparator.hysteresis_frac * abs(theta)
    center = f.tia.v_mid + theta
    r1 = R2_OHM * h / vdd
    v_ref = (center + 0.5 * h) * R2_OHM / (r1 + R2_OHM)
    return (f"* atis comparator with hysteresis\n{card_text()}\n.option temp={f.temperature_C:.6g}\n"
            f"vdd vdd 0 {vdd:.6g}\nvrefc nref 0 {v_ref:.10g}\n{source}"
            f"r1 v p {r1:.6g}\nr2 out p {R2_OHM:.6g}\n"
            f"ib vdd nb {i_c:.6g}\nmb nb nb 0 0 {DEV['tail'].spice()}\nmt tail nb 0 0 {DEV['tail'].spice()}\n"
            f"m1 d1 p tail 0 {DEV['pair'].spice()}\nm2 o1 nref tail 0 {DEV['pair'].spice()}\n"
            f"m3 d1 d1 vdd vdd {DEV['mirror'].spice()}\nm4 o1 d1 vdd vdd {DEV['mirror'].spice()}\n"
            f"mn1 o2 o1 0 0 {DEV['inv_n'].spice()}\nmp1 o2 o1 vdd vdd {DEV['inv_p'].spice()}\n"
            f"mn2 out o2 0 0 {DEV['inv_n'].spice()}\nmp2 out o2 vdd vdd {DEV['inv_p'].spice()}\n"
            f".control\nset wr_singlescale\nset wr_vecnames\noption numdgt=12\n{tran}\n"
            "wrdata tran.txt v(v) v(out)\nquit 0\n.endc\n.end\n")


def _crossings(t: np.ndarray, y: np.ndarray, level: float, rising: bool) -> np.ndarray:
    above = y > level
    idx = np.flatnonzero(above[1:] & ~above[:-1]) if rising else np.flatnonzero(~above[1:] & above[:-1])
    return t[idx] + (level - y[idx]) * (t[idx + 1] - t[idx]) / (y[idx + 1] - y[idx])


def _delays(cfg: AtisConfig, theta: float, i_c: float, overdrive: float) -> tuple[float, float]:
    """(rising, falling) delay in ns: the input steps from below the band to ``overdrive`` past the rising trip
    point, holds, then steps to ``overdrive`` below the falling one; delay = step to output at vdd/2."""
    f = cfg.fpaa
    h, center = f.comparator.hysteresis_frac * abs(theta), f.tia.v_mid + theta
    lo, hi = center - 0.5 * h - overdrive, center + 0.5 * h + overdrive
    t1, t2 = _STEP_NS, _STEP_NS + _HOLD_NS
    pwl = f"vin v 0 pwl(0 {lo} {t1}n {lo} {t1 + 0.1}n {hi} {t2}n {hi} {t2 + 0.1}n {lo})\n"
    table = run_spice(_netlist(cfg, theta, i_c, pwl, f"tran 0.1n {t2 + _HOLD_NS}n"), ("tran.txt",))["tran.txt"]
    t, out = table[:, 0] * 1e9, table[:, 2]
    up, down = _crossings(t, out, 0.5 * f.vdd_V, True), _crossings(t, out, 0.5 * f.vdd_V, False)
    up, down = up[up > t1], down[down > t2]
    return (float(up[0] - t1) if len(up) else np.inf), (float(down[0] - t2) if len(down) else np.inf)


def _size_bias(cfg: AtisConfig, theta: float) -> float:
    """I_c (A) whose rising delay at DESIGN_OVERDRIVE_V is ``delay_ns`` (bisection in log I_c)."""
    target = cfg.fpaa.comparator.delay_ns
    lo, hi = np.log(1e-7), np.log(1e-5)
    for _ in range(9):                                       # 1 % in I_c
        mid = 0.5 * (lo + hi)
        slow = _delays(cfg, theta, float(np.exp(mid)), DESIGN_OVERDRIVE_V)[0] > target
        lo, hi = (mid, hi) if slow else (lo, mid)
    return float(np.exp(hi))


def comparator_check(cfg: AtisConfig, theta: float | None = None, bias_current_A: float | None = None,
                     overdrives_V: np.ndarray = OVERDRIVES_V) -> dict:
    """Delay vs overdrive and the measured hysteresis band (slow triangle sweep) of the comparator designed for
    θ (default ``comparator.theta_V``), against ``delay_ns`` and ``hysteresis_frac``; the bias current is sized
    for ``delay_ns`` unless given."""
    c = cfg.fpaa.comparator
    theta = c.theta_V if theta is None else theta
    i_c = _size_bias(cfg, theta) if bias_current_A is None else bias_current_A
    delays = np.array([_delays(cfg, theta, i_c, od) for od in overdrives_V]).reshape(-1, 2)
    h, center = c.hysteresis_frac * abs(theta), cfg.fpaa.tia.v_mid + theta
    ramp_us = 20.0          # 6h per ramp: 0.75 mV/µs at h = 2.5 mV, 0.015 mV during a 20 ns delay
    pwl = (f"vin v 0 pwl(0 {center - 3 * h} {ramp_us}u {center + 3 * h} {2 * ramp_us}u {center - 3 * h})\n")
    table = run_spice(_netlist(cfg, theta, i_c, pwl, f"tran 10n {2 * ramp_us}u"), ("tran.txt",))["tran.txt"]
    t, v, out = table[:, 0], table[:, 1], table[:, 2]
    level = 0.5 * cfg.fpaa.vdd_V
    rise_t, fall_t = _crossings(t, out, level, True), _crossings(t, out, level, False)
    if not len(rise_t) or not len(fall_t):
        raise SpiceError("comparator: the output never switched on the triangle sweep around θ")
    v_rise, v_fall = float(np.interp(rise_t[0], t, v)), float(np.interp(fall_t[-1], t, v))
    band = v_rise - v_fall
    return {"theta_V": theta, "bias_current_A": i_c, "overdrive_V": np.asarray(overdrives_V),
            "delay_rise_ns": delays[:, 0], "delay_fall_ns": delays[:, 1], "config_delay_ns": c.delay_ns,
            "trip_rise_V": v_rise - cfg.fpaa.tia.v_mid, "trip_fall_V": v_fall - cfg.fpaa.tia.v_mid,
            "band_V": band, "band_frac": band / abs(theta),
            "config_hysteresis_frac": c.hysteresis_frac,
            "center_error_mV": (0.5 * (v_rise + v_fall) - center) * 1e3,
            "triangle": {"t_s": t, "v_V": v - cfg.fpaa.tia.v_mid, "out_V": out}}
