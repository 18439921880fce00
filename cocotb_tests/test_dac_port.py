"""cocotb bench of ``hdl.dac_port.Ad5628Port`` alone, its pins watched by the AD5628 monitor (``bfm/dac.py``, which
checks every data-sheet timing minimum on every frame), at 100 MHz with SCLK = clk/2: the setting where half an
SCLK period (10 ns) no longer covers the part's 13 ns SYNC setup (t4).

:class:`PortsUnderTest` holds the port with the schedule the design uses (``atis.golden.ad5628``) and two mutants
that must fail: SYNC half an SCLK period before the first falling edge (the port before the fix) and SYNC high for
one clock. Built and launched by ``tests/test_dac_port.py``. Timing: ``docs/reference/ad5628-timing.md``.
"""
from __future__ import annotations

import cocotb
import numpy as np
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from cocotb.handle import HierarchyObject
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

from atis.cocotb_tests.bfm import StreamBus, StreamSource
from atis.cocotb_tests.bfm.dac import Ad5628Bus, Ad5628Monitor
from atis.cocotb_tests.harness import TbBase
from atis.golden.ad5628 import Ad5628Schedule, ad5628_schedule
from atis.hdl.dac_port import Ad5628Port, dac_pins
from atis.hdl.layouts import write_layout

__all__ = ["CLOCK_NS", "DIVIDER", "PORTS", "TOPLEVEL", "PortsUnderTest", "TB"]

CLOCK_NS, DIVIDER = 10.0, 2
TOPLEVEL = "ad5628_ports"
#: The port's schedule at this clock, and the mutants (names of at most 10 characters: cocotb parameter values).
PORTS: dict[str, Ad5628Schedule] = {
    "design": ad5628_schedule(CLOCK_NS, DIVIDER),
    "setup_t4": Ad5628Schedule(DIVIDER, setup_cycles=DIVIDER // 2, high_cycles=DIVIDER),   # 10 ns < 13 ns
    "high_t8": Ad5628Schedule(DIVIDER, setup_cycles=2, high_cycles=1),                     # 10 ns < 15 ns
}


class PortsUnderTest(wiring.Component):
    """One :class:`Ad5628Port` per entry of :data:`PORTS`; ``select`` picks whose write stream, ``updated`` and
    pins are the DUT's (the others see no writes; their reference frames go nowhere)."""

    def __init__(self):
        super().__init__({"select": In(range(len(PORTS))), "i_write": In(stream.Signature(write_layout(8, 12))),
                          "updated": Out(1), **dac_pins("ad5628", 8, 12)})

    def elaborate(self, platform) -> Module:
        m = Module()
        for k, (name, schedule) in enumerate(PORTS.items()):
            m.submodules[name] = port = Ad5628Port(8, 12, schedule)
            chosen = self.select == k
            m.d.comb += [port.i_write.payload.eq(self.i_write.payload),
                         port.i_write.valid.eq(self.i_write.valid & chosen)]
            with m.If(chosen):
                m.d.comb += [self.i_write.ready.eq(port.i_write.ready), self.updated.eq(port.updated),
                             *(getattr(self, pin).eq(getattr(port, pin)) for pin in dac_pins("ad5628", 8, 12))]
        return m


class TB(TbBase):
    """The write source, the monitor, and the times of every ``updated`` pulse and every SYNC falling edge."""
    CLOCK_NS = CLOCK_NS

    def __init__(self, dut: HierarchyObject, port: str):
        super().__init__(dut)
        self.port = port
        self.source = StreamSource(StreamBus.from_prefix(dut, "i_write"), dut.clk, dut.rst,
                                   layout=write_layout(8, 12))
        self.dac = Ad5628Monitor(Ad5628Bus.from_prefix(dut, "dac"), elapsed=self.elapsed)
        self.updated_ns: list[float] = []
        self.sync_falls_ns: list[float] = []
        cocotb.start_soon(self._times(RisingEdge, dut.updated, self.updated_ns))
        cocotb.start_soon(self._times(FallingEdge, dut.dac_sync_n, self.sync_falls_ns))

    async def _times(self, edge, signal, into: list[float]) -> None:
        while True:
            await edge(signal)
            into.append(self.elapsed.ns())

    def on_reset(self) -> None:
        self.dut.select.value = list(PORTS).index(self.port)


def expected_updates(writes: list[dict]) -> list[dict[int, int]]:
    """What the part's outputs show after each update write (command 0010: write input n, update all)."""
    inputs, out = [0] * 8, []
    for w in writes:
        inputs[w["channel"]] = w["code"]
        if w["update"]:
            out.append(dict(enumerate(inputs)))
    return out


@cocotb.test()
@cocotb.parametrize(port=list(PORTS))
async def test_back_to_back_writes_meet_the_part_timing(dut: HierarchyObject, port: str) -> None:
    """Random writes, back to back: no protocol or timing error on any frame, every update decoded, ``updated``
    at each update frame's 32nd falling SCLK edge, frames ``frame_cycles`` apart."""
    tb = TB(dut, port)
    await tb.reset()
    rng = np.random.default_rng(tb.seed)
    writes = [{"channel": int(c), "code": int(v), "update": int(u)}
              for c, v, u in zip(rng.integers(0, 8, 24), rng.integers(0, 4096, 24), rng.random(24) < 0.4)]
    for w in writes:
        tb.source.send_nowait(w)
    frame = PORTS[port].frame_cycles
    for _ in range(len(writes) + 3):
        if tb.dac.frames > len(writes):
            break
        await ClockCycles(dut.clk, frame)
    await ClockCycles(dut.clk, 2 * frame)
    tb.record_metric(f"port_{port}", {"frames": tb.dac.frames, "protocol_errors": len(tb.dac.protocol_errors),
                                      "first_errors": sorted(set(tb.dac.protocol_errors))[:5]})
    assert not tb.dac.protocol_errors, tb.dac.protocol_errors[:3]
    assert tb.dac.frames == len(writes) + 1, f"{tb.dac.frames} frames for {len(writes)} writes + the reference"
    got = []
    while not tb.dac.empty():
        got.append(tb.dac.recv_nowait())
    assert [u.codes for u in got] == expected_updates(writes)
    assert tb.updated_ns == [u.t_ns for u in got], "updated is not at the 32nd falling SCLK edge of update frames"
    spacing = set(np.diff(tb.sync_falls_ns).round(6).tolist())
    assert spacing == {frame * tb.clock_ns}, f"SYNC falls {spacing} ns apart, expected {frame} cycles"
