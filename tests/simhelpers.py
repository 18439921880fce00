"""Helpers shared by the Amaranth-simulator tests."""
from __future__ import annotations


async def stream_put(ctx, port, payload):
    """Offer one payload on an ``amaranth.lib.stream`` port and wait for its transfer."""
    ctx.set(port.payload, payload)
    ctx.set(port.valid, 1)
    await ctx.tick().until(port.ready)
    ctx.set(port.valid, 0)
