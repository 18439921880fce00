"""Netlists generated from the config: the OTA, the m-input OTA array into the TIA, and their test benches.

The OTA (``.subckt ota inp inn out fg vdd``) is a subthreshold NMOS differential pair with a PMOS current-mirror load
and an NMOS tail whose gate ``fg`` is the floating gate: a fixed voltage, programmed so the tail carries
``|w_j|·i_bias_nA`` at ``program_temperature_C`` (:mod:`.program`). It sources ``I1 - I2`` into ``out``; the signal
drives the output-side gate (``inn``) and the reference V_cm the other, so a rising input pulls current out of the
TIA's summing node, and the inverting TIA (``V = v_mid - R·I_node``) gives the model's ``v_mid + R·w·I_b·tanh``.
A negative weight swaps the two gates (the model's "sign by swapping the differential outputs", in effect).

Stated macromodels (not transistors): the input attenuator (each OTA gate = V_cm + ``input_gain``·(V_dac -
``dac.v_ref``), an ideal divider), and the TIA's op-amp (gain 1e5, output clipped to ``fpaa.tia`` rails) around a
real feedback resistor ``gain_Mohm``. V_cm = vdd/2 (the attenuator's output common mode, an assumption).
"""
from __future__ import annotations

import numpy as np

from atis.config import AtisConfig

from .card import OTA_DEVICES, card_text

__all__ = ["OTA_MISMATCH_KEYS", "Mismatch", "common_mode", "control", "header", "ota_instance", "tia",
           "pwl_source", "float_list"]

OTA_ROLES = (("m1", "pair"), ("m2", "pair"), ("m3", "mirror"), ("m4", "mirror"), ("m5", "tail"))
OTA_MISMATCH_KEYS = tuple(name for name, _ in OTA_ROLES)
OPAMP_GAIN = 1e5     # TIA op-amp open-loop gain: 1e5 × 1 MΩ feedback keeps the summing node within ~µV

Mismatch = dict[str, tuple[float, float]]   # transistor -> (ΔV_T in V, β factor)

_OTA_SUBCKT = """.subckt ota inp inn out fg vdd {params}
m1 d1 inp tail 0 {pair} delvto={{dv_m1}} mulu0={{mu_m1}}
m2 out inn tail 0 {pair} delvto={{dv_m2}} mulu0={{mu_m2}}
m3 d1 d1 vdd vdd {mirror} delvto={{dv_m3}} mulu0={{mu_m3}}
m4 out d1 vdd vdd {mirror} delvto={{dv_m4}} mulu0={{mu_m4}}
m5 tail fg 0 0 {tail} delvto={{dv_m5}} mulu0={{mu_m5}}
.ends ota
"""


def float_list(values) -> str:
    return " ".join(f"{float(v):.10g}" for v in np.ravel(values))


def common_mode(cfg: AtisConfig) -> float:
    """V_cm of the OTA inputs and the TIA's summing node reference: mid-supply."""
    return 0.5 * cfg.fpaa.vdd_V


def header(cfg: AtisConfig, title: str, temp_C: float, noimod: int | None = None) -> str:
    """Title, model card (inline), temperature, supply and the OTA subcircuit."""
    params = " ".join(f"dv_{k}=0 mu_{k}=1" for k in OTA_MISMATCH_KEYS)
    subckt = _OTA_SUBCKT.format(params=params, **{k: d.spice() for k, d in OTA_DEVICES.items()})
    return (f"* atis {title}\n{card_text(noimod)}\n.option temp={temp_C:.6g}\n"
            f"vdd vdd 0 {cfg.fpaa.vdd_V:.6g}\nvcm ref 0 {common_mode(cfg):.6g}\n{subckt}")


def ota_instance(name: str, signal: str, out: str, fg: str, positive: bool = True,
                 mismatch: Mismatch | None = None) -> str:
    """One OTA: ``signal`` on the output-side gate (``positive``) or the diode-side gate (a negative weight)."""
    inp, inn = ("ref", signal) if positive else (signal, "ref")
    extra = "".join(f" dv_{k}={dv:.6g} mu_{k}={mu:.6g}" for k, (dv, mu) in (mismatch or {}).items())
    return f"x{name} {inp} {inn} {out} {fg} vdd ota{extra}\n"


def tia(cfg: AtisConfig, node: str = "sum", out: str = "tia") -> str:
    """Feedback resistor + op-amp macromodel (output clipped to the TIA rails), non-inverting input at v_mid."""
    t = cfg.fpaa.tia
    return (f"rf {out} {node} {t.gain_Mohm * 1e6:.6g}\n"
            f"bamp {out} 0 v = max({t.rail_low:.6g}, min({t.rail_high:.6g}, "
            f"{t.v_mid:.6g} + {OPAMP_GAIN:.6g}*({t.v_mid:.6g} - v({node}))))\n")


def pwl_source(name: str, node: str, values: np.ndarray, control_node: str = "tok") -> str:
    """A behavioural source whose value is ``values[k]`` when v(control_node) = k: one DC sweep of the control
    node then walks through every token (each point warm-starts from the last)."""
    points = np.column_stack([np.arange(len(values)), values])
    return f"b{name} {node} 0 v = pwl(v({control_node}), {float_list(points).replace(' ', ', ')})\n"


def control(*commands: str) -> str:
    """The ``.control`` block: tables with one scale column and a header, 12 digits, then quit."""
    body = "\n".join(commands)
    return (".control\nset wr_singlescale\nset wr_vecnames\noption numdgt=12\n"
            f"{body}\nquit 0\n.endc\n.end\n")
