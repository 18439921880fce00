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
from .layouts import codes_layout, theta_layout

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
    i_theta : In(stream.Signature(theta_layout(part_bits))), o_theta_updated : Out(1)
        Only with a SAR readout whose θ is an AD5628 channel (``spec.readout.theta_channel``): θ writes, sent
        before any input write waiting for the port as command 0011 to that channel (its output alone moves);
        ``o_theta_updated`` pulses when it does. With any SAR readout every update (not only the last round's)
        waits for ``i_eval_ready``, so nothing falls between a token's rounds and the settle ages stay the
        schedule's.

    Throughput: one token per m·``spec.write_cycles`` cycles for the AD5628 (the port's frame, 33·divider at the
    shipped configs; m + R for the parallel bus) when the port is the bottleneck; latency from a token's last
    code to ``evaluate``: the token's writes + ``settle_cycles``.
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
            **({"i_theta": In(stream.Signature(theta_layout(spec.part_bits))), "o_theta_updated": Out(1)}
               if self._theta_channel is not None else {}),
        })

    @property
    def _theta_channel(self) -> int | None:
        return self._spec.readout.theta_channel if self._spec.readout is not None else None

    def elaborate(self, platform):
        m = Module()
        s = self._spec
        if s.part == "ad5628":
            theta = self._theta_channel
            channels = s.n_dac if theta is None else max(s.n_dac, theta + 1)     # the write's channel field holds θ's
            m.submodules.port = port = Ad5628Port(channels, s.part_bits, s.spi_frame, theta_channel=theta)
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
        # A SAR readout holds every update while it converts: the next token's rounds then follow each other as
        # the schedule says (no θ frame, no wait between them), so the settle ages stay the model's.
        theta, hold = self._theta_channel is not None, s.readout is not None
        update_blocked = last_in_flight | eval_pending | ((1 if hold else rd_last) & ~self.i_eval_ready)
        shift = s.part_bits - s.dac_bits
        own_valid = full.bit_select(rd_bank, 1) & ~(round_end & update_blocked)
        m.d.comb += [r_port.addr.eq(rd_bank * s.m + rd_idx),
                     port.i_write.payload.channel.eq(channel),
                     port.i_write.payload.code.eq(r_port.data << shift),
                     port.i_write.payload.update.eq(round_end),
                     port.i_write.valid.eq(own_valid)]
        sent, inputs_updated = own_valid & port.i_write.ready, port.updated
        if theta:
            sent, inputs_updated = self._theta_arbiter(m, port, own_valid)
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
        with m.If(inputs_updated & last_in_flight):
            m.d.sync += [last_in_flight.eq(0), eval_pending.eq(1), settle.eq(s.settle_cycles - 2)]
        with m.Elif(eval_pending):
            with m.If(settle == 0):
                m.d.sync += [eval_pending.eq(0), self.o_evaluate.eq(1)]
            with m.Else():
                m.d.sync += settle.eq(settle - 1)
        return m

    def _theta_arbiter(self, m: Module, port, own_valid):
        """θ writes take the port before input writes (a SAR step waits for at most the frame in flight); returns
        the strobes of an input write sent and of an input (not θ) update."""
        t = self.i_theta
        in_flight = Signal()
        with m.If(t.valid):
            m.d.comb += [port.i_write.valid.eq(1), port.i_write.payload.channel.eq(self._theta_channel),
                         port.i_write.payload.code.eq(t.payload.code), port.i_write.payload.update.eq(0),
                         t.ready.eq(port.i_write.ready)]
        with m.If(t.valid & t.ready):
            m.d.sync += in_flight.eq(1)
        with m.Elif(port.updated):
            m.d.sync += in_flight.eq(0)
        m.d.comb += self.o_theta_updated.eq(port.updated & in_flight)
        return own_valid & port.i_write.ready & ~t.valid, port.updated & ~in_flight
