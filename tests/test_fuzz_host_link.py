"""Fuzzing the board's host link in the Amaranth simulator (hypothesis): the whole digital side (scorer on the FPAA
pins, packer, transformer) behind :class:`HostLink` gets random byte streams — bad opcodes, noise, loads of random
bytes, short (truncated) and overlong frames, whole SCORE commands — then the bytes that finish the last frame,
a real weight load and one SCORE. The link must never hang (every answer within a cycle budget), answer exactly
what :mod:`atis.protocol` says for each frame ('?' for an unknown command, 'K' for a load, a full answer for a
sequence), and then serve the real command bit-exactly (golden ``forward_int`` on the keep bits it reports)."""
from __future__ import annotations

import os

import numpy as np
from amaranth.sim import Simulator
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from simhelpers import byte_source, comparator_model

from atis.config import config_from_dict
from atis.design import resolve_design
from atis.golden.transformer import forward_int, load_bytes, random_weights
from atis.hdl.host_link import HostLink
from atis.hdl.pipeline import ScoredTransformer
from atis.hdl.transformer import Transformer
from atis.protocol import HostOp, HostReply, answer_bytes, decode_answer, encode_load, encode_scored_sequence

D, N, C = 4, 4, 2
CONFIG = {"model": {"d_model": D, "seq_len": N}, "projection": {"m": 2, "lanes": 2},
          "dac": {"part": "parallel", "n_channels": 2, "settle_ns": 40.0},
          "transformer": {"heads": 1, "ffn": 4, "classes": C, "lanes": 2}}
DESIGN = resolve_design(config_from_dict(CONFIG))
WEIGHTS = random_weights(D, 1, 4, 1, C, seed=7)
MAX_LOAD = 64            # a fuzzed LOAD's length is capped (a LOAD of N takes N bytes, whatever N is)
BYTE_CYCLES, SEQUENCE_CYCLES = 8, 4000   # budget: per byte in or out, per SCORE (measured: ~1,100 at this size)
FUZZ = settings(max_examples=int(os.environ.get("ATIS_FUZZ_EXAMPLES", 12)), deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def frame(stream: bytearray) -> tuple[list, int]:
    """The reference framer (atis.protocol): the answers the stream's frames get (``'?'``, ``'K'`` or the length
    of a sequence answer), and how many bytes the last frame still needs. LOAD lengths above MAX_LOAD are cut to
    ``N mod (MAX_LOAD + 1)`` in ``stream`` itself."""
    answers, i = [], 0
    while i < len(stream):
        op = stream[i]
        if op == HostOp.LOAD:
            if i + 5 > len(stream):
                return answers, 5 - (len(stream) - i)
            n = int.from_bytes(stream[i + 1:i + 5], "little")
            if n > MAX_LOAD:
                n %= MAX_LOAD + 1
                stream[i + 1:i + 5] = n.to_bytes(4, "little")
            end = i + 5 + n
            answers.append([HostReply.LOADED])
        elif op == HostOp.SCORE:
            end = i + 2 + N * D
            answers.append(answer_bytes(C, N))
        else:
            end = i + 1
            answers.append([HostReply.UNKNOWN])
        if end > len(stream):
            return answers[:-1], end - len(stream)
        i = end
    return answers, 0


tokens = st.lists(st.integers(-128, 127), min_size=N * D, max_size=N * D).map(lambda v: np.reshape(v, (N, D)))


@st.composite
def byte_streams(draw):
    out = bytearray()
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["bad", "noise", "load", "score", "short", "overlong"]))
        if kind == "bad":
            out += bytes([draw(st.integers(0, 255).filter(lambda b: b not in (HostOp.LOAD, HostOp.SCORE)))])
        elif kind == "noise":
            out += draw(st.binary(min_size=1, max_size=8))
        else:
            cmd = (encode_load(draw(st.binary(max_size=12))) if draw(st.booleans())
                   else encode_scored_sequence(draw(tokens), draw(st.booleans())))
            if kind == "short":
                cmd = cmd[:draw(st.integers(1, len(cmd) - 1))]
            elif kind == "overlong":
                cmd += draw(st.binary(min_size=1, max_size=4))
            out += cmd
    return out


def run_link(stream: bytes, lengths: list[int], comparator: list[int]) -> tuple[list[list[int]], int]:
    """Send ``stream``; collect answers of ``lengths``; the comparator decides evaluation k as ``comparator[k]``
    (0 past the end). Returns the answers and the cycles used; stops (and says so) at the cycle budget."""
    dut = HostLink(ScoredTransformer(DESIGN.projection, DESIGN.sequencer, Transformer(DESIGN.transformer)))
    budget = BYTE_CYCLES * (len(stream) + sum(lengths)) + SEQUENCE_CYCLES * sum(n > 1 for n in lengths) + 100
    answers, evaluations, cycles = [], [], [0]

    async def sink(ctx):
        current = []
        ctx.set(dut.o_bytes.ready, 1)
        while len(answers) < len(lengths) and cycles[0] < budget:
            _, _, valid, byte = await ctx.tick().sample(dut.o_bytes.valid, dut.o_bytes.payload)
            cycles[0] += 1
            if valid:
                current.append(int(byte))
                if len(current) == lengths[len(answers)]:
                    answers.append(current)
                    current = []

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(byte_source(dut.i_bytes, [stream]), background=True)
    sim.add_testbench(comparator_model(dut, comparator, evaluations), background=True)
    sim.add_testbench(sink)
    sim.run()
    return answers, cycles[0]


@FUZZ
@given(byte_streams(), tokens, st.lists(st.integers(0, 1), min_size=N, max_size=N), st.booleans())
@example(bytearray(b"S?\x00\xffL\x02\x00"), np.arange(N * D).reshape(N, D) - 8, [1, 0, 1, 1], True)  # 'S': not here
def test_link_survives_any_bytes_then_serves_a_valid_command(stream, x, keep, drop):
    stream = bytearray(stream)
    expected, missing = frame(stream)
    while missing:                                        # finish the last frame (zero bytes are data to it)
        stream += bytes(missing)
        expected, missing = frame(stream)
    sequences = sum(not isinstance(a, list) for a in expected)
    stream += encode_load(load_bytes(WEIGHTS)) + encode_scored_sequence(x, drop)
    expected += [[HostReply.LOADED], answer_bytes(C, N)]
    lengths = [len(a) if isinstance(a, list) else a for a in expected]
    comparator = [int(b) for b in np.random.default_rng(len(stream)).integers(0, 2, N * sequences)] + keep
    answers, cycles = run_link(bytes(stream), lengths, comparator)
    assert len(answers) == len(lengths), f"hung: {len(answers)} of {len(lengths)} answers in {cycles} cycles"
    for want, got in zip(expected, answers):
        if isinstance(want, list):                        # '?' or 'K', exactly
            assert got == want, (want, got)
    final = decode_answer(bytes(answers[-1]), C, N)
    assert final.mask == keep and final.kept == sum(keep)
    assert final.logits == forward_int(x, np.array(keep, dtype=bool), WEIGHTS, "drop" if drop else "keymask").tolist()
