"""Elaborate blocks from a config and write one Verilog file per block; the lint waivers live here too."""
from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from amaranth.back import verilog
from amaranth.lib import wiring

from atis.config import AtisConfig
from atis.golden.projection import resolve_projection
from atis.toolchain import activate_verilator

from .attention import AttentionHead
from .mask_gate import MaskGate
from .projection import Projection
from .scorer import Scorer, scorer_specs
from .softmax import Softmax
from .pipeline import ScoredTransformer
from .transformer import Transformer

__all__ = ["BLOCKS", "default_blocks", "transformer_unsupported", "MODULE_PREFIX", "LINT_WAIVERS", "build_block",
           "block_verilog", "write_verilog", "lint_verilog"]

#: Top modules are named ``atis_<block>``: never equal to a port name (ports are ``i_*``/``o_*``/nouns).
MODULE_PREFIX = "atis_"

#: Block name -> factory taking the config. Later blocks (dac_sequencer, mask_gate, ...) register here.
BLOCKS: dict[str, Callable[[AtisConfig], wiring.Component]] = {
    "projection": lambda cfg: Projection(resolve_projection(cfg)),
    "scorer": lambda cfg: Scorer(*scorer_specs(cfg)),
    "mask_gate": lambda cfg: MaskGate(cfg.model.seq_len),
    "softmax": lambda cfg: Softmax(cfg.model.seq_len),
    "attention_head": lambda cfg: attention_head(cfg),
    "transformer": lambda cfg: transformer(cfg),
    "pipeline": lambda cfg: pipeline(cfg),
}

#: Verilator -Wall waivers for Amaranth's generated Verilog, each with the reason it is safe.
LINT_WAIVERS = [
    # Amaranth sizes every operator result exactly and then extends/truncates on assignment, by design.
    "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC",
    # Yosys' RTLIL backend declares whole packed vectors (memory read data, struct payloads) of which a block
    # reads only some bits; the unread bits are not a design error.
    "-Wno-UNUSEDSIGNAL",
    # Amaranth gives each register its reset value as a declaration initializer (the FPGA power-up state) and
    # also assigns it in the clocked process; both are intended.
    "-Wno-PROCASSINIT",
    # `m.FSM()` becomes a case over the state register without a default arm; the encodings it leaves out are
    # never assigned, so they are unreachable.
    "-Wno-CASEINCOMPLETE",
    # A hierarchical block is written as one file holding its submodules (`atis_scorer.capture`, ...): one file
    # per top block is the export's contract.
    "-Wno-DECLFILENAME",
    # A struct field tied to a constant (the pool's unused ``tag.key``) becomes an `always @*` with nothing to
    # read; it holds its constant, which is the intent.
    "-Wno-ALWNEVER",
]


def attention_head(cfg: AtisConfig) -> AttentionHead:
    """One head of the configured transformer (its score shift is a run-time input)."""
    dh = cfg.model.d_model // cfg.transformer.heads
    return AttentionHead(cfg.model.seq_len, dh, min(cfg.transformer.lanes, dh))


#: The transformer RTL's limits (the golden model has none): mean-norm divides by d with a shift, and every
#: attention head buffers a whole sequence.
TRANSFORMER_MAX_LEN = 256


def transformer_unsupported(cfg: AtisConfig) -> str | None:
    """Why the transformer RTL cannot be built from ``cfg`` (None when it can)."""
    d, n = cfg.model.d_model, cfg.model.seq_len
    if d & (d - 1):
        return f"model.d_model = {d}: the transformer RTL needs a power of two (mean-norm is a shift)"
    if n > TRANSFORMER_MAX_LEN:
        return f"model.seq_len = {n}: the transformer RTL buffers whole sequences, at most {TRANSFORMER_MAX_LEN}"
    return None


#: Built only when asked for (``--block pipeline``): it contains the scorer and the transformer blocks.
ON_REQUEST = ("pipeline",)


def default_blocks(cfg: AtisConfig) -> list[str]:
    """Every block that can be built from ``cfg`` (not the composite ``pipeline``)."""
    return [b for b in BLOCKS if b not in ON_REQUEST and (b != "transformer" or transformer_unsupported(cfg) is None)]


def pipeline(cfg: AtisConfig) -> ScoredTransformer:
    """Scorer (FPAA pins) -> row packer -> transformer, sequences of ``model.seq_len`` tokens."""
    if cfg.fpga.scorer != "fpaa":
        raise ValueError("the pipeline block scores on the FPAA pins (fpga.scorer = fpaa)")
    projection, sequencer, _ = scorer_specs(cfg)
    return ScoredTransformer(projection, sequencer, transformer(cfg))


def transformer(cfg: AtisConfig) -> Transformer:
    why = transformer_unsupported(cfg)
    if why:
        raise ValueError(why)
    t, d, n = cfg.transformer, cfg.model.d_model, cfg.model.seq_len
    return Transformer(d=d, heads=t.heads, ffn=t.ffn, layers=t.layers, classes=t.classes, max_len=n, lanes=t.lanes)


def build_block(name: str, cfg: AtisConfig) -> wiring.Component:
    if name not in BLOCKS:
        raise ValueError(f"unknown block {name!r} (known: {', '.join(BLOCKS)})")
    return BLOCKS[name](cfg)


def block_verilog(name: str, cfg: AtisConfig) -> tuple[str, str]:
    """(module name, Verilog text) of one block, elaborated from ``cfg``."""
    component = build_block(name, cfg)
    module = MODULE_PREFIX + name
    ports = {path[0] for path, _, _ in component.signature.flatten(component)}
    if module in ports:
        raise ValueError(f"module name {module!r} equals one of its ports")
    return module, verilog.convert(component, name=module, emit_src=False)


def write_verilog(cfg: AtisConfig, out_dir: Path | str, blocks: list[str] | None = None) -> list[Path]:
    """Write ``<out_dir>/atis_<block>.v`` for each block (default: all that ``cfg`` supports); returns the paths.

    Every file is elaborated before any is written, so a failing block leaves nothing half-written.
    """
    texts = {}
    for name in blocks or default_blocks(cfg):
        module, text = block_verilog(name, cfg)
        texts[module] = text
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for module, text in texts.items():
        path = out / f"{module}.v"
        path.write_text(text)
        paths.append(path)
    return paths


def lint_verilog(path: Path) -> tuple[bool, str]:
    """``verilator --lint-only -Wall`` with :data:`LINT_WAIVERS`; returns (clean, Verilator's messages)."""
    tool = activate_verilator()
    proc = subprocess.run([str(tool.executable), "--lint-only", "-Wall", *LINT_WAIVERS, str(path)],
                          capture_output=True, text=True)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()
