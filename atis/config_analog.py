"""Config sections of the analog side: DAC, FPAA (OTA array, TIA, comparator, prototype, heads) and energy.

Defaults are the seed's constants (64 OTAs at 100 nA and 1 V, 6-bit DACs at 1 pJ/conversion/bit, 1 MHz token rate,
hysteresis 5 % of θ, 1024 tokens with 70 % pruned) or, where the seed is silent, typical values of the parts named
in the design (AD5628 octal DAC on a PmodDA4; subthreshold floating-gate OTAs). Units are in the field names.
Validation (types, ranges, cross-field rules) lives in :mod:`atis.config`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Literal


def _int(lo: int, hi: int, doc: str) -> dict:
    return {"range": (lo, hi), "doc": doc}


def _num(lo: float, hi: float, doc: str) -> dict:
    return {"range": (lo, hi), "doc": doc}


def _choice(doc: str) -> dict:
    return {"doc": doc}


@dataclass(frozen=True, slots=True)
class WatchdogConfig:
    """The RTL keep-rate watchdog on the scorer's output (``hdl/keep_watchdog.py``, golden
    ``atis.golden.keep_watchdog``): over each window of ``window`` tokens the kept fraction must stay in
    [keep_lo, keep_hi], else a sticky status bit rises (host: STATUS command) and the fallback acts."""
    window: int = field(default=1024, metadata=_int(0, 65535, "tokens per window W; 0 = no watchdog in the RTL"))
    keep_lo: float = field(default=0.24, metadata=_num(0.0, 1.0, "lowest kept fraction of a window that is normal "
                                                                 "(default: for keep_target 0.3)"))
    keep_hi: float = field(default=0.37, metadata=_num(0.0, 1.0, "highest kept fraction of a window that is normal "
                                                                 "(binomial: a false trip per 7,500 windows at 0.316)"))
    run: int = field(default=64, metadata=_int(0, 4096, "a run of this many equal keep bits trips at once (a stuck "
                                                        "comparator: P = 0.7^64 ≈ 1e-10 at keep 0.3); 0 = off"))
    fallback: Literal["keep_all", "recalibrate"] = field(
        default="keep_all", metadata=_choice("when tripped: keep_all: every token is kept (keep = 1) until a whole "
                                             "window after the host's clear is back in the band; recalibrate: the "
                                             "status bit asks the host to re-trim, keep bits pass unchanged"))


@dataclass(frozen=True, slots=True)
class SelectionConfig:
    """Which tokens of a sequence the FPGA keeps (issue 18; golden ``atis.golden.selection``, RTL ``hdl/topk.py``).
    A sequence is ``model.seq_len`` tokens (n); codes are the readout's (``fpaa.readout``: b bits, or the comparator
    bit); equal codes are ranked by position, the lower index first."""
    mode: Literal["threshold", "topk", "cap"] = field(
        default="threshold", metadata=_choice("threshold: every token whose comparator fires against the global θ "
                                              "(no budget); topk: exactly k = max(1, round(keep·n)) per sequence, "
                                              "the highest codes; cap: the tokens at or above θ (code >= 2^(b-1)), "
                                              "but at least round(keep_min·n) and at most round(keep_max·n)"))
    keep: float = field(default=0.3, metadata=_num(0.0, 1.0, "topk: kept fraction of every sequence"))
    keep_min: float = field(default=0.0, metadata=_num(0.0, 1.0, "cap: least kept fraction of a sequence"))
    keep_max: float = field(default=0.4, metadata=_num(0.0, 1.0, "cap: most kept fraction of a sequence"))


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
    watchdog: WatchdogConfig = field(default_factory=WatchdogConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)


@dataclass(frozen=True, slots=True)
class DacConfig:
    """The DACs between FPGA and FPAA (seed §4.2). Errors are σ of seeded per-channel draws."""
    part: Literal["ad5628", "parallel"] = field(
        default="ad5628", metadata=_choice("ad5628: SPI octal DAC (PmodDA4), 32-bit frames; parallel: "
                                           "channel/code/strobe bus, one write per clock"))
    sclk_divider: int = field(default=4, metadata=_int(2, 256, "SCLK = clock / divider (even; AD5628: <= 50 MHz and "
                                                             "the data sheet's other timing minima, "
                                                             "docs/reference/ad5628-timing.md)"))
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
class ReadoutConfig:
    """How the FPGA reads a token's score (issue 18; model ``analog_models.readout``, golden ``atis.golden.readout``):
    one comparator decision against the global θ, or a b-bit successive approximation whose θ is driven by a DAC
    (AD5628: its last channel, the inputs use the others; parallel: a θ DAC on its own pins)."""
    mode: Literal["comparator", "sar"] = field(
        default="comparator", metadata=_choice("comparator: one keep bit per token (the score vs θ); sar: b "
                                               "comparator decisions against a θ DAC per token, a b-bit code"))
    bits: int = field(default=4, metadata=_int(2, 8, "sar: code bits b (b decisions and b θ DAC writes per token)"))
    settle_ns: float = field(default=500.0, metadata=_num(0.0, 1e9, "sar: θ DAC output update -> comparator "
                                                                   "decision (ns; 10 τ at dac.tau_ns = 50)"))
    noise_mV: float = field(default=0.3, metadata=_num(0.0, 500.0, "sar: σ of the comparator's input noise per "
                                                                 "decision (mV; kT/C of a 50 fF input: 0.29)"))
    span_quantile: float = field(default=0.995, metadata=_num(0.5, 1.0, "sar: the range is symmetric about the "
                                                                       "trimmed θ (so the MSB decision is the "
                                                                       "threshold decision) and reaches this "
                                                                       "quantile of the reference scores, and 1 - "
                                                                       "it, whichever is further"))


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
    spice_fit: Path | None = field(default=None, metadata={"doc": "JSON written by `atis spice`: the OTA law fitted "
                                                                  "in ngspice; it replaces fpaa.ota.{slope_n, "
                                                                  "vth_tempco_mV_per_K, gain_mismatch, offset_mV, "
                                                                  "noise_factor}"})
    ota: OtaConfig = field(default_factory=OtaConfig)
    tia: TiaConfig = field(default_factory=TiaConfig)
    comparator: ComparatorConfig = field(default_factory=ComparatorConfig)
    prototype: PrototypeConfig = field(default_factory=PrototypeConfig)
    heads: HeadsConfig = field(default_factory=HeadsConfig)
    readout: ReadoutConfig = field(default_factory=ReadoutConfig)


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
                                           "(0: one RAM per operand). The read address and each bank's output "
                                           "are registered: read latency 4 instead of 2, for a short mux (ECP5: "
                                           "2048 = one DP16KD)"))
    mask: Literal["drop", "keymask"] = field(
        default="drop", metadata=_choice("drop: pruned tokens leave before the block; keymask: they stay as "
                                            "queries, masked as keys"))
    weights: Path | None = field(default=None, metadata={"doc": ".npz of atis.golden.transformer (null: seeded "
                                                                "random weights)"})
    seed: int = field(default=11, metadata=_int(0, 2**32 - 1, "seed of the random weights"))


SPICE_FIT_FORMAT = "atis-spice-fit/1"
SPICE_FIT_KEYS = ("slope_n", "vth_tempco_mV_per_K", "gain_mismatch", "offset_mV", "noise_factor")


def spice_fit_overrides(path: Path) -> dict:
    """The ``fpaa.ota`` keys a SPICE fit file sets (``fpaa.spice_fit``); ConfigError naming what is wrong."""
    from .config import ConfigError  # config imports this module: bind it late
    where = f"fpaa.spice_fit = {str(path)!r}"
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{where}: not a readable JSON file ({e})") from None
    fit = data if isinstance(data, dict) and data.get("format") == SPICE_FIT_FORMAT else {}
    ota = fit.get("fpaa").get("ota") if isinstance(fit.get("fpaa"), dict) else None
    if not isinstance(ota, dict) or set(ota) != set(SPICE_FIT_KEYS):
        raise ConfigError(f"{where}: not an atis SPICE fit (`atis spice` writes one: format {SPICE_FIT_FORMAT!r}, "
                          f"fpaa.ota with exactly {', '.join(SPICE_FIT_KEYS)})")
    ranges = {f.name: f.metadata["range"] for f in fields(OtaConfig)}
    for key, value in ota.items():
        lo, hi = ranges[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
            raise ConfigError(f"{where}: fpaa.ota.{key} = {value!r}: must be a number in {lo:g}..{hi:g}")
    return {"fpaa": {"ota": {k: float(v) for k, v in ota.items()}}}


def check_readout(cfg) -> None:
    """Cross-field rules of ``fpaa.readout`` and ``fpga.selection`` (ConfigError naming the key)."""
    from .config import ConfigError  # config imports this module: bind it late
    r, s, f = cfg.fpaa.readout, cfg.fpga.selection, cfg.fpaa
    if s.mode == "cap" and s.keep_min > s.keep_max:
        raise ConfigError(f"fpga.selection.keep_min = {s.keep_min:g}: must be <= fpga.selection.keep_max "
                          f"({s.keep_max:g})")
    if s.mode != "threshold" and cfg.fpga.scorer != "fpaa":
        raise ConfigError(f"fpga.selection.mode = {s.mode}: needs fpga.scorer = fpaa (the selector ranks the FPAA "
                          f"readout's codes)")
    if r.mode != "sar":
        return
    if cfg.fpga.scorer != "fpaa":
        raise ConfigError("fpaa.readout.mode = sar: needs fpga.scorer = fpaa")
    if f.heads.groups != 1:
        raise ConfigError(f"fpaa.heads.groups = {f.heads.groups}: fpaa.readout.mode = sar reads one score per token "
                          "(1 group)")
    if f.comparator.threshold == "adaptive":
        raise ConfigError("fpaa.comparator.threshold = adaptive: fpaa.readout.mode = sar centres its range on a "
                          "static θ (fixed or target)")
    if cfg.dac.part == "ad5628" and cfg.dac.n_channels < 2:
        raise ConfigError(f"dac.n_channels = {cfg.dac.n_channels}: fpaa.readout.mode = sar drives θ from the "
                          "AD5628's last channel, the inputs need another (2..8)")
