"""Does ATIS make the prototype faster? Compute-bound images/s of each board's pipeline, pruning off vs on, AD5628
vs the parallel DAC, against the transformer alone.

    python benchmarks/prototype_speed.py [--boards icebreaker ulx3s-85f] [--images 5]

Per board, measured in co-simulation (Verilator) at the board's clock:

* the transformer alone (no scorer, tokens as fast as it takes them): ``total_cycles`` of a 64-token sequence,
  all kept and 30 % kept (``cocotb_tests.test_transformer``'s dense-vs-gated test, the board's trained weights);
* the whole digital side (``cocotb_tests.test_pipeline``: scorer with the FPAA BFM on its pins -> transformer)
  with every image's tokens queued at once, the FPAA model trimmed to keep 1.0 and 0.3, AD5628 and parallel DAC:
  the spacing of the results, i.e. cycles per image with scoring of image i+1 overlapping the transformer of
  image i as far as the scorer's FIFO allows. Every keep bit and logit is checked against the golden models.

A board's UART is slower than all of these (115200 baud: 4098 bytes per d = 64 image): "compute-bound" is what
the bitstream does once its tokens are on chip. Prints a Markdown table per board, then one JSON line.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from atis.cocotb_tests.runner import DEFAULT_WORK_DIR, Bench, pipeline_bench, run_bench
from atis.config import bundled_config, load_config
from atis.sweep import hardware_scorer

WORK = DEFAULT_WORK_DIR / "benchmarks"


def transformer_alone(cfg, keep: float) -> dict:
    bench = Bench("speed-transformer-" + str(cfg.model.d_model), "transformer", "atis.cocotb_tests.test_transformer")
    result = run_bench(bench, cfg, work_dir=WORK, testcase="test_attention_cycles",
                       extra_env={"ATIS_BENCH_N": str(cfg.model.seq_len), "ATIS_BENCH_KEEP": str(keep)})
    if not result.passed:
        raise SystemExit(f"{bench.name} failed: {result.error or result.failed_tests}; log {result.log}")
    (run,) = result.metrics["attention"]["runs"]
    return run


def pipeline(cfg, dac: str, keep: float, images: int) -> dict:
    result = run_bench(dataclasses.replace(pipeline_bench(hardware_scorer(keep), dac),
                                           name=f"speed-pipeline-{cfg.model.d_model}-{dac}-keep{keep:g}"),
                       cfg, work_dir=WORK, extra_env={"ATIS_BENCH_IMAGES": str(images)})
    if not result.passed:
        raise SystemExit(f"{result.name} failed: {result.error or result.failed_tests}; log {result.log}")
    return result.metrics["pipeline"]


def measure(board: str, images: int) -> dict:
    cfg = load_config(bundled_config(board))
    clock = cfg.fpga.clock_MHz * 1e6
    alone = transformer_alone(cfg, 0.3)
    rows = [{"build": "transformer alone, all kept", "kept": 1.0, "cycles": alone["dense_total_cycles"]},
            {"build": "transformer alone, 30 % kept", "kept": alone["kept"] / cfg.model.seq_len,
             "cycles": alone["gated_total_cycles"]}]
    for dac in ("spi", "parallel"):
        for keep in (1.0, 0.3):
            m = pipeline(cfg, dac, keep, images)
            rows.append({"build": f"ATIS {'AD5628' if dac == 'spi' else 'parallel DAC'}, keep {keep:g}",
                         "kept": m["keep_mean"], "cycles": m["cycles_per_image_streaming"],
                         "accuracy": m["rtl_accuracy"]})
    dense = rows[0]["cycles"]
    for r in rows:
        r["images_per_s"] = clock / r["cycles"]
        r["speedup_vs_dense"] = dense / r["cycles"]
    return {"board": board, "clock_MHz": cfg.fpga.clock_MHz, "n": cfg.model.seq_len, "images": images,
            "rows": rows}


def markdown(m: dict) -> str:
    lines = [f"### {m['board']} ({m['clock_MHz']:g} MHz, {m['n']} tokens per image)", "",
             "| build | kept | cycles/image | images/s | vs the dense transformer |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['build']} | {r['kept']:.2f} | {r['cycles']:,.0f} | {r['images_per_s']:,.0f} | "
              f"{r['speedup_vs_dense']:.2f}× |" for r in m["rows"]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boards", nargs="+", default=["icebreaker", "ulx3s-85f"])
    parser.add_argument("--images", type=int, default=5, help="digits images per pipeline run")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    results = [measure(b, args.images) for b in args.boards]
    for m in results:
        print(markdown(m) + "\n")
    line = json.dumps(results)
    if args.out:
        args.out.write_text(line)
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
