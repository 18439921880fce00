"""The design, resolved once from a config: every spec the RTL, the golden model, the benches and the boards share.

``resolve_design(cfg)`` is the one place a config becomes hardware parameters. Components in ``atis.hdl`` take
these frozen specs (never the config), so an RTL block and its golden model cannot read the same key two ways.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from .config import AtisConfig
from .golden.digital_scorer import DigitalScorerSpec, resolve_digital_scorer
from .golden.keep_watchdog import WatchdogSpec, resolve_watchdog
from .golden.projection import ProjectionSpec, resolve_projection
from .golden.sequencer import SequencerSpec, resolve_sequencer

__all__ = ["MaskMode", "BoardTopKind", "TransformerSpec", "DesignSpec", "resolve_design", "transformer_unsupported",
           "TRANSFORMER_MAX_LEN"]

#: The transformer RTL's limit on the sequence (the golden model has none): every attention head buffers a whole
#: sequence.
TRANSFORMER_MAX_LEN = 256


class MaskMode(str, enum.Enum):
    """How pruned tokens reach the transformer (``transformer.mask``); equal to the config's strings."""
    DROP = "drop"          # pruned tokens leave before the first block: attention costs k²
    KEYMASK = "keymask"    # they stay as queries, masked as keys: k·n


class BoardTopKind(str, enum.Enum):
    """What a bitstream holds (``atis build --top``)."""
    SCORER = "scorer"        # projection, DAC sequencer, comparator capture, UART: bring-up of the analog board
    PIPELINE = "pipeline"    # the whole digital side: scorer -> row packer -> transformer, behind the host link


@dataclass(frozen=True, slots=True)
class TransformerSpec:
    """The shape of the int8 transformer RTL (weights come over the load chain at run time)."""
    d: int
    heads: int
    ffn: int
    layers: int
    classes: int
    max_len: int
    lanes: int
    engine: str = "pipelined"       # pipelined: hdl.transformer.Transformer; sequenced: hdl.sequenced
    ram_bank: int = 0               # sequenced engine: bytes per registered block-RAM bank (0: one RAM each)

    def __post_init__(self):
        for name in ("d", "heads", "ffn", "layers", "classes", "max_len", "lanes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"transformer {name} = {value!r}: must be a positive integer")
        if self.d % self.heads:
            raise ValueError(f"transformer heads = {self.heads}: must divide d = {self.d}")
        if self.lanes > self.d:
            raise ValueError(f"transformer lanes = {self.lanes}: must be in 1..d ({self.d})")

    @property
    def dh(self) -> int:
        """Width of one attention head."""
        return self.d // self.heads


@dataclass(frozen=True)
class DesignSpec:
    """Every hardware parameter of one config. ``digital`` is set when ``fpga.scorer = digital``;
    ``transformer_unsupported`` says why the transformer RTL cannot be built (None when it can)."""
    projection: ProjectionSpec
    sequencer: SequencerSpec
    digital: DigitalScorerSpec | None
    transformer: TransformerSpec
    transformer_unsupported: str | None
    seq_len: int
    uart_divisor: int           # clock / baud of the host UART
    scorer: str                 # fpga.scorer: "fpaa" | "digital"
    watchdog: WatchdogSpec | None = None    # fpga.watchdog: the pipeline's keep-rate watchdog (None: none)


def transformer_unsupported(cfg: AtisConfig) -> str | None:
    """Why the transformer RTL cannot be built from ``cfg`` (None when it can)."""
    d, n = cfg.model.d_model, cfg.model.seq_len
    if d & (d - 1):
        return f"model.d_model = {d}: the transformer RTL needs a power of two (mean-norm is a shift)"
    if n > TRANSFORMER_MAX_LEN:
        return f"model.seq_len = {n}: the transformer RTL buffers whole sequences, at most {TRANSFORMER_MAX_LEN}"
    return None


def resolve_design(cfg: AtisConfig) -> DesignSpec:
    """All specs of ``cfg``; file inputs (learned matrix, calibration, prototypes) are read here, once."""
    t = cfg.transformer
    transformer = TransformerSpec(d=cfg.model.d_model, heads=t.heads, ffn=t.ffn, layers=t.layers,
                                  classes=t.classes, max_len=cfg.model.seq_len, lanes=t.lanes,
                                  engine=t.engine, ram_bank=t.ram_bank)
    return DesignSpec(
        projection=resolve_projection(cfg), sequencer=resolve_sequencer(cfg),
        digital=resolve_digital_scorer(cfg) if cfg.fpga.scorer == "digital" else None,
        transformer=transformer, transformer_unsupported=transformer_unsupported(cfg),
        seq_len=cfg.model.seq_len,
        uart_divisor=round(cfg.fpga.clock_MHz * 1e6 / cfg.fpga.uart_baud), scorer=cfg.fpga.scorer,
        watchdog=resolve_watchdog(cfg))
