"""OTA array with floating-gate weights: the analog inner product (seed §3.3), its limits (§4.1) and drift (§5.3).

Each OTA ``j`` of circuit ``g`` is a subthreshold differential pair whose tail current is set by a floating gate
programmed to ``|w_gj|·I_bias`` (sign by swapping the differential outputs)::

    I_gj = w_gj · (1 + ε_gj) · I_b(T) · tanh((v_j - vos_gj) / V_L(T)),     V_L = 2·n·U_T,   U_T = kT/q

so ``g_m = I_b / V_L`` for small inputs and ``I_b`` at most for large ones (limited linearity). ``w`` is quantized
to ``weight_bits`` (sign included); ``ε`` (gain) and ``vos`` (offset) are seeded per-OTA mismatch.

**Temperature law** (stated, seed §5.3): the floating gate holds its charge, so ``V_gs`` is fixed while the
threshold voltage falls by ``α`` (``vth_tempco_mV_per_K``) per kelvin; through the subthreshold exponential::

    I_b(T) = I_b(T_p) · exp(α·(T - T_p) / (n·U_T(T_p)))          (T_p = programming temperature)
    g_m(T) / g_m(T_p) = I_b(T)/I_b(T_p) · U_T(T_p)/U_T(T)

With α = 1.3 mV/K, n = 1.5 at 27 °C this is +35 % for ΔT = +10 °C — the seed's 30-40 %.
Noise: each OTA adds shot-like current noise of density ``2·q·γ·I_tail`` over a bandwidth equal to the token rate;
being independent, the array's noise is one Gaussian per evaluation with the summed variance.
"""
from __future__ import annotations

import numpy as np

from atis.config import OtaConfig

__all__ = ["OtaArray", "thermal_voltage", "quantize_weights"]

BOLTZMANN_OVER_Q = 8.617333262e-5   # V/K
ELECTRON_CHARGE = 1.602176634e-19   # C


def thermal_voltage(temp_C: float) -> float:
    """U_T = kT/q in volts."""
    return BOLTZMANN_OVER_Q * (temp_C + 273.15)


def quantize_weights(w: np.ndarray, bits: int) -> np.ndarray:
    """Floating-gate weight programming: symmetric, ``bits`` including sign, values in [-1, 1]."""
    levels = (1 << (bits - 1)) - 1
    return np.round(np.clip(w, -1.0, 1.0) * levels) / levels


class OtaArray:
    """``n_arrays`` physical arrays of ``m`` OTAs; circuit ``g`` runs on array ``array_of[g]``."""

    def __init__(self, cfg: OtaConfig, m: int, array_of: np.ndarray, program_temperature_C: float,
                 rng: np.random.Generator):
        self.cfg, self.m = cfg, m
        self.array_of = np.asarray(array_of)
        n_arrays = int(self.array_of.max()) + 1
        self.gain = 1.0 + rng.normal(0.0, cfg.gain_mismatch, size=(n_arrays, m))
        self.offset = rng.normal(0.0, cfg.offset_mV * 1e-3, size=(n_arrays, m))
        self.program_temperature_C = program_temperature_C

    def bias(self, temp_C: float) -> float:
        """Tail current I_b(T) of a full-scale OTA in amperes (the temperature law above)."""
        n, t_p = self.cfg.slope_n, self.program_temperature_C
        drift = self.cfg.vth_tempco_mV_per_K * 1e-3 * (temp_C - t_p) / (n * thermal_voltage(t_p))
        return self.cfg.i_bias_nA * 1e-9 * float(np.exp(drift))

    def linear_range(self, temp_C: float) -> float:
        """V_L = 2·n·U_T (volts): the input scale of tanh."""
        return 2.0 * self.cfg.slope_n * thermal_voltage(temp_C)

    def transconductance(self, temp_C: float) -> float:
        """Small-signal g_m of a full-scale, mismatch-free OTA (siemens)."""
        return self.bias(temp_C) / self.linear_range(temp_C)

    def currents(self, v_in: np.ndarray, weights: np.ndarray, temp_C: float) -> np.ndarray:
        """KCL sums ``I[N, G]`` (amperes) for OTA inputs ``v_in[N, m]`` (volts, relative to V_ref).

        ``weights`` is ``[G, m]`` (static prototypes) or ``[N, G, m]`` (per-token, EMA prototype).
        """
        scale, v_l = self.bias(temp_C), self.linear_range(temp_C)
        out = np.empty((v_in.shape[0], len(self.array_of)))
        for a in np.unique(self.array_of):
            circuits = np.flatnonzero(self.array_of == a)
            x = np.tanh((v_in - self.offset[a]) / v_l)
            if weights.ndim == 2:
                out[:, circuits] = x @ (weights[circuits] * self.gain[a]).T
            else:
                out[:, circuits] = np.einsum("nm,ngm->ng", x, weights[:, circuits] * self.gain[a])
        return out * scale

    def noise_sigma(self, weights: np.ndarray, temp_C: float, bandwidth_Hz: float) -> np.ndarray:
        """σ (amperes) of the summed OTA current noise per circuit, ``[G]`` or ``[N, G]``."""
        tail = np.abs(weights).sum(axis=-1) * self.bias(temp_C)
        return np.sqrt(2.0 * ELECTRON_CHARGE * self.cfg.noise_factor * tail * bandwidth_Hz)
