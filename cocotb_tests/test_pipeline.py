"""cocotb bench of hdl.pipeline: digits test images through scorer (FPAA BFM on the pins) -> transformer.

Every image's 64 pixel tokens stream into the RTL; the FPAA BFM answers the comparator from the behavioral
model; the transformer classifies the kept tokens. Checked per image: the BFM's keep decisions == the vectorized
model's (``expected_keep``), the kept count, the logits == ``forward_int`` on those keep bits, hence the class.
Reports the RTL's accuracy. Environment: ``ATIS_BENCH_CONFIG`` (with the sweep's FPAA scorer in it, see
``atis.sweep.hardware_scorer``), ``ATIS_BENCH_IMAGES`` (default 100), ``ATIS_BENCH_METRICS``.
"""
from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, with_timeout

from atis.analog_models.scoring import expected_keep
from atis.cocotb_tests.bfm import StreamBus, StreamSink, StreamSource
from atis.cocotb_tests.bfm.simtime import Elapsed
from atis.cocotb_tests.test_projection import record_metric
from atis.cocotb_tests.test_scorer import attach_fpaa
from atis.cocotb_tests.test_transformer import unpack_logits
from atis.config import load_config
from atis.digits import load_embedding, load_split
from atis.golden.projection import resolve_projection
from atis.golden.sequencer import resolve_sequencer
from atis.golden.transformer import forward_int, load_bytes, load_weights
from atis.hdl.layouts import element_layout, load_layout, result_layout


@cocotb.test()
async def test_digits_through_scorer_and_transformer(dut):
    cfg = load_config(os.environ["ATIS_BENCH_CONFIG"])
    spec, seq = resolve_projection(cfg), resolve_sequencer(cfg)
    d, n, t = cfg.model.d_model, cfg.model.seq_len, cfg.transformer
    cocotb.start_soon(Clock(dut.clk, seq.clock_ns, unit="ns").start())
    elapsed = Elapsed()
    fpaa, dac = attach_fpaa(dut, cfg, spec, seq, elapsed)
    source = StreamSource(StreamBus(dut, "i_token"), dut.clk, dut.rst, layout=element_layout())
    loader = StreamSource(StreamBus(dut, "i_load"), dut.clk, dut.rst, layout=load_layout())
    results = StreamSink(StreamBus(dut, "o_result"), dut.clk, dut.rst, layout=result_layout(t.classes, n))
    dut.rst.value, dut.drop.value = 1, int(t.mask == "drop")
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)

    images = int(os.environ.get("ATIS_BENCH_IMAGES", "100"))
    w = load_weights(t, d)
    split = load_split()
    tokens = load_embedding(t.weights, d).tokens(split.x_test[:images])
    assert tokens.shape[1] == n, f"model.seq_len = {n} must equal the 64 pixel tokens of an image"
    keep = expected_keep(cfg, tokens.reshape(-1, d)).keep.reshape(images, n)
    for i, byte in enumerate(load_bytes(w)):
        loader.send_nowait({"byte": byte, "first": int(i == 0)})
    await loader.wait()
    for x in tokens.reshape(-1, d):
        for j, v in enumerate(x):
            source.send_nowait({"data": int(v), "first": int(j == 0), "last": int(j == d - 1)})

    per_image_ns = (n * (seq.token_cycles() + seq.settle_cycles + 4 * d) + 50 * n * d * d) * seq.clock_ns * 4
    mismatches, correct = [], 0
    for i in range(images):
        got = await with_timeout(results.recv(), per_image_ns, "ns")
        logits = unpack_logits(got["logits"], t.classes)
        want = forward_int(tokens[i], keep[i], w, t.mask).tolist()
        if logits != want or got["kept"] != int(keep[i].sum()):
            mismatches.append(f"image {i}: logits {logits} kept {got['kept']}, expected {want} kept "
                              f"{int(keep[i].sum())}")
        correct += int(np.argmax(logits) == split.y_test[i])
    decisions = np.array(fpaa.decisions[:images * n], dtype=bool)
    mask_mismatches = int((decisions != keep.reshape(-1)).sum())
    for bfm in (results, dac, fpaa):
        assert not bfm.protocol_errors, bfm.protocol_errors[:3]
    assert dut.framing_error.value == 0
    record_metric("pipeline", {"images": images, "mask_mismatches": mask_mismatches,
                               "logit_mismatches": len(mismatches), "rtl_accuracy": correct / images,
                               "keep_mean": float(keep.mean()), "mask": t.mask})
    assert len(fpaa.decisions) == images * n, f"{len(fpaa.decisions)} FPAA evaluations for {images * n} tokens"
    assert mask_mismatches == 0, f"{mask_mismatches} keep decisions differ from the vectorized model"
    assert not mismatches, f"{len(mismatches)} of {images} images differ; first: {mismatches[:2]}"
