"""OTA array with floating-gate weights: the analog inner product (seed §3.3), its limits (§4.1) and drift (§5.3).

Each OTA ``j`` of circuit ``g`` is a subthreshold differential pair whose tail current is set by a floating gate
programmed to ``|w_gj|·I_bias`` (sign by swapping the differential outputs)::

    I_gj = w_gj · (1 + ε_gj) · I_b(T) · tanh((v_j - vos_gj) / V_L(T)),     V_L = 2·n·U_T,   U_T = kT/q

so ``g_m = I_b / V_L`` for small inputs and ``I_b`` at most for large ones (limited linearity). ``w`` is quantized
to ``weight_bits`` (sign included); ``ε`` (gain) and ``vos`` (offset) are seeded per-OTA mismatch.

**Temperature law** (stated, seed §5.3): the floating gate holds its charge, so ``V_gs`` is fixed while the
threshold voltage falls by ``α`` (``vth_tempco_mV_per_K``) per kelvin; through the subthreshold exponential
exp((V_gs - V_th(T)) / (n·U_T(T))), with V_gs ≈ V_th at programming::

    I_b(T) = I_b(T_p) · exp(α·(T - T_p) / (n·U_T(T)))            (T_p = programming temperature)
    g_m(T) / g_m(T_p) = I_b(T)/I_b(T_p) · U_T(T_p)/U_T(T)

U_T(T), not U_T(T_p), in the exponent: the drift per 10 °C shrinks as it gets warmer, as ngspice shows for the
PTM 180 nm card (``atis spice``: 40 % at -20 °C to 22 % at +50 °C; a U_T(T_p) law stays at 35 % and misses by
up to 61 %). With α = 1.3 mV/K, n = 1.5 at 27 °C this is +34 % for ΔT = +10 °C — the seed's 30-40 %.
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
        self.bias_scale = 1.0      # supply droop (analog_models.faults) scales every tail current

    def bias(self, temp_C: float) -> float:
        """Tail current I_b(T) of a full-scale OTA in amperes (the temperature law above)."""
        n, t_p = self.cfg.slope_n, self.program_temperature_C
        drift = self.cfg.vth_tempco_mV_per_K * 1e-3 * (temp_C - t_p) / (n * thermal_voltage(temp_C))
        return self.cfg.i_bias_nA * 1e-9 * float(np.exp(drift)) * self.bias_scale

    def linear_range(self, temp_C: float) -> float:
        """V_L = 2·n·U_T (volts): the input scale of tanh."""
        return 2.0 * self.cfg.slope_n * thermal_voltage(temp_C)

    def transconductance(self, temp_C: float) -> float:
        """Small-signal g_m of a full-scale, mismatch-free OTA (siemens)."""
        return self.bias(temp_C) / self.linear_range(temp_C)

    def activation(self, v_in: np.ndarray, array: int, temp_C: float) -> np.ndarray:
        """tanh((v - vos_j) / V_L) of array ``array``'s OTAs for inputs ``v_in[..., m]`` (volts, relative to V_ref):
        the part of the law that depends on the input (the FPAA model's input tables are built with it)."""
        return np.tanh((v_in - self.offset[array]) / self.linear_range(temp_C))

    def currents(self, v_in: np.ndarray, weights: np.ndarray, temp_C: float) -> np.ndarray:
        """KCL sums ``I[N, G]`` (amperes) for OTA inputs ``v_in[N, m]`` (volts, relative to V_ref).

        ``weights`` is ``[G, m]`` (static prototypes) or ``[N, G, m]`` (per-token, EMA prototype).
        """
        out = np.empty((v_in.shape[0], len(self.array_of)))
        for a, circuits in self.circuits_of_array():
            self.weighted_sum(self.activation(v_in, a, temp_C), self.gains(weights, a, circuits), circuits, out)
        return out * self.bias(temp_C)

    def circuits_of_array(self) -> list[tuple[int, np.ndarray]]:
        """(array, the circuits it runs) for each physical array."""
        return [(int(a), np.flatnonzero(self.array_of == a)) for a in np.unique(self.array_of)]

    def gains(self, weights: np.ndarray, array: int, circuits: np.ndarray) -> np.ndarray:
        """w_gj·(1 + ε_gj) of ``circuits`` on ``array``: ``[m, G_a]`` for static weights, ``[N, G_a, m]`` per token
        (``weights`` as in :meth:`currents`)."""
        if weights.ndim == 2:
            return (weights[circuits] * self.gain[array]).T
        return weights[:, circuits] * self.gain[array]

    @staticmethod
    def weighted_sum(x: np.ndarray, gains: np.ndarray, circuits: np.ndarray, out: np.ndarray) -> None:
        """``out[:, circuits] = Σ_j gains_gj·x_j`` for tanh outputs ``x[N, m]`` (times I_b: the KCL current)."""
        if gains.ndim == 3:
            out[:, circuits] = np.einsum("nm,ngm->ng", x, gains)
        elif len(circuits) == out.shape[1]:          # the array runs every circuit (in order): straight into out
            np.matmul(x, gains, out=out)
        else:
            out[:, circuits] = x @ gains

    def noise_sigma(self, weights: np.ndarray, temp_C: float, bandwidth_Hz: float) -> np.ndarray:
        """σ (amperes) of the summed OTA current noise per circuit, ``[G]`` or ``[N, G]``."""
        tail = np.abs(weights).sum(axis=-1) * self.bias(temp_C)
        return np.sqrt(2.0 * ELECTRON_CHARGE * self.cfg.noise_factor * tail * bandwidth_Hz)
