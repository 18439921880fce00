"""cocotb bench of the DAC monitors (``bfm/dac.py``) on bare pins: :class:`DacPins` only brings the AD5628 SPI and
parallel-DAC pins out as inputs. The bench drives them as the sequencer would (and, on purpose, as it must not),
and checks the decoded updates in the monitors' queues and that every protocol and timing violation is reported.

Built and launched by ``tests/test_bfm_dac.py``. AD5628 frames and timing: ``docs/reference/ad5628-spi.md``,
``docs/reference/ad5628-timing.md``.
"""
from __future__ import annotations

import os

import cocotb
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from cocotb.handle import HierarchyObject
from cocotb.triggers import ClockCycles, RisingEdge, Timer

from atis.cocotb_tests.bfm.dac import Ad5628Bus, Ad5628Monitor, DacUpdate, ParallelDacBus, ParallelDacMonitor
from atis.cocotb_tests.harness import TbBase

__all__ = ["CLOCK_NS", "TOPLEVEL", "VIOLATIONS", "TIMING_FAULTS", "DacPins", "TB", "spi_word"]

CLOCK_NS = 10
TOPLEVEL = "dac_pins"
#: AD5628 commands (data sheet, command definitions): write input n, update n, write n + update all,
#: write + update n, set up the internal reference.
WRITE, UPDATE, WRITE_UPDATE_ALL, WRITE_UPDATE, REFERENCE = 0b0000, 0b0001, 0b0010, 0b0011, 0b1000
ALL = 0xF       # address: all channels


class DacPins(wiring.Component):
    """The scorer's DAC pins as inputs (``dac_*``), plus a strobe counter so the design has a clock domain."""

    def __init__(self):
        super().__init__({"dac_sync_n": In(1, init=1), "dac_sclk": In(1), "dac_din": In(1), "dac_channel": In(3),
                          "dac_code": In(12), "dac_strobe": In(1), "dac_update": In(1), "strobes": Out(16)})

    def elaborate(self, platform) -> Module:
        m = Module()
        m.d.sync += self.strobes.eq(self.strobes + self.dac_strobe)
        return m


def spi_word(command: int, address: int = 0, code: int = 0, low: int = 0) -> int:
    """A 32-bit AD5628 input word: 4 don't-care bits, command, address, 12-bit data, 8 low bits."""
    return command << 24 | address << 20 | code << 8 | low


class TB(TbBase):
    """The pins, driven from here, and the monitor under test (``ad5628`` or ``parallel`` with ``channels``)."""
    CLOCK_NS = CLOCK_NS

    def __init__(self, dut: HierarchyObject, part: str, channels: int = 8):
        super().__init__(dut)
        if part == "ad5628":
            self.dac = Ad5628Monitor(Ad5628Bus.from_prefix(dut, "dac"), elapsed=self.elapsed)
        else:
            self.dac = ParallelDacMonitor(ParallelDacBus.from_prefix(dut, "dac"), dut.clk, channels=channels,
                                          elapsed=self.elapsed)
        dut.dac_sync_n.value, dut.dac_sclk.value, dut.dac_din.value = 1, 0, 0
        dut.dac_strobe.value, dut.dac_update.value = 0, 0

    async def spi_frame(self, word: int, bits: int = 32, sclk_ns: float = 40, sync_high_ns: float = 40, *,
                        high_ns: float | None = None, setup_ns: float | None = None,
                        din_lead_ns: float | None = None, glitch_ns: float | None = None) -> None:
        """SYNC low, ``bits`` bits of ``word`` MSB first, SYNC high half a period after the last falling SCLK edge,
        for ``sync_high_ns``. A 33rd bit repeats bit 0. Timing: the first falling SCLK edge ``setup_ns`` after SYNC
        falls (one period), SCLK high ``high_ns`` (half a period) before each falling edge, DIN set ``din_lead_ns``
        before it (with SCLK's rise); ``glitch_ns``: one more SCLK fall this long after SYNC rises."""
        high = sclk_ns / 2 if high_ns is None else high_ns
        setup = sclk_ns if setup_ns is None else setup_ns
        lead = high if din_lead_ns is None else din_lead_ns
        events = [(0.0, "dac_sync_n", 0)]
        for i in range(bits):
            fall = setup + i * sclk_ns
            events += [(fall - high, "dac_sclk", 1), (fall - lead, "dac_din", (word >> max(31 - i, 0)) & 1),
                       (fall, "dac_sclk", 0)]
        end = setup + (bits - 1) * sclk_ns + sclk_ns / 2
        events.append((end, "dac_sync_n", 1))
        if glitch_ns is not None:
            events += [(end, "dac_sclk", 1), (end + glitch_ns, "dac_sclk", 0)]
        events.sort(key=lambda e: e[0])                  # stable: same-time events keep their order
        now = events[0][0]
        for at, pin, value in events:
            if at > now:
                await Timer(at - now, "ns")
                now = at
            getattr(self.dut, pin).value = value
        await Timer(end + sync_high_ns - now, "ns")

    async def strobe(self, writes: list[tuple[int, int]], update: bool = True) -> None:
        """One clock cycle per (channel, code) write, then (optionally) one update cycle; the pins change right
        after rising edges, as the sequencer's registers do."""
        dut = self.dut
        for channel, code in writes:
            await RisingEdge(dut.clk)
            dut.dac_channel.value, dut.dac_code.value, dut.dac_strobe.value = channel, code, 1
        await RisingEdge(dut.clk)
        dut.dac_strobe.value = 0
        if update:
            dut.dac_update.value = 1
            await RisingEdge(dut.clk)
            dut.dac_update.value = 0
        await ClockCycles(dut.clk, 2)

    def check_ad5628_path(self) -> None:
        """The monitor took the path the launcher asked for (``ATIS_BENCH_AD5628=pins``: the pin-level decoder
        alone; else the wrapper's recorder), and with ``ATIS_BENCH_AD5628_SHADOW=1`` the pin-level decoder
        checked the recorder on every frame."""
        pins = os.environ.get("ATIS_BENCH_AD5628") == "pins"
        assert (self.dac.recorder is None) == pins, f"the AD5628 monitor ignored path {'pins' if pins else 'auto'}"
        if not pins and self.dac.shadow_every == 1:
            assert self.dac.frames_compared == self.dac.frames_ended > 0, \
                f"{self.dac.frames_compared} of {self.dac.frames_ended} frames cross-checked"

    def updates(self) -> list[dict[int, int]]:
        got = []
        while not self.dac.empty():
            update = self.dac.recv_nowait()
            assert isinstance(update, DacUpdate)
            got.append(update.codes)
        return got


@cocotb.test()
async def test_ad5628_frames_decode_to_updates(dut: HierarchyObject) -> None:
    """Reference on, then each write/update command: the queue holds exactly the output changes, in order."""
    tb = TB(dut, "ad5628")
    await tb.reset()
    for word in (spi_word(REFERENCE, low=1), spi_word(WRITE_UPDATE, 3, 0xABC), spi_word(WRITE, 5, 0x123),
                 spi_word(UPDATE, 5), spi_word(WRITE_UPDATE_ALL, 1, 0x0FF), spi_word(WRITE_UPDATE, ALL, 0x800)):
        await tb.spi_frame(word)
    assert not tb.dac.protocol_errors, tb.dac.protocol_errors
    all_after_write = {ch: {1: 0x0FF, 3: 0xABC, 5: 0x123}.get(ch, 0) for ch in range(8)}
    assert tb.updates() == [{3: 0xABC}, {5: 0x123}, all_after_write, dict.fromkeys(range(8), 0x800)]
    assert tb.dac.empty() and tb.dac.count() == 0
    assert (tb.dac.frames, tb.dac.bits_clocked, tb.dac.writes, tb.dac.updates) == (6, 192, 4, 4)
    tb.check_ad5628_path()



@cocotb.test()
async def test_ad5628_monitor_ignores_a_frame_in_flight_when_it_starts(dut: HierarchyObject) -> None:
    """A test that ends mid-frame leaves SYNC low in the model (and the recorder's frame open) for the next test
    of the simulation: that test's monitor must not report the frame's end (an aborted frame) nor its bits."""
    tb = TB(dut, "ad5628")
    await tb.reset()
    await tb.spi_frame(spi_word(REFERENCE, low=1))
    dut.dac_sync_n.value = 0                      # a frame starts, 10 bits go out, and the test ends there
    for i in range(10):
        await Timer(20, "ns")
        dut.dac_sclk.value, dut.dac_din.value = 1, i & 1
        await Timer(20, "ns")
        dut.dac_sclk.value = 0
    await Timer(20, "ns")
    fresh = TB(dut, "ad5628")                     # the next test's TB: its pins idle, SYNC rises
    await Timer(100, "ns")
    for word in (spi_word(REFERENCE, low=1), spi_word(WRITE_UPDATE, 2, 0x456)):
        await fresh.spi_frame(word)
    assert not fresh.dac.protocol_errors, fresh.dac.protocol_errors
    assert fresh.updates() == [{2: 0x456}]
    assert (fresh.dac.frames, fresh.dac.frames_ended, fresh.dac.bits_clocked) == (2, 2, 64)


#: Violation (a short name: cocotb names parametrized tests by values of at most 10 characters) -> what the
#: monitor must report.
VIOLATIONS = {
    "no_ref": "before the internal reference was enabled",
    "aborted": "frame aborted",
    "edge_33": "more than 32 SCLK edges",
    "bad_addr": "is no DAC channel",
    "bad_cmd": "not expected from the sequencer",
}

#: Every data-sheet minimum above 0 ns, broken on purpose (t7 and t10 are 0 ns: no frame can break them):
#: :meth:`TB.spi_frame` keyword arguments -> the one message the monitor must give.
TIMING_FAULTS = {
    "t1": ({"sclk_ns": 16}, "t1 (SCLK cycle time): 16 ns measured, minimum 20 ns"),
    "t2": ({"high_ns": 6}, "t2 (SCLK high time): 6 ns measured, minimum 8 ns"),
    "t3": ({"high_ns": 34}, "t3 (SCLK low time): 6 ns measured, minimum 8 ns"),
    "t4": ({"setup_ns": 10, "high_ns": 10}, "t4 (SYNC to SCLK falling edge setup time): 10 ns measured, minimum 13 ns"),
    "t5": ({"din_lead_ns": 3}, "t5 (data setup time): 3 ns measured, minimum 5 ns"),
    "t6": ({"din_lead_ns": 38}, "t6 (data hold time): 2 ns measured, minimum 4.5 ns"),
    "t8": ({"sync_high_ns": 10}, "t8 (minimum SYNC high time): 10 ns measured, minimum 15 ns"),
    "t9": ({"glitch_ns": 5}, "t9 (SYNC rising edge to SCLK fall ignore): 5 ns measured, minimum 13 ns"),
}


@cocotb.test()
@cocotb.parametrize(violation=list(VIOLATIONS))
async def test_ad5628_reports_every_violation(dut: HierarchyObject, violation: str) -> None:
    """Each protocol violation of the AD5628 interface lands in ``protocol_errors``, named."""
    tb = TB(dut, "ad5628")
    await tb.reset()
    if violation != "no_ref":
        await tb.spi_frame(spi_word(REFERENCE, low=1))
    ok = spi_word(WRITE_UPDATE, 2, 0x5A5)
    if violation == "no_ref":
        await tb.spi_frame(ok)
    elif violation == "aborted":
        await tb.spi_frame(ok, bits=16)
    elif violation == "edge_33":
        await tb.spi_frame(ok, bits=33)
    elif violation == "bad_addr":
        await tb.spi_frame(spi_word(WRITE_UPDATE, 9, 0x5A5))
    else:
        await tb.spi_frame(spi_word(0b0100, 0, 0))            # power down: the sequencer never sends it
    errors = tb.dac.protocol_errors
    assert errors and all(VIOLATIONS[violation] in e for e in errors), errors
    tb.check_ad5628_path()


@cocotb.test()
async def test_ad5628_reports_every_timing_violation(dut: HierarchyObject) -> None:
    """One frame per broken minimum, each followed by a clean frame (t8 shows at the next SYNC fall): the monitor
    names that parameter, with the measured and the minimum time, and nothing else; the clean frames pass."""
    tb = TB(dut, "ad5628")
    await tb.reset()
    await tb.spi_frame(spi_word(REFERENCE, low=1))
    ok = spi_word(WRITE_UPDATE, 2, 0x5A5)
    wrong = {}
    for symbol, (fault, message) in TIMING_FAULTS.items():
        tb.dac.protocol_errors.clear()
        await tb.spi_frame(ok, **fault)
        await tb.spi_frame(ok)
        errors = list(tb.dac.protocol_errors)
        if not errors or any(e != message for e in errors):
            wrong[symbol] = errors[:3]
    assert not wrong, f"expected one kind of message per fault; got {wrong}"
    assert tb.dac.frames == 1 + 2 * len(TIMING_FAULTS)
    tb.check_ad5628_path()


@cocotb.test()
async def test_parallel_dac_decodes_strobes_and_updates(dut: HierarchyObject) -> None:
    """Strobes fill input registers, an update moves all of them to the outputs; a clean bus reports nothing."""
    tb = TB(dut, "parallel")
    await tb.reset()
    codes = {ch: 0x111 * (ch + 1) for ch in range(8)}
    await tb.strobe(list(codes.items()))
    await tb.strobe([(2, 0xFFF)], update=False)
    assert tb.updates() == [codes] and tb.dac.input_regs[2] == 0xFFF and tb.dac.dac_regs[2] == codes[2]
    await tb.strobe([], update=True)
    assert tb.updates() == [{**codes, 2: 0xFFF}]
    assert not tb.dac.protocol_errors and (tb.dac.writes, tb.dac.updates) == (9, 2)


@cocotb.test()
async def test_parallel_dac_reports_a_strobe_to_a_missing_channel(dut: HierarchyObject) -> None:
    """Six channels wired: a strobe to channel 7 is a protocol error and writes nothing."""
    tb = TB(dut, "parallel", channels=6)
    await tb.reset()
    await tb.strobe([(7, 0x123)])
    assert tb.dac.protocol_errors == ["strobe to channel 7 of 6"], tb.dac.protocol_errors
    assert tb.dac.writes == 0
