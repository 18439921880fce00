"""DAC sequencer: projected codes -> time-multiplexed DAC writes -> settle -> ``evaluate`` (seed §4.2 (a)).

Timing contract: ``atis.golden.sequencer`` (one spec shared with the benches and the vectorized FPAA model).
"""
from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from atis.golden.sequencer import SequencerSpec

from .common import counter
from .dac_port import Ad5628Port, ParallelDacPort, dac_pins
from .layouts import codes_layout

__all__ = ["DacSequencer"]


class DacSequencer(wiring.Component):
    """Drives ``n_dac`` DAC channels from a stream of m codes per token, R = ⌈m / n_dac⌉ rounds per token.

    Members
    -------
    i_codes : In(stream.Signature(codes_layout(dac_bits)))
        Codes of inputs 0..m-1 (``first``/``last`` framing checked; the counter wins, ``framing_error`` is sticky).
        Double-buffered: the next token's codes are taken while this one is written out.
    dac pins : ``dac_sync_n``/``dac_sclk``/``dac_din`` (AD5628) or ``dac_channel``/``dac_code``/``dac_strobe``/
        ``dac_update`` (parallel). Input j goes to channel ``j mod n_dac`` in round ``j div n_dac``; a round's last
        write updates all outputs at once.
    o_round : Out
        The round whose codes the DAC outputs carry from the next update on; OTA input group ``o_round`` tracks
        the DAC outputs (the FPAA's sample-and-hold select).
    o_evaluate : Out(1)
        One-cycle pulse exactly ``settle_cycles`` after the last round's update: the comparator may decide.
    i_eval_ready : In(1)
        The capture can take an evaluation. The last round's update waits for it, and no update of the next token
        happens before ``evaluate``, so every token settles exactly ``settle_cycles`` (what the model assumes).

    Throughput: one token per m·(33·divider) cycles for the AD5628 (m + R for the parallel bus) when the port is
    the bottleneck; latency from a token's last code to ``evaluate``: the token's writes + ``settle_cycles``.
    """

    def __init__(self, spec: SequencerSpec):
        self._spec = spec
        super().__init__({
            "i_codes": In(stream.Signature(codes_layout(spec.dac_bits))),
            "o_round": Out(range(max(spec.rounds, 2))),
            "o_evaluate": Out(1),
            "i_eval_ready": In(1),
            "framing_error": Out(1),
            **dac_pins(spec.part, spec.n_dac, spec.part_bits),
        })

    def elaborate(self, platform):
        m = Module()
        s = self._spec
        if s.part == "ad5628":
            m.submodules.port = port = Ad5628Port(s.n_dac, s.part_bits, s.sclk_divider)
        else:
            m.submodules.port = port = ParallelDacPort(s.n_dac, s.part_bits)
        for name in dac_pins(s.part, s.n_dac, s.part_bits):
            m.d.comb += getattr(self, name).eq(getattr(port, name))
        m.submodules.codes = codes = Memory(shape=s.dac_bits, depth=2 * s.m, init=[])
        w_port = codes.write_port()
        r_port = codes.read_port(domain="comb")
        full = Signal(2)

        # --- load side: one bank per token ---
        wr_bank, wr_idx = Signal(), counter(s.m, "wr_idx")
        take = self.i_codes.valid & self.i_codes.ready
        wr_last = wr_idx == s.m - 1
        c = self.i_codes.payload
        m.d.comb += [self.i_codes.ready.eq(~full.bit_select(wr_bank, 1)),
                     w_port.addr.eq(wr_bank * s.m + wr_idx), w_port.data.eq(c.code), w_port.en.eq(take)]
        with m.If(take):
            m.d.sync += wr_idx.eq(wr_idx + 1)
            with m.If((c.first != (wr_idx == 0)) | (c.last != wr_last)):
                m.d.sync += self.framing_error.eq(1)
            with m.If(wr_last):
                m.d.sync += [wr_idx.eq(0), wr_bank.eq(~wr_bank)]

        # --- write side: one port write per input, round-major ---
        rd_bank, rd_idx = Signal(), counter(s.m, "rd_idx")
        channel, rnd = counter(s.n_dac, "channel"), counter(s.rounds, "round")
        rd_last = rd_idx == s.m - 1
        round_end = (channel == s.n_dac - 1) | rd_last
        last_in_flight, eval_pending = Signal(), Signal()
        settle = Signal(range(max(s.settle_cycles, 2)))
        # An update may not change the OTA inputs while the previous token waits for its evaluation.
        update_blocked = last_in_flight | eval_pending | (rd_last & ~self.i_eval_ready)
        shift = s.part_bits - s.dac_bits
        m.d.comb += [r_port.addr.eq(rd_bank * s.m + rd_idx),
                     port.i_write.payload.channel.eq(channel),
                     port.i_write.payload.code.eq(r_port.data << shift),
                     port.i_write.payload.update.eq(round_end),
                     port.i_write.valid.eq(full.bit_select(rd_bank, 1) & ~(round_end & update_blocked))]
        sent = port.i_write.valid & port.i_write.ready
        with m.If(sent):
            m.d.sync += [rd_idx.eq(rd_idx + 1), channel.eq(channel + 1), self.o_round.eq(rnd)]
            with m.If(round_end):
                m.d.sync += [channel.eq(0), rnd.eq(rnd + 1)]
            with m.If(rd_last):
                m.d.sync += [rd_idx.eq(0), rnd.eq(0), rd_bank.eq(~rd_bank), last_in_flight.eq(1)]
        for b in range(2):
            m.d.sync += full[b].eq((full[b] | (take & wr_last & (wr_bank == b)))
                                   & ~(sent & rd_last & (rd_bank == b)))

        # --- settle, then evaluate: exactly settle_cycles after the last round's update ---
        m.d.sync += self.o_evaluate.eq(0)
        with m.If(port.updated & last_in_flight):
            m.d.sync += [last_in_flight.eq(0), eval_pending.eq(1), settle.eq(s.settle_cycles - 2)]
        with m.Elif(eval_pending):
            with m.If(settle == 0):
                m.d.sync += [eval_pending.eq(0), self.o_evaluate.eq(1)]
            with m.Else():
                m.d.sync += settle.eq(settle - 1)
        return m
