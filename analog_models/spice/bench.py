"""The single-OTA test bench: K OTAs side by side, each output held at the TIA's virtual ground by a voltage source
(so ``i(vo_k)`` is OTA k's output current), gates programmed by :func:`program_gates`, one shared input node."""
from __future__ import annotations

import numpy as np

from atis.config import AtisConfig

from ..ota import thermal_voltage
from .netlists import Mismatch, common_mode, control, header, ota_instance
from .program import program_gates
from .runner import run_spice

__all__ = ["OtaBench"]


class OtaBench:
    """``k`` OTAs whose tails are programmed to ``currents_A`` at ``fpaa.program_temperature_C``."""

    def __init__(self, cfg: AtisConfig, currents_A: np.ndarray, mismatch: list[Mismatch] | None = None,
                 noimod: int | None = None):
        self.cfg, self.currents = cfg, np.asarray(currents_A, dtype=float)
        self.k = len(self.currents)
        self.mismatch = mismatch or [None] * self.k
        self.noimod = noimod
        t_p = cfg.fpaa.program_temperature_C
        self.gates = program_gates(self._tails, self.currents, thermal_voltage(t_p))

    def netlist(self, gates: np.ndarray, temp_C: float, signal: str, commands: list[str]) -> str:
        """Bench text: ``signal`` is the source line(s) defining node ``sig``."""
        v_mid = self.cfg.fpaa.tia.v_mid
        parts = [header(self.cfg, "OTA bench", temp_C, self.noimod), signal]
        for k in range(self.k):
            parts.append(f"vfg{k} fg{k} 0 {gates[k]:.10g}\n")
            parts.append(ota_instance(str(k), "sig", f"o{k}", f"fg{k}", True, self.mismatch[k]))
            parts.append(f"vo{k} o{k} 0 {v_mid:.6g}\n")
        return "".join(parts) + control(*commands)

    def _tails(self, gates: np.ndarray) -> np.ndarray:
        vectors = " ".join(f"@m.x{k}.m5[id]" for k in range(self.k))
        text = self.netlist(gates, self.cfg.fpaa.program_temperature_C, f"vsig sig 0 {common_mode(self.cfg)}\n",
                            ["op", f"wrdata tails.txt {vectors}"])
        return run_spice(text, ("tails.txt",))["tails.txt"][0, 1:]

    def sweep(self, v_in: np.ndarray, temp_C: float) -> np.ndarray:
        """Output currents ``[len(v_in), k]`` (A, sourced into the output) for differential inputs ``v_in`` (V,
        the output-side gate above V_cm), evenly spaced."""
        v_in = np.asarray(v_in, dtype=float)
        v_cm = common_mode(self.cfg)
        step = (v_in[-1] - v_in[0]) / max(len(v_in) - 1, 1)
        currents = " ".join(f"i(vo{k})" for k in range(self.k))
        text = self.netlist(self.gates, temp_C, f"vsig sig 0 {v_cm}\n",
                            [f"dc vsig {v_cm + v_in[0]:.10g} {v_cm + v_in[-1] + 0.5 * step:.10g} {step:.10g}",
                             f"wrdata dc.txt {currents}"])
        table = run_spice(text, ("dc.txt",))["dc.txt"]
        return table[:len(v_in), 1:]

    def transconductance(self, temp_C: float, dv: float = 1e-3) -> np.ndarray:
        """Small-signal g_m (S) of each OTA at zero input, from ±``dv``."""
        i = self.sweep(np.array([-dv, 0.0, dv]), temp_C)
        return -(i[2] - i[0]) / (2 * dv)
