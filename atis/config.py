"""One frozen, validated configuration object, loaded from ``configs/*.yaml``.

Every part of atis (golden model, RTL generators, benches, CLI) takes a sub-config from here, never loose ints.
Validation happens once, at load; any problem raises :class:`ConfigError` whose message names the key path and
the allowed range, e.g. ``projection.dac_bits = 12: must be in 3..8``.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from .config_analog import (
    ComparatorConfig,
    DacConfig,
    EnergyConfig,
    FpaaConfig,
    FpgaConfig,
    HeadsConfig,
    OtaConfig,
    PrototypeConfig,
    TiaConfig,
    TransformerConfig,
    _int,
    check_readout,
    spice_fit_overrides,
)

__all__ = ["ConfigError", "ModelConfig", "ProjectionConfig", "FpgaConfig", "DacConfig", "OtaConfig", "TiaConfig",
           "ComparatorConfig", "PrototypeConfig", "HeadsConfig", "FpaaConfig", "EnergyConfig", "TransformerConfig",
           "AtisConfig", "ScorerConfig",
           "load_config", "config_from_dict", "config_to_dict", "config_reference",
           "config_reference_markdown", "merge", "with_overrides", "bundled_config", "DEFAULT_CONFIG"]


def bundled_config(name: str) -> Path:
    """A config shipped with atis: ``configs/<name>.yaml`` of the checkout, package data ``atis.configs`` of an
    install (``default``, ``icebreaker``, ``icebreaker-digital``, ``ulx3s-85f``)."""
    return Path(str(resources.files("atis.configs") / f"{name}.yaml"))


DEFAULT_CONFIG = bundled_config("default")


class ConfigError(ValueError):
    """A configuration problem; the message is one line naming the key path and what is allowed."""


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """The token stream: embedding width and sequence length."""
    d_model: int = field(default=64, metadata=_int(2, 1024, "token embedding width d (int8 elements)"))
    seq_len: int = field(default=128, metadata=_int(1, 4096, "tokens per sequence n"))


@dataclass(frozen=True, slots=True)
class ProjectionConfig:
    """Digital d -> m reduction before the DACs (seed §5.1) and requantization to DAC codes."""
    kind: Literal["jl", "learned", "topvar"] = field(
        default="jl", metadata={"doc": "jl: seeded sparse ±1 (Achlioptas); learned: int8 matrix from `weights`; "
                                       "topvar: the m highest-variance dims of `calibration`"})
    m: int = field(default=64, metadata=_int(1, 1024, "projected dims = analog array inputs"))
    dac_bits: int = field(default=6, metadata=_int(3, 8, "DAC code width (offset binary)"))
    seed: int = field(default=1, metadata=_int(0, 2**32 - 1, "seed of the JL matrix"))
    lanes: int = field(default=8, metadata=_int(1, 64, "parallel MAC lanes in the RTL (DSP blocks)"))
    shift: int | Literal["auto"] = field(
        default="auto", metadata={"range": (0, 31), "doc": "requantization right shift, or auto (see golden)"})
    weights: Path | None = field(default=None, metadata={"doc": ".npz with int8 array P[m, d] (kind: learned)"})
    calibration: Path | None = field(
        default=None, metadata={"doc": ".npz with int8 array tokens[N, d] (kind: topvar)"})


@dataclass(frozen=True, slots=True)
class ScorerConfig:
    """A fitted scorer from one file (``atis.calibrate``); it sets the keys :meth:`ScorerSpec.overrides` lists."""
    spec: Path | None = field(default=None, metadata={"doc": ".npz written by ScorerSpec.save: projection P, "
                                                             "shift, DAC bits, prototypes q and θ in one file"})


@dataclass(frozen=True, slots=True)
class AtisConfig:
    """The whole flow's configuration. ``source`` is the YAML it came from (None when built in code)."""
    model: ModelConfig = field(default_factory=ModelConfig)
    projection: ProjectionConfig = field(default_factory=ProjectionConfig)
    fpga: FpgaConfig = field(default_factory=FpgaConfig)
    dac: DacConfig = field(default_factory=DacConfig)
    fpaa: FpaaConfig = field(default_factory=FpaaConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    scorer: ScorerConfig = field(default_factory=ScorerConfig)
    source: Path | None = field(default=None, compare=False, metadata={"internal": True})


def _options(ftype: Any) -> tuple:
    """The alternatives of an annotation: ``int | Literal["auto"]`` -> (int, Literal["auto"])."""
    return typing.get_args(ftype) if typing.get_origin(ftype) in (typing.Union, types.UnionType) else (ftype,)


def _check_value(path: str, value: Any, ftype: Any, meta: dict, base_dir: Path) -> Any:
    """Coerce/validate one leaf value against its annotated type; raise ConfigError naming ``path``."""
    options = _options(ftype)
    literals = [a for opt in options if typing.get_origin(opt) is Literal for a in typing.get_args(opt)]
    if value in literals and isinstance(value, str):
        return value
    if float in options and isinstance(value, str):
        try:  # YAML 1.1 reads `1e-3` (no dot) as a string
            value = float(value)
        except ValueError:
            pass
    if float in options and isinstance(value, (int, float)) and not isinstance(value, bool):
        lo, hi = meta["range"]
        if not ((isinstance(value, int) or math.isfinite(value)) and lo <= value <= hi):   # a huge int: no float
            raise ConfigError(f"{path} = {value}: must be a number in {lo:g}..{hi:g}")
        return float(value)
    if int in options and isinstance(value, int) and not isinstance(value, bool):
        lo, hi = meta.get("range", (None, None))
        if lo is not None and not lo <= value <= hi:
            extra = f" or one of {literals}" if literals else ""
            raise ConfigError(f"{path} = {value}: must be in {lo}..{hi}{extra}")
        return value
    if Path in options and isinstance(value, str):
        try:
            resolved = (base_dir / value).resolve()
        except (OSError, ValueError) as e:      # a NUL byte, a symlink loop
            raise ConfigError(f"{path} = {value!r}: not a usable file path ({e})") from None
        if not resolved.is_file():
            raise ConfigError(f"{path} = {value!r}: file not found (looked at {resolved})")
        return resolved
    if value is None and type(None) in options:
        return None
    allowed = []
    if float in options:
        lo, hi = meta["range"]
        allowed.append(f"a number in {lo:g}..{hi:g}")
    if int in options:
        lo, hi = meta["range"]
        allowed.append(f"an integer in {lo}..{hi}")
    if literals:
        allowed.append("one of " + ", ".join(map(str, literals)))
    if Path in options:
        allowed.append("a file path")
    raise ConfigError(f"{path} = {value!r}: must be {' or '.join(allowed)}")


def _build(cls: type, data: Any, path: str, base_dir: Path) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path or 'config'}: must be a mapping of keys, not {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(data) - set(fields), key=repr)      # keys of mixed types do not compare
    if unknown:
        name = unknown[0] if isinstance(unknown[0], str) and unknown[0].isprintable() and unknown[0].strip() \
            else repr(unknown[0])                            # one line: a key with a newline, an empty key
        where = f"{path}.{name}" if path else name
        raise ConfigError(f"{where}: unknown key (allowed: {', '.join(fields)})")
    kwargs = {}
    for name, f in fields.items():
        if name not in data:
            continue
        key = f"{path}.{name}" if path else name
        if dataclasses.is_dataclass(hints[name]):
            kwargs[name] = _build(hints[name], data[name], key, base_dir)
        else:
            kwargs[name] = _check_value(key, data[name], hints[name], dict(f.metadata), base_dir)
    return cls(**kwargs)


def _cross_check(cfg: AtisConfig) -> None:
    p, d = cfg.projection, cfg.model.d_model
    if p.m > d:
        raise ConfigError(f"projection.m = {p.m}: must be in 1..model.d_model ({d}); the projection reduces d -> m")
    if p.lanes > d:
        raise ConfigError(f"projection.lanes = {p.lanes}: must be in 1..model.d_model ({d})")
    if p.kind == "learned" and p.weights is None:
        raise ConfigError("projection.weights: required when projection.kind = learned (an .npz holding P[m, d])")
    if p.kind == "topvar" and p.calibration is None:
        raise ConfigError("projection.calibration: required when projection.kind = topvar "
                          "(an .npz holding tokens[N, d])")
    _cross_check_analog(cfg)
    _check_watchdog(cfg.fpga.watchdog)
    check_readout(cfg)
    if d % cfg.transformer.heads:
        raise ConfigError(f"transformer.heads = {cfg.transformer.heads}: must divide model.d_model ({d})")
    if cfg.transformer.lanes > d:
        raise ConfigError(f"transformer.lanes = {cfg.transformer.lanes}: must be in 1..model.d_model ({d})")
    _check_ram_bank(cfg.transformer.ram_bank)
    _check_files(cfg)


def _check_files(cfg: AtisConfig) -> None:
    """Read and check every file the config references, whichever command loads it (nothing runs on a bad one)."""
    from .golden.projection import projection_matrix
    from .golden.prototype import load_prototypes
    from .golden.transformer import load_weights
    d = cfg.model.d_model
    if cfg.projection.kind != "jl":
        projection_matrix(cfg)
    if cfg.fpaa.prototype.source != "random":
        load_prototypes(cfg.fpaa.prototype, cfg.projection.m, cfg.fpaa.heads.count)
    if cfg.transformer.weights is not None:          # read once, checked as weights and as the embedding
        from .digits import load_embedding
        from .npz import read_npz
        weights = read_npz(cfg.transformer.weights, "transformer.weights")
        load_weights(cfg.transformer, d, weights)
        if "embed_value" in weights:
            load_embedding(cfg.transformer.weights, d, weights)


def _ordered(path_lo: str, lo: float, path_hi: str, hi: float) -> None:
    if not lo < hi:
        raise ConfigError(f"{path_lo} = {lo:g}: must be below {path_hi} ({hi:g})")


def _check_watchdog(w) -> None:
    if w.window and not w.keep_lo < w.keep_hi:
        raise ConfigError(f"fpga.watchdog.keep_lo = {w.keep_lo:g}: must be below fpga.watchdog.keep_hi ({w.keep_hi:g})")
    if w.run == 1:
        raise ConfigError("fpga.watchdog.run = 1: must be 0 (off) or 2..4096 (one token is always a run)")
    if w.window:
        from .golden.keep_watchdog import band_counts
        lo, hi = band_counts(w)
        if lo > hi:
            raise ConfigError(f"fpga.watchdog.keep_lo..keep_hi = {w.keep_lo:g}..{w.keep_hi:g}: no whole count of kept "
                              f"tokens in a window of {w.window} lies in the band ({lo} > {hi}); widen it or "
                              "lengthen fpga.watchdog.window")


def _check_ram_bank(bank: int) -> None:
    if bank and (bank < 256 or bank & (bank - 1)):
        raise ConfigError(f"transformer.ram_bank = {bank}: must be 0 or a power of two >= 256")


def _cross_check_analog(cfg: AtisConfig) -> None:
    dac, f = cfg.dac, cfg.fpaa
    if dac.part == "ad5628" and dac.part_bits not in (None, 12):
        raise ConfigError(f"dac.part_bits = {dac.part_bits}: the AD5628 is a 12-bit part (use 12 or null)")
    if dac.part == "ad5628" and dac.n_channels > 8:
        raise ConfigError(f"dac.n_channels = {dac.n_channels}: the AD5628 has 8 channels (1..8)")
    if dac.sclk_divider % 2:
        raise ConfigError(f"dac.sclk_divider = {dac.sclk_divider}: must be even (SCLK high and low for half each)")
    if dac.part == "ad5628":                  # SCLK's own minima; the port stretches SYNC's setup and high time
        from .golden.ad5628 import ad5628_config_problem
        problem = ad5628_config_problem(cfg.fpga.clock_MHz, dac.sclk_divider)
        if problem:
            raise ConfigError(problem)
    if cfg.fpga.compare_wait_ns < f.comparator.delay_ns:
        raise ConfigError(f"fpga.compare_wait_ns = {cfg.fpga.compare_wait_ns:g}: must be >= "
                          f"fpaa.comparator.delay_ns ({f.comparator.delay_ns:g}), or the capture samples before "
                          "the comparator has switched")
    if dac.part_bits is not None and dac.part_bits < cfg.projection.dac_bits:
        raise ConfigError(f"dac.part_bits = {dac.part_bits}: must be >= projection.dac_bits "
                          f"({cfg.projection.dac_bits}); codes are left-aligned into the part")
    _ordered("dac.v_zero", dac.v_zero, "dac.v_full", dac.v_full)
    _ordered("dac.rail_low", dac.rail_low, "dac.rail_high", dac.rail_high)
    _ordered("fpaa.tia.rail_low", f.tia.rail_low, "fpaa.tia.rail_high", f.tia.rail_high)
    if not f.tia.rail_low <= f.tia.v_mid <= f.tia.rail_high:
        raise ConfigError(f"fpaa.tia.v_mid = {f.tia.v_mid:g}: must lie between the TIA rails "
                          f"({f.tia.rail_low:g}..{f.tia.rail_high:g})")
    period_ns = 1e3 / f.token_rate_MHz
    if dac.settle_ns > period_ns:
        raise ConfigError(f"dac.settle_ns = {dac.settle_ns:g}: must be <= the token period "
                          f"(1000 / fpaa.token_rate_MHz = {period_ns:g} ns)")
    h = f.heads
    if h.count % h.groups:
        raise ConfigError(f"fpaa.heads.groups = {h.groups}: must divide fpaa.heads.count ({h.count})")
    if h.consensus_k > h.groups:
        raise ConfigError(f"fpaa.heads.consensus_k = {h.consensus_k}: must be in 1..fpaa.heads.groups ({h.groups})")
    if f.prototype.source != "random" and f.prototype.file is None:
        raise ConfigError(f"fpaa.prototype.file: required when fpaa.prototype.source = {f.prototype.source}")


def config_from_dict(data: Any, base_dir: Path | str = ".", source: Path | None = None) -> AtisConfig:
    """Validate a parsed YAML mapping; relative file paths resolve against ``base_dir``."""
    cfg = _build(AtisConfig, data, "", Path(base_dir))
    if cfg.scorer.spec is not None:
        cfg = _apply_spec(cfg, data)
    if cfg.fpaa.spice_fit is not None:      # the fitted OTA law replaces those fpaa.ota keys of the YAML
        cfg = _build(AtisConfig, merge(config_to_dict(cfg), spice_fit_overrides(cfg.fpaa.spice_fit)), "", Path("."))
    cfg = dataclasses.replace(cfg, source=source)
    _cross_check(cfg)
    return cfg


def _apply_spec(cfg: AtisConfig, data: dict) -> AtisConfig:
    """The config with ``scorer.spec``'s keys set; a key the YAML also sets must agree (else ConfigError)."""
    from .scorer_spec import ScorerSpec
    path = cfg.scorer.spec
    overrides = ScorerSpec.load(path, "scorer.spec").overrides(path)
    built = _build(AtisConfig, overrides, "", Path("."))
    for key in _leaves(overrides):
        given, section = data, True
        for part in key.split("."):
            section = isinstance(given, dict) and part in given
            given = given[part] if section else None
        if section and _leaf(cfg, key) != _leaf(built, key):
            raise ConfigError(f"{key} = {given!r}: conflicts with scorer.spec ({_leaf(built, key)!r}); "
                              "remove the key, or make it equal")
    return _build(AtisConfig, merge(config_to_dict(cfg), overrides), "", Path("."))


def _leaves(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        yield from _leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else [prefix + key]


def _leaf(cfg: Any, key: str) -> Any:
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key given twice in one mapping (plain YAML keeps the last, silently)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is not a name",
                                                        key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {seen[key] + 1})", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def load_config(path: Path | str | None = None) -> AtisConfig:
    """Load and validate a YAML config (default: ``configs/default.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"config file {str(path)!r}: cannot read ({e.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise ConfigError(f"config file {str(path)!r}: not UTF-8 text (byte 0x{raw[e.start]:02x} on line {line}); "
                          "save it as UTF-8") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        if isinstance(e, yaml.reader.ReaderError):     # a control character: no mark, a position
            where = f" at line {text[:e.position].count(chr(10)) + 1}"
        reason = (getattr(e, "problem", None) or str(e)).splitlines()[0]
        raise ConfigError(f"config file {str(path)!r}: not valid YAML{where}: {reason}") from None
    except RecursionError:                   # PyYAML composes nested collections recursively
        raise ConfigError(f"config file {str(path)!r}: not a config (collections nested too deeply)") from None
    return config_from_dict(data, base_dir=path.resolve().parent, source=path.resolve())


def config_to_dict(cfg: AtisConfig) -> dict:
    """The YAML-ready mapping of a config (paths absolute); ``config_from_dict`` of it gives ``cfg`` back."""
    def plain(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj):
            return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                    if not f.metadata.get("internal")}
        return str(obj) if isinstance(obj, Path) else obj
    return plain(cfg)


def config_reference(cls: type = AtisConfig, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key path, default, allowed, meaning) of every config field, from the schema itself (docs/config.md)."""
    rows = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(hints[f.name]):
            rows += config_reference(hints[f.name], key + ".")
            continue
        options = _options(hints[f.name])
        literals = [str(a) for o in options if typing.get_origin(o) is Literal for a in typing.get_args(o)]
        allowed = []
        if "range" in f.metadata and (int in options or float in options):
            lo, hi = f.metadata["range"]
            allowed.append(f"{lo}..{hi}" if int in options else f"{lo:g}..{hi:g}")
        allowed += literals
        if Path in options:
            allowed.append("file")
        if type(None) in options:
            allowed.append("null")
        default = f.default if f.default is not dataclasses.MISSING else None
        rows.append((key, "null" if default is None else str(default), ", ".join(allowed),
                     f.metadata.get("doc", "")))
    return rows


def config_reference_markdown() -> str:
    """The configuration table of docs/config.md (``atis config --reference``); a test keeps it in sync."""
    lines = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    lines += [f"| `{k}` | {d} | {a} | {m} |" for k, d, a, m in config_reference()]
    return "\n".join(lines)


def merge(base: dict, overrides: dict) -> dict:
    """Deep-merge ``overrides`` into a copy of ``base`` (sections merge key by key)."""
    out = dict(base)
    for key, value in overrides.items():
        out[key] = merge(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def with_overrides(cfg: AtisConfig, overrides: dict) -> AtisConfig:
    """``cfg`` with ``overrides`` deep-merged in, validated again (cross-field checks included). A
    ``fpaa.spice_fit`` the config was loaded with is in its ``fpaa.ota`` values already: it is not applied again
    (that would undo an override of a fitted key), unless ``overrides`` name a fit file themselves."""
    base = config_to_dict(cfg)
    base["fpaa"]["spice_fit"] = None
    return config_from_dict(merge(base, overrides))
