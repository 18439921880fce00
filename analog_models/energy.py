"""Honest energy accounting of ATIS (seed §4.2, §4.3; sensor mode §5.4/§7; mitigations §4.2 (a), (b)).

Per token (pJ) and per second at the token rate; every figure follows from the config's unit costs:

* analog core static  = (#OTAs) · I_bias · V_dd          (seed: 64 · 100 nA · 1 V = 6.4 µW)
* analog core dynamic = (#OTA evaluations / token) · C_sw · V_dd² · f   (default C_sw gives the seed's ~1 µW)
* DAC                 = m · bits · E_conv/bit per token (+ per-channel bias power)   (seed: 384 pJ per token)
* digital scorer      = m · G MACs · E_MAC                (seed: 64 pJ)
* reprogramming       = G · E_reprogram per token when G head groups time-share one array (seed §5.2 (c))
* attention           = n² elements dense vs (keep·n)² kept, at ``attention_pJ_per_element``   (seed: ≈ 11×)

**The seed's "384 mW at 1 MHz" is a unit slip**: 384 pJ × 10⁶ /s = 384 µW = 0.384 mW. Its own core figures
(7.4 µW ↔ 7.4 pJ at 1 MHz, 391 pJ total) use the correct scale; we report ``dac_uW_at_1MHz = 384`` and
``dac_mW_at_1MHz = 0.384``. The conclusion stands: the DACs draw ~52× the analog core.

Time-multiplexing fewer DACs (§4.2 (a)) does **not** cut conversion energy — every input still needs one conversion
per token — it cuts DAC count, bias power and area, and costs m / n_dac conversion rounds of latency.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from atis.config import AtisConfig

__all__ = ["EnergyReport", "energy_report", "SCORING_PARTS"]

#: Components of per-token scoring energy, in stacking order.
SCORING_PARTS = ("dac_conversions", "dac_bias", "analog_core", "reprogramming", "digital_macs")


@dataclass(frozen=True)
class EnergyReport:
    """``summary``: the headline figures (JSON keys); ``per_token``: scoring variants -> part -> pJ;
    ``per_sequence``: system variants -> {scoring, attention} in nJ for one ``seq_len`` sequence."""
    summary: dict[str, float]
    per_token: dict[str, dict[str, float]] = field(default_factory=dict)
    per_sequence: dict[str, dict[str, float]] = field(default_factory=dict)


def _scoring(parts: dict[str, float]) -> dict[str, float]:
    return {name: float(parts.get(name, 0.0)) for name in SCORING_PARTS}


def energy_report(cfg: AtisConfig) -> EnergyReport:
    """Every figure of the energy model for ``cfg`` (no simulation: closed form, seed §4.2-§4.3)."""
    f, e = cfg.fpaa, cfg.energy
    m, bits = cfg.projection.m, cfg.projection.dac_bits
    rate_hz = f.token_rate_MHz * 1e6
    groups = f.heads.groups
    arrays = groups if f.heads.multiplex == "replicated" else 1
    n_dac = min(cfg.dac.n_channels, m)

    core_static_uW = arrays * m * f.ota.i_bias_nA * 1e-9 * f.vdd_V * 1e6
    core_dynamic_uW = groups * m * f.ota.switched_cap_fF * 1e-15 * f.vdd_V ** 2 * rate_hz * 1e6
    core_total_uW = core_static_uW + core_dynamic_uW
    core_pJ = core_total_uW / f.token_rate_MHz                   # µW / MHz = pJ per token
    reprogram_pJ = groups * f.heads.reprogram_nJ * 1e3 if f.heads.multiplex == "time_multiplexed" and groups > 1 \
        else 0.0

    def dac_pJ(b: int) -> float:
        return m * b * e.dac_pJ_per_conv_bit

    def bias_pJ(channels: int) -> float:
        return channels * e.dac_static_uW_per_channel / f.token_rate_MHz

    analog = {"analog_core": core_pJ, "reprogramming": reprogram_pJ}
    full, rounds = f"ATIS, {m} DACs x {bits} b", -(-m // n_dac)
    per_token = {
        "digital scorer": _scoring({"digital_macs": m * groups * e.mac_pJ}),
        full: _scoring({"dac_conversions": dac_pJ(bits), "dac_bias": bias_pJ(m), **analog}),
        f"ATIS, {n_dac} DACs x {rounds} rounds": _scoring({"dac_conversions": dac_pJ(bits),
                                                           "dac_bias": bias_pJ(n_dac), **analog}),
        **{f"ATIS, {b}-bit DACs": _scoring({"dac_conversions": dac_pJ(b), "dac_bias": bias_pJ(m), **analog})
           for b in (4, 3) if b < bits},
        "ATIS sensor mode (no DAC)": _scoring(analog),
    }
    atis_pJ = sum(per_token[full].values())

    n = e.seq_len
    kept = round(f.comparator.keep_target * n)
    dense, pruned = n * n, kept * kept
    attention_nJ = {"dense": dense * e.attention_pJ_per_element * 1e-3,
                    "pruned": pruned * e.attention_pJ_per_element * 1e-3}
    per_sequence = {"dense attention": {"scoring": 0.0, "attention": attention_nJ["dense"]}}
    for label, name in (("digital", "digital scorer"), ("ATIS", full), ("ATIS sensor", "ATIS sensor mode (no DAC)")):
        per_sequence[f"{label} + pruned"] = {"scoring": n * sum(per_token[name].values()) * 1e-3,
                                             "attention": attention_nJ["pruned"]}

    dac_static_uW = m * e.dac_static_uW_per_channel
    summary = {
        "analog_core_static_uW": core_static_uW,
        "analog_core_dynamic_uW": core_dynamic_uW,
        "analog_core_total_uW": core_total_uW,
        "dac_pJ_per_token": dac_pJ(bits),
        "dac_uW_at_1MHz": dac_pJ(bits) * 1e6 * 1e-6 + dac_static_uW,
        "dac_mW_at_1MHz": (dac_pJ(bits) * 1e6 * 1e-6 + dac_static_uW) * 1e-3,
        "atis_pJ_per_token": atis_pJ,
        "atis_uW_at_token_rate": atis_pJ * rate_hz * 1e-6,
        "digital_scorer_pJ_per_token": sum(per_token["digital scorer"].values()),
        "sensor_mode_pJ_per_token": sum(per_token["ATIS sensor mode (no DAC)"].values()),
        "time_mux_dacs": n_dac,
        "time_mux_rounds_per_token": rounds,
        "seq_len": n,
        "kept_tokens": kept,
        "attention_elements_dense": dense,
        "attention_elements_pruned": pruned,
        # None (JSON null) where a ratio has no value; the *_note says why
        "attention_reduction": dense / pruned if pruned else None,
        "system_nJ_dense": attention_nJ["dense"],
        "system_nJ_atis": sum(per_sequence["ATIS + pruned"].values()),
    }
    summary["system_saving"] = (summary["system_nJ_dense"] / summary["system_nJ_atis"]
                                if summary["system_nJ_atis"] > 0 else None)
    if not pruned:
        summary["attention_reduction_note"] = "no token kept (keep_target · seq_len rounds to 0)"
    if summary["system_saving"] is None:
        summary["system_saving_note"] = "the pruned system costs 0 nJ with these unit costs"
    return EnergyReport(summary, per_token, per_sequence)
