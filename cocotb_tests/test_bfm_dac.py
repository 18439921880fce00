"""cocotb bench of the DAC monitors (``bfm/dac.py``) on bare pins: :class:`DacPins` only brings the AD5628 SPI and
parallel-DAC pins out as inputs. The bench drives them as the sequencer would (and, on purpose, as it must not),
and checks the decoded updates in the monitors' queues and that every protocol and timing violation is reported.

Built and launched by ``tests/test_bfm_dac.py``. AD5628 frames: ``../shared/reference/ad5628-spi.md``.
"""
from __future__ import annotations

import cocotb
from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from cocotb.handle import HierarchyObject
from cocotb.triggers import ClockCycles, RisingEdge, Timer

from atis.cocotb_tests.bfm.dac import Ad5628Bus, Ad5628Monitor, DacUpdate, ParallelDacBus, ParallelDacMonitor
from atis.cocotb_tests.harness import TbBase

__all__ = ["CLOCK_NS", "TOPLEVEL", "VIOLATIONS", "DacPins", "TB", "spi_word"]

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

    async def spi_frame(self, word: int, bits: int = 32, sclk_ns: float = 40, sync_high_ns: float = 40) -> None:
        """SYNC low, ``bits`` bits of ``word`` MSB first (DIN set half a period before each falling SCLK edge),
        SYNC high for ``sync_high_ns``. A 33rd bit repeats bit 0."""
        dut, half = self.dut, sclk_ns / 2
        dut.dac_sync_n.value = 0
        await Timer(half, "ns")
        for i in range(bits):
            dut.dac_din.value = (word >> max(31 - i, 0)) & 1
            dut.dac_sclk.value = 1
            await Timer(half, "ns")
            dut.dac_sclk.value = 0
            await Timer(half, "ns")
        dut.dac_sync_n.value = 1
        await Timer(sync_high_ns, "ns")

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


#: Violation (a short name: cocotb names parametrized tests by values of at most 10 characters) -> what the
#: monitor must report.
VIOLATIONS = {
    "no_ref": "before the internal reference was enabled",
    "aborted": "frame aborted",
    "fast_sclk": "SCLK period",
    "short_sync": "SYNC high for",
    "edge_33": "more than 32 SCLK edges",
    "bad_addr": "is no DAC channel",
    "bad_cmd": "not expected from the sequencer",
}


@cocotb.test()
@cocotb.parametrize(violation=list(VIOLATIONS))
async def test_ad5628_reports_every_violation(dut: HierarchyObject, violation: str) -> None:
    """Each protocol or timing violation of the AD5628 interface lands in ``protocol_errors``, named."""
    tb = TB(dut, "ad5628")
    await tb.reset()
    if violation != "no_ref":
        await tb.spi_frame(spi_word(REFERENCE, low=1))
    ok = spi_word(WRITE_UPDATE, 2, 0x5A5)
    if violation == "no_ref":
        await tb.spi_frame(ok)
    elif violation == "aborted":
        await tb.spi_frame(ok, bits=16)
    elif violation == "fast_sclk":
        await tb.spi_frame(ok, sclk_ns=16)                    # 62.5 MHz > the part's 50 MHz
    elif violation == "short_sync":
        await tb.spi_frame(ok, sync_high_ns=10)               # < 15 ns minimum
        await tb.spi_frame(ok)
    elif violation == "edge_33":
        await tb.spi_frame(ok, bits=33)
    elif violation == "bad_addr":
        await tb.spi_frame(spi_word(WRITE_UPDATE, 9, 0x5A5))
    else:
        await tb.spi_frame(spi_word(0b0100, 0, 0))            # power down: the sequencer never sends it
    errors = tb.dac.protocol_errors
    assert errors and all(VIOLATIONS[violation] in e for e in errors), errors


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
