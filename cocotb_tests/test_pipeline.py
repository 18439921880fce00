"""cocotb bench of hdl.pipeline: digits test images through scorer (FPAA BFM on the pins) -> transformer.

Every image's 64 pixel tokens stream into the RTL; the FPAA BFM answers the comparator from the behavioral
model; the transformer classifies the kept tokens. Checked per image: the BFM's keep decisions == the vectorized
model's (``expected_keep``), the kept count, the logits == ``forward_int`` on those keep bits, hence the class.
Reports the RTL's accuracy. Environment (read by :class:`atis.cocotb_tests.harness.BenchEnv`):
``ATIS_BENCH_CONFIG`` (with the sweep's FPAA scorer in it, see ``atis.sweep.hardware_scorer``),
``ATIS_BENCH_IMAGES`` (default 100), ``ATIS_BENCH_METRICS``.
"""
from __future__ import annotations

import cocotb
import numpy as np
from cocotb.handle import HierarchyObject
from cocotb.simtime import get_sim_time
from cocotb.triggers import with_timeout

from atis.analog_models.scoring import expected_keep
from atis.cocotb_tests.bfm import StreamBus, StreamSink, StreamSource
from atis.cocotb_tests.bfm.fpaa import FpaaBfm
from atis.cocotb_tests.harness import BenchEnv, TbBase
from atis.digits import load_embedding, load_split
from atis.golden.transformer import TransformerWeights, forward_int, load_bytes, load_weights
from atis.hdl.layouts import element_layout, load_layout, result_layout

__all__ = ["TB"]


class TB(TbBase):
    """Clock, reset, the FPAA BFM (with its DAC monitor) on the scorer pins, the token and weight-load sources and
    the result sink around one ScoredTransformer."""

    def __init__(self, dut: HierarchyObject):
        env = BenchEnv.from_env()
        self.spec, self.seq = env.design.projection, env.design.sequencer
        super().__init__(dut, env, clock_ns=self.seq.clock_ns)
        self.d, self.n, t = self.cfg.model.d_model, self.cfg.model.seq_len, self.cfg.transformer
        self.fpaa = FpaaBfm.attach(dut, self.cfg, elapsed=self.elapsed, spec=self.spec, seq=self.seq)
        self.dac = self.fpaa.dac
        self.source = StreamSource(StreamBus(dut, "i_token"), dut.clk, dut.rst, layout=element_layout())
        self.loader = StreamSource(StreamBus(dut, "i_load"), dut.clk, dut.rst, layout=load_layout())
        self.results = StreamSink(StreamBus(dut, "o_result"), dut.clk, dut.rst,
                                  layout=result_layout(t.classes, self.n))

    def on_reset(self) -> None:
        self.dut.drop.value = int(self.cfg.transformer.mask == "drop")

    async def load(self, w: TransformerWeights) -> None:
        for i, byte in enumerate(load_bytes(w)):
            self.loader.send_nowait({"byte": byte, "first": int(i == 0)})
        await self.loader.wait()

    def send(self, tokens: np.ndarray) -> None:
        for x in tokens:
            for j, v in enumerate(x):
                self.source.send_nowait({"data": int(v), "first": int(j == 0), "last": int(j == self.d - 1)})


@cocotb.test()
async def test_digits_through_scorer_and_transformer(dut: HierarchyObject) -> None:
    tb = TB(dut)
    await tb.reset()
    d, n, t, seq = tb.d, tb.n, tb.cfg.transformer, tb.seq
    images = tb.env.images
    w = load_weights(t, d)
    split = load_split()
    tokens = load_embedding(t.weights, d).tokens(split.x_test[:images])
    assert tokens.shape[1] == n, f"model.seq_len = {n} must equal the 64 pixel tokens of an image"
    keep = expected_keep(tb.cfg, tokens.reshape(-1, d)).keep.reshape(images, n)
    await tb.load(w)
    tb.send(tokens.reshape(-1, d))

    per_image_ns = round((n * (seq.token_cycles() + seq.settle_cycles + 4 * d) + 50 * n * d * d) * tb.clock_ns * 4)
    mismatches, correct, arrivals = [], 0, []
    for i in range(images):
        got = await with_timeout(tb.results.recv(), per_image_ns, "ns")
        arrivals.append(get_sim_time("ns"))        # the sink is always awaited: this is the result's cycle
        logits = got["logits"]
        want = forward_int(tokens[i], keep[i], w, t.mask).tolist()
        if logits != want or got["kept"] != int(keep[i].sum()):
            mismatches.append(f"image {i}: logits {logits} kept {got['kept']}, expected {want} kept "
                              f"{int(keep[i].sum())}")
        correct += int(np.argmax(logits) == split.y_test[i])
    decisions = np.array(tb.fpaa.decisions[:images * n], dtype=bool)
    mask_mismatches = int((decisions != keep.reshape(-1)).sum())
    for bfm in (tb.results, tb.dac, tb.fpaa):
        assert not bfm.protocol_errors, bfm.protocol_errors[:3]
    assert dut.framing_error.value == 0
    # Every image's tokens were queued at once, so after the first result the spacing of results is the
    # pipeline's compute-bound rate (scoring of image i+1 overlaps the transformer of image i as far as the
    # scorer's FIFO lets it).
    streaming = (arrivals[-1] - arrivals[0]) / tb.clock_ns / (images - 1) if images > 1 else None
    tb.record_metric("pipeline", {"images": images, "mask_mismatches": mask_mismatches,
                                  "logit_mismatches": len(mismatches), "rtl_accuracy": correct / images,
                                  "keep_mean": float(keep.mean()), "mask": t.mask, "dac": seq.part,
                                  "cycles_per_image_streaming": streaming})
    assert len(tb.fpaa.decisions) == images * n, \
        f"{len(tb.fpaa.decisions)} FPAA evaluations for {images * n} tokens"
    assert mask_mismatches == 0, f"{mask_mismatches} keep decisions differ from the vectorized model"
    assert not mismatches, f"{len(mismatches)} of {images} images differ; first: {mismatches[:2]}"
