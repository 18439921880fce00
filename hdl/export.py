"""Elaborate blocks from a resolved design (``atis.design.DesignSpec``) and write one Verilog file per block; the
lint waivers live here too."""
from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from amaranth.back import verilog
from amaranth.lib import wiring

from atis.design import DesignSpec
from atis.golden.keep_watchdog import WatchdogSpec
from atis.toolchain import activate_verilator

from .attention import AttentionHead
from .keep_watchdog import WatchedScorer
from .pipeline import ScoredTransformer
from .projection import Projection
from .scorer import Scorer
from .sequenced import SequencedTransformer
from .softmax import Softmax
from .transformer import Transformer

__all__ = ["BLOCKS", "default_blocks", "MODULE_PREFIX", "LINT_WAIVERS", "build_block", "block_verilog",
           "write_verilog", "lint_verilog"]

#: Top modules are named ``atis_<block>``: never equal to a port name (ports are ``i_*``/``o_*``/nouns).
MODULE_PREFIX = "atis_"


def attention_head(design: DesignSpec) -> AttentionHead:
    """One head of the configured transformer (its score shift is a run-time input)."""
    t = design.transformer
    return AttentionHead(max_len=t.max_len, dh=t.dh, lanes=min(t.lanes, t.dh))


def transformer(design: DesignSpec) -> Transformer | SequencedTransformer:
    """The configured engine (``transformer.engine``); both have the same members and give the same logits."""
    if design.transformer_unsupported:
        raise ValueError(design.transformer_unsupported)
    if design.transformer.engine == "sequenced":
        return SequencedTransformer(design.transformer)
    return Transformer(design.transformer)


def pipeline(design: DesignSpec) -> ScoredTransformer:
    """Scorer (FPAA pins) -> row packer -> transformer, sequences of ``model.seq_len`` tokens."""
    if design.scorer != "fpaa":
        raise ValueError("the pipeline block scores on the FPAA pins (fpga.scorer = fpaa)")
    return ScoredTransformer(design.projection, design.sequencer, transformer(design), design.watchdog)


#: A watchdog whose band cannot be left (for a watched scorer of a config with ``fpga.watchdog.window: 0``).
_NO_WATCHDOG = WatchdogSpec(window=2, lo_count=0, hi_count=2, keep_all=False)

#: Block name -> factory taking the resolved design.
BLOCKS: dict[str, Callable[[DesignSpec], wiring.Component]] = {
    "projection": lambda design: Projection(design.projection),
    "scorer": lambda design: Scorer(design.projection, design.sequencer, design.digital),
    "softmax": lambda design: Softmax(design.seq_len),
    "attention_head": attention_head,
    "transformer": transformer,
    "pipeline": pipeline,
    # the scorer with the keep-rate watchdog on its output (the fault bench's DUT)
    "watched_scorer": lambda design: WatchedScorer(design.projection, design.sequencer,
                                                   design.watchdog or _NO_WATCHDOG),
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


#: Built only when asked for (``--block pipeline``): it contains the scorer and the transformer blocks.
ON_REQUEST = ("pipeline", "watched_scorer")


def default_blocks(design: DesignSpec) -> list[str]:
    """Every block that can be built from ``design`` (not the composite ``pipeline``)."""
    return [b for b in BLOCKS
            if b not in ON_REQUEST and (b != "transformer" or design.transformer_unsupported is None)]


def build_block(name: str, design: DesignSpec) -> wiring.Component:
    if name not in BLOCKS:
        raise ValueError(f"unknown block {name!r} (known: {', '.join(BLOCKS)})")
    return BLOCKS[name](design)


def block_verilog(name: str, design: DesignSpec) -> tuple[str, str]:
    """(module name, Verilog text) of one block, elaborated from ``design``."""
    component = build_block(name, design)
    module = MODULE_PREFIX + name
    ports = {path[0] for path, _, _ in component.signature.flatten(component)}
    if module in ports:
        raise ValueError(f"module name {module!r} equals one of its ports")
    return module, verilog.convert(component, name=module, emit_src=False)


def write_verilog(design: DesignSpec, out_dir: Path | str, blocks: list[str] | None = None) -> list[Path]:
    """Write ``<out_dir>/atis_<block>.v`` for each block (default: all that ``design`` supports); returns the paths.

    Every file is elaborated before any is written, so a failing block leaves nothing half-written.
    """
    texts = {}
    for name in blocks or default_blocks(design):
        module, text = block_verilog(name, design)
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
