"""cocotb bench of hdl.transformer: logits vs ``atis.golden.transformer.forward_int``, bit for bit.

Random models (weights loaded through the RTL's load chain, so one build serves many models) × random keep masks
(keep 0.2-1.0, all kept, one kept, none kept, short sequences) × both mask semantics, with random gaps on both
input streams and random backpressure on the result. ``test_attention_cycles`` measures the attention core dense
(all kept) and gated on the same tokens (``atis bench attention``).

Environment (from ``cocotb_tests.runner``, read by :class:`atis.cocotb_tests.harness.BenchEnv`):
``ATIS_BENCH_CONFIG``, ``ATIS_BENCH_SEED``, ``ATIS_BENCH_METRICS``; ``ATIS_BENCH_MODELS`` (random models, default
3), ``ATIS_BENCH_N`` and ``ATIS_BENCH_KEEP`` (cycle test).
"""
from __future__ import annotations

from dataclasses import replace

import cocotb
import numpy as np
from cocotb.handle import HierarchyObject
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout

from atis.cocotb_tests.bfm import StreamBus, StreamSink, StreamSource
from atis.cocotb_tests.bfm.pause import make_pause
from atis.cocotb_tests.harness import TbBase
from atis.golden.transformer import TransformerWeights, forward_int, load_bytes, load_weights, random_weights
from atis.hdl.layouts import load_layout, result_layout, token_row_layout

__all__ = ["TB", "MODES", "masks", "models"]

CLOCK_NS = 10
MODES = ("drop", "keymask")


class TB(TbBase):
    """Clock, reset, the token and load sources and the result sink around one Transformer."""
    CLOCK_NS = CLOCK_NS

    def __init__(self, dut: HierarchyObject):
        super().__init__(dut)
        self.d, self.n_max, t = self.cfg.model.d_model, self.cfg.model.seq_len, self.cfg.transformer
        self.shape = dict(d=self.d, heads=t.heads, ffn=t.ffn, layers=t.layers, classes=t.classes)
        self.tokens = StreamSource(StreamBus(dut, "i_tokens"), dut.clk, dut.rst, layout=token_row_layout(self.d))
        self.load_src = StreamSource(StreamBus(dut, "i_load"), dut.clk, dut.rst, layout=load_layout())
        self.results = StreamSink(StreamBus(dut, "o_result"), dut.clk, dut.rst,
                                  layout=result_layout(t.classes, self.n_max))
        self.budget_ns = 0

    def on_reset(self) -> None:
        self.dut.drop.value = 0

    def set_pauses(self, kind: str | None) -> None:
        self.tokens.set_pause_generator(make_pause(kind, self.seed + 1))
        self.load_src.set_pause_generator(make_pause(kind, self.seed + 2))
        self.results.set_pause_generator(make_pause(kind, self.seed + 3))

    async def load(self, w: TransformerWeights) -> None:
        for i, byte in enumerate(load_bytes(w)):
            self.load_src.send_nowait({"byte": byte, "first": int(i == 0)})
        await self.load_src.wait()
        await ClockCycles(self.dut.clk, 2)

    async def run(self, x: np.ndarray, keep: np.ndarray, mode: str) -> dict:
        """One sequence through the RTL; returns the result item (logits as a list)."""
        await RisingEdge(self.dut.clk)               # (a result is received in the read-only phase)
        self.dut.drop.value = int(mode == "drop")
        for i, (row, kept) in enumerate(zip(x, keep)):
            self.tokens.send_nowait({"x": row, "keep": int(kept), "last": int(i == len(x) - 1)})
        # Generous: a few times the serial cost of every linear layer at one MAC per cycle, plus attention.
        t = self.cfg.transformer
        budget = 20 * len(x) * (4 * self.d * self.d + 2 * self.d * t.ffn + len(x) * self.d) * t.layers + 10 ** 5
        return await with_timeout(self.results.recv(), budget * CLOCK_NS, "ns")

    def check(self) -> None:
        assert not self.results.protocol_errors, self.results.protocol_errors[:3]
        assert self.tokens.idle() and self.load_src.idle(), "a source holds items the DUT never took"


def masks(rng: np.random.Generator, n_max: int) -> list[np.ndarray]:
    """Random keep ratios 0.2..1.0 over full and short sequences, plus all/one/none kept and n = 1."""
    out = []
    for ratio in (0.2, 0.4, 0.6, 0.8, 1.0):
        for n in (n_max, int(rng.integers(2, n_max + 1))):
            keep = np.zeros(n, dtype=bool)
            keep[rng.choice(n, size=max(1, round(ratio * n)), replace=False)] = True
            out.append(keep)
    one_first, one_last = np.zeros(n_max, dtype=bool), np.zeros(n_max, dtype=bool)
    one_first[0] = one_last[-1] = True
    return out + [one_first, one_last, np.zeros(n_max, dtype=bool), np.ones(1, dtype=bool), np.zeros(1, dtype=bool)]


def models(tb: TB, count: int) -> list[TransformerWeights]:
    """Seeded random models; every other one with its shifts moved by ±1 (shifts are loaded, not built in)."""
    out = []
    for i in range(count):
        w = random_weights(**tb.shape, seed=tb.seed * 1000 + i)
        if i % 2:
            blocks = [replace(b, shifts={k: max(0, v + int(tb.rng.integers(-1, 2))) for k, v in b.shifts.items()})
                      for b in w.blocks]
            w = replace(w, blocks=blocks)
        out.append(w)
    return out


@cocotb.test()
async def test_logits_bit_exact_random_models_and_masks(dut: HierarchyObject) -> None:
    """Every sequence's logits and kept count equal the golden model's, both semantics, under gaps/backpressure."""
    tb = TB(dut)
    await tb.reset()
    tb.set_pauses("random")
    mismatches, sequences = [], 0
    for mi, w in enumerate(models(tb, tb.env.models)):
        await tb.load(w)
        for keep in masks(tb.rng, tb.n_max):
            x = tb.rng.integers(-128, 128, size=(len(keep), tb.d))
            for mode in MODES:
                got = await tb.run(x, keep, mode)
                want = forward_int(x, keep, w, mode).tolist()
                sequences += 1
                if got["logits"] != want or got["kept"] != int(keep.sum()):
                    mismatches.append(f"model {mi} {mode} n={len(keep)} k={int(keep.sum())}: got {got['logits']} "
                                      f"kept {got['kept']}, expected {want}")
    tb.check()
    tb.record_metric("transformer", {"sequences": sequences, "logit_mismatches": len(mismatches)})
    assert not mismatches, f"{len(mismatches)} of {sequences} sequences differ; first: {mismatches[:2]}"


@cocotb.test()
async def test_attention_cycles(dut: HierarchyObject) -> None:
    """Per n: the same tokens dense (all kept) and gated at each keep ratio; attention-core cycles, logits vs
    golden. ``ATIS_BENCH_N`` and ``ATIS_BENCH_KEEP`` may be comma-separated lists (one run covers the grid)."""
    tb = TB(dut)
    await tb.reset()
    sizes, ratios = tb.env.n, tb.env.keep
    mode = tb.cfg.transformer.mask
    w = load_weights(tb.cfg.transformer, tb.d)
    await tb.load(w)
    rows, mismatches = [], 0
    for n in sizes:
        assert 1 <= n <= tb.n_max, f"n = {n} outside 1..{tb.n_max} (model.seq_len)"
        x = tb.rng.integers(-128, 128, size=(n, tb.d))
        dense = await tb.run(x, np.ones(n, dtype=bool), mode)
        mismatches += dense["logits"] != forward_int(x, np.ones(n, dtype=bool), w, mode).tolist()
        for ratio in ratios:
            keep = np.zeros(n, dtype=bool)
            keep[tb.rng.choice(n, size=max(1, round(ratio * n)), replace=False)] = True
            gated = await tb.run(x, keep, mode)
            wrong = gated["logits"] != forward_int(x, keep, w, mode).tolist()
            mismatches += wrong
            rows.append({"n": n, "keep": ratio, "kept": int(keep.sum()),
                         "dense_cycles": dense["attention_cycles"], "gated_cycles": gated["attention_cycles"],
                         "cycle_reduction": dense["attention_cycles"] / gated["attention_cycles"],
                         "ideal_reduction": 1 / ratio ** 2, "ideal_reduction_at_kept": (n / keep.sum()) ** 2,
                         "dense_total_cycles": dense["total_cycles"], "gated_total_cycles": gated["total_cycles"],
                         "logit_mismatches": int(wrong)})
    tb.check()
    t = tb.cfg.transformer
    tb.record_metric("attention", {"mask": mode, "lanes": t.lanes, "heads": t.heads, "d_model": tb.d,
                                   "layers": t.layers, "logit_mismatches": mismatches, "runs": rows})
    assert mismatches == 0, f"{mismatches} sequences differ from the golden logits"
    assert all(r["gated_cycles"] < r["dense_cycles"] for r in rows if r["kept"] < r["n"])
