"""Config sections of the analog side: DAC, FPAA (OTA array, TIA, comparator, prototype, heads) and energy.

Defaults are the seed's constants (64 OTAs at 100 nA and 1 V, 6-bit DACs at 1 pJ/conversion/bit, 1 MHz token rate,
hysteresis 5 % of θ, 1024 tokens with 70 % pruned) or, where the seed is silent, typical values of the parts named
in the design (AD5628 octal DAC on a PmodDA4; subthreshold floating-gate OTAs). Units are in the field names.
Validation (types, ranges, cross-field rules) lives in :mod:`atis.config`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal


def _int(lo: int, hi: int, doc: str) -> dict:
    return {"range": (lo, hi), "doc": doc}


def _num(lo: float, hi: float, doc: str) -> dict:
    return {"range": (lo, hi), "doc": doc}


def _choice(doc: str) -> dict:
    return {"doc": doc}


@dataclass(frozen=True, slots=True)
class FpgaConfig:
    """The digital side's clock and the timing it derives from nanoseconds."""
    clock_MHz: float = field(default=100.0, metadata=_num(1.0, 1000.0, "system clock (MHz)"))
    compare_wait_ns: float = field(default=50.0, metadata=_num(0.0, 1e6, "evaluate -> sample the comparator, "
                                                                         "before the 2-flop synchronizer (ns)"))
    uart_baud: int = field(default=115200, metadata=_int(1200, 3_000_000, "host link baud rate (8N1)"))
    scorer: Literal["fpaa", "digital"] = field(
        default="fpaa", metadata=_choice("fpaa: DACs + FPAA + comparator capture; digital: m MACs per token on the "
                                         "FPGA (a board with no FPAA attached)"))


@dataclass(frozen=True, slots=True)
class DacConfig:
    """The DACs between FPGA and FPAA (seed §4.2). Errors are σ of seeded per-channel draws."""
    part: Literal["ad5628", "parallel"] = field(
        default="ad5628", metadata=_choice("ad5628: SPI octal DAC (PmodDA4), 32-bit frames; parallel: "
                                           "channel/code/strobe bus, one write per clock"))
    sclk_divider: int = field(default=4, metadata=_int(2, 256, "SCLK = clock / divider (even; AD5628 <= 50 MHz)"))
    part_bits: int | None = field(default=None, metadata=_int(3, 12, "physical DAC resolution, codes left-aligned;"
                                                                     " null = 12 (ad5628) or dac_bits"))
    n_channels: int = field(default=8, metadata=_int(1, 1024, "physical DAC channels, time-multiplexed if < m"))
    v_zero: float = field(default=0.0, metadata=_num(-5.0, 5.0, "output at code 0 (V)"))
    v_full: float = field(default=2.5, metadata=_num(-5.0, 5.0, "output at full scale (V); AD5628: 2 x 1.25 V"))
    v_ref: float = field(default=1.25, metadata=_num(-5.0, 5.0, "OTA reference input V- (V), mid-scale"))
    rail_low: float = field(default=0.0, metadata=_num(-5.0, 5.0, "output saturates here (V)"))
    rail_high: float = field(default=2.5, metadata=_num(-5.0, 5.0, "output saturates here (V)"))
    offset_mV: float = field(default=1.0, metadata=_num(0.0, 500.0, "σ of the per-channel offset error (mV)"))
    gain_error: float = field(default=0.001, metadata=_num(0.0, 0.5, "σ of the per-channel gain error (fraction)"))
    dnl_sigma_lsb: float = field(default=0.1, metadata=_num(0.0, 1.0, "σ of the DNL, code to code (part LSB)"))
    inl_lsb: float = field(default=1.0, metadata=_num(0.0, 64.0, "peak of the smooth, seeded INL curve "
                                                               "(part LSB; AD5628: ±1 typ)"))
    tau_ns: float = field(default=50.0, metadata=_num(0.0, 1e9, "first-order settling time constant (ns)"))
    settle_ns: float = field(default=500.0, metadata=_num(0.0, 1e9, "last DAC write -> comparator evaluate (ns)"))


@dataclass(frozen=True, slots=True)
class OtaConfig:
    """The OTA array: I_j = w_j·I_bias·tanh(v_j / V_L), V_L = 2·n·U_T (seed §3.3, §4.1, §5.3)."""
    i_bias_nA: float = field(default=100.0, metadata=_num(0.001, 1e6, "bias current per OTA (nA), seed §4.2"))
    slope_n: float = field(default=1.5, metadata=_num(1.0, 3.0, "subthreshold slope factor n"))
    input_gain: float = field(default=0.1, metadata=_num(1e-4, 100.0, "input attenuator DAC pin -> OTA (V/V)"))
    weight_bits: int = field(default=9, metadata=_int(2, 12, "floating-gate weight precision incl. sign "
                                                            "(seed §3.3: 8-10)"))
    gain_mismatch: float = field(default=0.02, metadata=_num(0.0, 0.5, "σ of per-OTA g_m mismatch (fraction)"))
    offset_mV: float = field(default=1.0, metadata=_num(0.0, 100.0, "σ of per-OTA input offset (mV)"))
    noise_factor: float = field(default=1.0, metadata=_num(0.0, 1e6, "excess factor on shot noise 2qI·B"))
    vth_tempco_mV_per_K: float = field(default=1.3, metadata=_num(0.0, 10.0, "threshold-voltage drift feeding the "
                                                                           "subthreshold exponential (mV/K)"))
    switched_cap_fF: float = field(default=15.625, metadata=_num(0.0, 1e9, "per-OTA switched capacitance; "
                                                                         "m·C·V²·f = seed's ~1 µW (fF)"))


@dataclass(frozen=True, slots=True)
class TiaConfig:
    """KCL node -> transimpedance amplifier: V = v_mid + R·I, clipped to the rails (seed §3.4)."""
    gain_Mohm: float = field(default=1.0, metadata=_num(1e-6, 1e6, "transimpedance (MΩ)"))
    v_mid: float = field(default=0.5, metadata=_num(-5.0, 5.0, "output at zero current (V)"))
    rail_low: float = field(default=0.0, metadata=_num(-5.0, 5.0, "output rail (V)"))
    rail_high: float = field(default=1.0, metadata=_num(-5.0, 5.0, "output rail (V)"))


@dataclass(frozen=True, slots=True)
class ComparatorConfig:
    """Comparator against θ with hysteresis, and how θ is set (seed §3.4)."""
    threshold: Literal["fixed", "target", "adaptive"] = field(
        default="target", metadata=_choice("fixed: theta_V; target: quantile of reference tokens for keep_target; "
                                           "adaptive: low-passed activity fed back to θ"))
    theta_V: float = field(default=0.05, metadata=_num(-5.0, 5.0, "θ above the TIA zero-current output: fixed "
                                                                 "mode, start of adaptive (V)"))
    keep_target: float = field(default=0.3, metadata=_num(0.0, 1.0, "kept fraction aimed at (seed: 70 % pruned)"))
    hysteresis_frac: float = field(default=0.05, metadata=_num(0.0, 0.5, "band width as a fraction of θ "
                                                                       "(seed: 5-10 %)"))
    offset_mV: float = field(default=2.0, metadata=_num(0.0, 500.0, "σ of the comparator input offset (mV)"))
    delay_ns: float = field(default=20.0, metadata=_num(0.0, 1e9, "propagation delay evaluate -> pin (ns)"))
    activity_tau_tokens: float = field(default=32.0, metadata=_num(1.0, 1e9, "activity low-pass RC (tokens)"))
    adapt_rate_V: float = field(default=0.002, metadata=_num(0.0, 1.0, "θ change per token per unit "
                                                                     "activity error (V)"))


@dataclass(frozen=True, slots=True)
class PrototypeConfig:
    """The query prototype(s) programmed as OTA weights (seed §3.2 options a, b)."""
    source: Literal["random", "file", "mean", "lsq"] = field(
        default="random", metadata=_choice("random: seeded Gaussian; file: npz q[H, m]; mean: mean of npz "
                                           "queries[N, H?, m]; lsq: fit npz keys[N, m] to attention[N, H?]"))
    file: Path | None = field(default=None, metadata={"doc": ".npz for source file/mean/lsq"})
    seed: int = field(default=3, metadata=_int(0, 2**32 - 1, "seed of the random prototype"))
    ema_tau_tokens: float = field(default=0.0, metadata=_num(0.0, 1e9, "RC EMA of recent queries (tokens); "
                                                                     "0 = static prototype"))


@dataclass(frozen=True, slots=True)
class HeadsConfig:
    """Multi-head scoring (seed §5.2): H prototypes averaged into G groups, keep if >= k of G comparators fire."""
    count: int = field(default=1, metadata=_int(1, 96, "prototypes H (attention heads)"))
    groups: int = field(default=1, metadata=_int(1, 96, "scoring circuits G; divides count"))
    consensus_k: int = field(default=1, metadata=_int(1, 96, "keep if >= k of the G comparators fire"))
    multiplex: Literal["replicated", "time_multiplexed"] = field(
        default="replicated", metadata=_choice("replicated: G OTA arrays; time_multiplexed: one array reprogrammed "
                                               "G times per token"))
    reprogram_us: float = field(default=10.0, metadata=_num(0.0, 1e9, "time to reprogram the array (µs)"))
    reprogram_nJ: float = field(default=1.0, metadata=_num(0.0, 1e9, "energy to reprogram the array (nJ)"))


@dataclass(frozen=True, slots=True)
class FpaaConfig:
    """The behavioral FPAA (analog_models): operating point and its blocks."""
    seed: int = field(default=7, metadata=_int(0, 2**32 - 1, "seed of mismatch, INL and noise"))
    temperature_C: float = field(default=27.0, metadata=_num(-55.0, 150.0, "die temperature (°C)"))
    program_temperature_C: float = field(default=27.0, metadata=_num(-55.0, 150.0, "temperature at which the "
                                                                          "floating gates were programmed (°C)"))
    token_rate_MHz: float = field(default=1.0, metadata=_num(1e-9, 1e4, "evaluations per second (MHz); also "
                                                                      "the noise bandwidth"))
    vdd_V: float = field(default=1.0, metadata=_num(0.1, 5.0, "analog supply (V), seed §4.2"))
    ota: OtaConfig = field(default_factory=OtaConfig)
    tia: TiaConfig = field(default_factory=TiaConfig)
    comparator: ComparatorConfig = field(default_factory=ComparatorConfig)
    prototype: PrototypeConfig = field(default_factory=PrototypeConfig)
    heads: HeadsConfig = field(default_factory=HeadsConfig)


@dataclass(frozen=True, slots=True)
class EnergyConfig:
    """Unit costs of the honest energy accounting (seed §4.2, §4.3)."""
    dac_pJ_per_conv_bit: float = field(default=1.0, metadata=_num(0.0, 1e6, "DAC energy per conversion per bit"))
    dac_static_uW_per_channel: float = field(default=0.0, metadata=_num(0.0, 1e6, "DAC bias power per channel"))
    mac_pJ: float = field(default=1.0, metadata=_num(0.0, 1e6, "digital MAC energy (seed: ~1 pJ)"))
    add_pJ: float = field(default=0.1, metadata=_num(0.0, 1e6, "digital add energy (a ±1 JL projection adds, "
                                                               "it does not multiply)"))
    seq_len: int = field(default=1024, metadata=_int(1, 1 << 20, "tokens per sequence whose attention is costed"))
    attention_pJ_per_element: float = field(default=128.0, metadata=_num(0.0, 1e9, "per n² element: Q·K and A·V "
                                                                                  "at d = 64, 1 pJ/MAC"))


@dataclass(frozen=True, slots=True)
class TransformerConfig:
    """The small int8 encoder the prototype runs after pruning (seed §6.2: 16-64 dims)."""
    layers: int = field(default=1, metadata=_int(1, 4, "encoder blocks"))
    heads: int = field(default=2, metadata=_int(1, 4, "attention heads; divide model.d_model"))
    ffn: int = field(default=64, metadata=_int(4, 512, "FFN hidden width"))
    classes: int = field(default=10, metadata=_int(2, 256, "classifier outputs"))
    lanes: int = field(default=4, metadata=_int(1, 64, "RTL MAC lanes P of the attention and linear layers "
                                                      "(DSP blocks); attention ≈ k²·(⌈dh/P⌉ + 2) cycles"))
    engine: Literal["pipelined", "sequenced"] = field(
        default="pipelined", metadata=_choice("RTL engine. pipelined: every block its own MAC lanes and buffers "
                                              "(fast, large); sequenced: one MAC and two block RAMs run the graph "
                                              "step by step (fits the UP5K; lanes and keymask unused)"))
    ram_bank: int = field(
        default=0, metadata=_int(0, 65536, "sequenced engine: bytes per block-RAM bank, 0 or a power of two >= 256 "
                                           "(0: one RAM per operand). Each bank has its own output register, one "
                                           "more cycle of read latency for a short mux (ECP5: 2048 = one DP16KD)"))
    mask: Literal["drop", "keymask"] = field(
        default="drop", metadata=_choice("drop: pruned tokens leave before the block; keymask: they stay as "
                                            "queries, masked as keys"))
    weights: Path | None = field(default=None, metadata={"doc": ".npz of atis.golden.transformer (null: seeded "
                                                                "random weights)"})
    seed: int = field(default=11, metadata=_int(0, 2**32 - 1, "seed of the random weights"))
