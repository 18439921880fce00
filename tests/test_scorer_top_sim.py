"""The board top's host link in the Amaranth simulator: UART bytes in, one answer byte per token out."""
from __future__ import annotations

from amaranth.sim import Simulator

from atis.config import config_from_dict
from atis.golden.projection import resolve_projection
from atis.golden.sequencer import resolve_sequencer
from atis.hdl.scorer_top import ScorerTop

DIV = 8


def test_tokens_over_uart_come_back_as_keep_bytes(rng):
    cfg = config_from_dict({"model": {"d_model": 4}, "projection": {"m": 2, "lanes": 2},
                            "dac": {"n_channels": 2, "sclk_divider": 2, "settle_ns": 40.0}})
    dut = ScorerTop(projection=resolve_projection(cfg), sequencer=resolve_sequencer(cfg), uart_divisor=DIV)
    tokens = rng.integers(-128, 128, size=(3, 4))
    comparator = [1, 0, 1]                        # what the FPAA answers for each token
    answers, status = [], {}

    async def send_byte(ctx, byte: int):
        for bit in [0, *[(byte >> i) & 1 for i in range(8)], 1]:
            ctx.set(dut.uart_rx, bit)
            await ctx.tick().repeat(DIV)

    async def receive_byte(ctx) -> int:
        while ctx.get(dut.uart_tx) == 1:          # wait for the start bit
            await ctx.tick()
        await ctx.tick().repeat(DIV + DIV // 2)   # to the middle of data bit 0
        byte = 0
        for i in range(8):
            byte |= ctx.get(dut.uart_tx) << i
            await ctx.tick().repeat(DIV)
        assert ctx.get(dut.uart_tx) == 1, "stop bit low"
        return byte

    async def host(ctx):
        ctx.set(dut.uart_rx, 1)
        await ctx.tick().repeat(10)
        for token, level in zip(tokens, comparator):
            ctx.set(dut.comparator, level)
            for x in token:
                await send_byte(ctx, int(x) & 0xFF)
            answers.append(await receive_byte(ctx))
        status["error"] = ctx.get(dut.led_error)
        status["keep_led"] = ctx.get(dut.led_keep)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(host)
    sim.run()
    assert answers == [(n << 1) | k for n, k in enumerate(comparator)]
    assert status == {"error": 0, "keep_led": comparator[-1]}
