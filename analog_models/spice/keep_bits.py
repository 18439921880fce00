"""Keep bits through the circuit: projected tokens scored by the SPICE netlist of the whole array (m OTAs into the
TIA) and by the behavioral model, through the same comparator thresholds.

Both sides get the same DAC voltages (the model's DAC: INL, gain and offset errors included) and the same
floating-gate weights (the model's quantized prototype). The SPICE devices are nominal (no mismatch) and a DC
operating point is noise-free, so the model is run without mismatch and without its noise draw; its noise σ (as
a TIA voltage) only defines the band around θ where a disagreement is expected anyway. All tokens go through one
``.dc`` sweep: every OTA input is a behavioural source ``pwl(v(tok), k, V_k)``, and the sweep walks ``tok`` over
0..N-1 (each operating point warm-starts from the previous one).
"""
from __future__ import annotations

import copy
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from atis.config import AtisConfig, with_overrides
from atis.golden.projection import projection_codes, resolve_projection
from atis.golden.reference import random_tokens, reference_codes

from ..comparator import hysteresis
from ..fpaa import FpaaModel
from ..ota import thermal_voltage
from .netlists import common_mode, control, header, ota_instance, pwl_source, tia
from .program import program_gates
from .runner import run_spice

__all__ = ["keep_bit_check", "NOISE_BAND_SIGMAS", "ideal_overrides"]

NOISE_BAND_SIGMAS = 3.0    # |S - θ| < 3σ of the model's noise: a flip there is noise, not model error
TOKEN_SEED = 2024          # the projected test tokens (distinct from the reference set θ is trimmed on)
CHUNK = 500                # tokens per ngspice run (two runs go side by side)


def ideal_overrides(m: int) -> dict:
    """The model as the nominal netlist is: m inputs, no mismatch (OTA or comparator)."""
    return {"projection": {"m": m}, "fpaa": {"ota": {"gain_mismatch": 0.0, "offset_mV": 0.0},
                                             "comparator": {"offset_mV": 0.0}}}


def _array(cfg: AtisConfig, weights: np.ndarray, gates: np.ndarray, inputs: str, temp_C: float,
           commands: list[str]) -> str:
    parts = [header(cfg, f"OTA array m={len(weights)} + TIA", temp_C), inputs, tia(cfg)]
    for j, w in enumerate(weights):
        parts.append(f"vfg{j} fg{j} 0 {gates[j]:.10g}\n")
        parts.append(ota_instance(str(j), f"in{j}", "sum", f"fg{j}", bool(w >= 0)))
    return "".join(parts) + control(*commands)


def program_array(cfg: AtisConfig, weights: np.ndarray) -> np.ndarray:
    """Tail gate voltages giving ``|w_j|·I_b`` in circuit, inputs at V_cm, at the programming temperature."""
    f = cfg.fpaa
    v_cm = common_mode(cfg)
    idle = "".join(f"vin{j} in{j} 0 {v_cm}\n" for j in range(len(weights)))
    tails = " ".join(f"@m.x{j}.m5[id]" for j in range(len(weights)))

    def measure(gates: np.ndarray) -> np.ndarray:
        text = _array(cfg, weights, gates, idle, f.program_temperature_C, ["op", f"wrdata tails.txt {tails}"])
        return run_spice(text, ("tails.txt",))["tails.txt"][0, 1:]
    return program_gates(measure, np.abs(weights) * f.ota.i_bias_nA * 1e-9, thermal_voltage(f.program_temperature_C))


def spice_scores(cfg: AtisConfig, weights: np.ndarray, volts: np.ndarray, gates: np.ndarray | None = None,
                 workers: int = 2) -> tuple[np.ndarray, float]:
    """TIA output minus v_mid for DAC voltages ``volts[N, m]``, and the wall time of the scoring runs (s).

    Tokens go in chunks of :data:`CHUNK` per ``.dc`` run; ``workers`` ngspice processes run side by side."""
    gates = program_array(cfg, weights) if gates is None else gates
    gate_v = common_mode(cfg) + cfg.fpaa.ota.input_gain * (volts - cfg.dac.v_ref)

    def run(chunk: np.ndarray) -> np.ndarray:
        inputs = "vtok tok 0 0\n" + "".join(pwl_source(f"in{j}", f"in{j}", chunk[:, j]) for j in range(len(weights)))
        text = _array(cfg, weights, gates, inputs, cfg.fpaa.temperature_C,
                      [f"dc vtok 0 {len(chunk) - 0.5:.6g} 1", "wrdata scores.txt v(tia)"])
        return run_spice(text, ("scores.txt",))["scores.txt"][:len(chunk), 1]
    started = time.perf_counter()
    chunks = [gate_v[k:k + CHUNK] for k in range(0, len(gate_v), CHUNK)]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        scores = np.concatenate(list(pool.map(run, chunks))) if chunks else np.zeros(0)
    return scores - cfg.fpaa.tia.v_mid, time.perf_counter() - started


def keep_bit_check(cfg: AtisConfig, n_tokens: int = 1000, m: int = 16, n_reference: int = 1000,
                   model_overrides: dict | None = None) -> dict:
    """Score ``n_tokens`` projected tokens at ``m`` inputs in SPICE and with the model (``cfg`` with
    :func:`ideal_overrides`, then ``model_overrides``, e.g. a SPICE fit) and compare keep bits two ways: SPICE
    through the model's θ (``keep_agreement``: absolute accuracy), and SPICE through its own θ trimmed on the same
    ``n_reference`` reference tokens, as ``threshold: target`` does on hardware (``keep_agreement_trimmed``)."""
    spice_cfg = with_overrides(cfg, ideal_overrides(m))
    model_cfg = with_overrides(spice_cfg, model_overrides or {})
    spec = resolve_projection(model_cfg)
    refs = reference_codes(model_cfg, spec, n_reference)
    model = FpaaModel(model_cfg, reference_codes=refs)
    codes = projection_codes(random_tokens(model_cfg, n_tokens, TOKEN_SEED), spec)
    weights = model.weights[0]
    gates = program_array(spice_cfg, weights)
    s_spice, run_s = spice_scores(spice_cfg, weights, model.dac.static_voltages(codes), gates)
    ref_spice, _ = spice_scores(spice_cfg, weights, model.dac.static_voltages(refs), gates)
    trimmed = copy.deepcopy(model.comparators)
    f = model_cfg.fpaa
    trimmed.fit_quantile(ref_spice[:, None], f.comparator.keep_target, f.heads.consensus_k)
    s_model = model.reference_outputs(codes)[:, 0]
    start = np.zeros(1, dtype=bool)

    def keep(scores: np.ndarray, bank) -> np.ndarray:
        return hysteresis(scores[:, None], *bank.thresholds(bank.theta), start)[:, 0]
    keep_model, keep_spice, keep_trim = keep(s_model, model.comparators), keep(s_spice, model.comparators), \
        keep(s_spice, trimmed)
    sigma = float(f.tia.gain_Mohm * 1e6 * model.ota.noise_sigma(model.weights, f.temperature_C,
                                                                  f.token_rate_MHz * 1e6)[0])
    theta = float(model.comparators.theta[0])
    inside = np.abs(s_model - theta) < NOISE_BAND_SIGMAS * sigma
    outside = max(int((~inside).sum()), 1)
    differ, differ_trim = keep_model != keep_spice, keep_model != keep_trim
    error = s_spice - s_model
    return {"n_tokens": n_tokens, "m": m, "n_reference": n_reference, "theta_V": theta,
            "theta_spice_trimmed_V": float(trimmed.theta[0]), "noise_sigma_V": sigma,
            "hysteresis_V": f.comparator.hysteresis_frac * abs(theta), "inside_band": int(inside.sum()),
            "disagree_inside": int((differ & inside).sum()), "disagree_outside": int((differ & ~inside).sum()),
            "keep_agreement": float(1.0 - (differ & ~inside).sum() / outside),
            "keep_agreement_trimmed": float(1.0 - (differ_trim & ~inside).sum() / outside),
            "disagree_outside_trimmed": int((differ_trim & ~inside).sum()),
            "agreement_all": float(1.0 - differ.mean()), "keep_model": float(keep_model.mean()),
            "keep_spice": float(keep_spice.mean()), "keep_spice_trimmed": float(keep_trim.mean()),
            "score_offset_mV": float(np.mean(error) * 1e3),
            "score_error_rms_mV": float(np.sqrt(np.mean(error ** 2)) * 1e3),
            "score_error_max_mV": float(np.max(np.abs(error)) * 1e3), "score_spread_mV": float(np.std(s_model) * 1e3),
            "spice_run_s": run_s, "s_model": s_model, "s_spice": s_spice}
