"""Co-simulation speed: Verilator's native rate against the cocotb benches on the same Verilog, and where the
Python time goes.

    python benchmarks/cosim_speed.py [--only NAME ...] [--native-cpu-s 3] [--no-profile] [--no-public] [--threads N]

Per design, each at the config of its bench (``cocotb_tests.runner``; the pipeline on ``configs/icebreaker.yaml``
with the digits FPAA scorer):

* **native**: the design's Verilog (``atis.hdl.export.write_verilog``) under a C++ testbench that only toggles the
  clock and holds every input constant (valid and ready high, payloads 0x55...), built with the benches' Verilator
  options: clock cycles per CPU second. The ceiling. ``+public`` is the same model with ``--public-flat-rw``,
  which cocotb's Verilator build adds (every signal visible to VPI, so Verilator optimizes less); ``--threads N``
  adds the model built with N threads (per CPU and per wall second).
* **cocotb floor**: the bench's model under cocotb with the clock only (``cocotb_tests.test_idle``, one Timer):
  what cocotb's scheduler and VPI cost before any BFM runs, and the simulator process's startup CPU time.
* **bench**: the bench's main test: simulated cycles per CPU second of the test (``tb_cpu_s``: the simulator
  process's CPU time from the bench's TB to its last metric) and per wall second, tokens (or sequences, images)
  per CPU and per wall second, and cycles/s against native.
* **profile** (``COCOTB_ENABLE_PROFILING=1``, the same test smaller): Python self time by where it goes, and
  Python wake-ups (cocotb task resumptions) per 1000 clock cycles with what one costs in the unprofiled run (its
  CPU time beyond the cocotb floor's, per wake-up): a bench is bound by floor + wake-ups x cost.

Prints Markdown tables, then one JSON line. Every figure is measured here; run it niced on a quiet machine.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pstats
import resource
import subprocess
import sys
import time
from pathlib import Path

from atis.cocotb_tests import runner
from atis.cocotb_tests.tb_wrapper import Port, top_ports
from atis.config import bundled_config, load_config
from atis.design import resolve_design
from atis.hdl.export import LINT_WAIVERS, MODULE_PREFIX, write_verilog
from atis.sweep import hardware_scorer
from atis.toolchain import activate_verilator

WORK = runner.DEFAULT_WORK_DIR / "cosim_speed"
#: name -> (bench, config (None: default), main test, env, items counted, metrics key -> item count)
ROWS = {
    "projection": ("projection-jl", None, "test_matches_golden_under_gaps_and_backpressure",
                   {"ATIS_BENCH_TOKENS": "1000"}, "tokens", ("golden_random", "tokens_checked")),
    "scorer-spi": ("scorer-spi", None, "test_keep_mask_equals_vectorized_model", {"ATIS_BENCH_TOKENS": "400"},
                   "tokens", ("scorer", "tokens")),
    "scorer-parallel": ("scorer-parallel", None, "test_keep_mask_equals_vectorized_model",
                        {"ATIS_BENCH_TOKENS": "400"}, "tokens", ("scorer", "tokens")),
    "transformer": ("transformer", None, "test_logits_bit_exact_random_models_and_masks",
                    {"ATIS_BENCH_MODELS": "1"}, "sequences", ("transformer", "sequences")),
    "pipeline-parallel": ("parallel", "icebreaker", "test_digits_through_scorer_and_transformer",
                          {"ATIS_BENCH_IMAGES": "6"}, "images", ("pipeline", "images")),
    "pipeline-spi": ("spi", "icebreaker", "test_digits_through_scorer_and_transformer",
                     {"ATIS_BENCH_IMAGES": "3"}, "images", ("pipeline", "images")),
}
#: profile group -> path fragments of the functions' files (first match wins)
GROUPS = {
    "AD5628 monitor": ("bfm/dac.py", "bfm/ad5628_"),
    "stream BFMs": ("bfm/stream.py", "bfm/base.py", "bfm/pause.py"),
    "FPAA BFM + model": ("bfm/fpaa.py", "analog_models/"),
    "other BFMs": ("bfm/",),
    "bench + scoreboard": ("cocotb_tests/test_", "cocotb_tests/harness.py", "atis/golden/", "golden/"),
    "cocotb scheduler + triggers": ("/cocotb/", "/cocotb_tools/"),
    "numpy": ("/numpy/",),
}


def bench_of(name: str) -> tuple[runner.Bench, object]:
    key, config = ROWS[name][0], ROWS[name][1]
    cfg = load_config(bundled_config(config)) if config else load_config()
    if name.startswith("pipeline"):
        return dataclasses.replace(runner.pipeline_bench(hardware_scorer(0.3), key), name=f"cosim-{name}"), cfg
    (bench,) = [b for b in runner.BENCHES if b.name == key]
    return dataclasses.replace(bench, name=f"cosim-{name}"), cfg


def _cxx_literal(port: Port, value: int) -> list[str]:
    name = port.name.replace("__", "___05F")        # Verilator's C++ spelling of a double underscore
    if port.width <= 64:
        return [f"  top.{name} = {value & ((1 << port.width) - 1)}ULL;"]
    return [f"  top.{name}[{w}] = {(value >> (32 * w)) & 0xFFFFFFFF}U;" for w in range(-(-port.width // 32))]


def native_main(ports: list[Port]) -> str:
    """A C++ main that holds the inputs constant and toggles clk argv[1] times after 4 cycles of reset."""
    sets = []
    for p in ports:
        if p.direction != "input" or p.name in ("clk", "rst"):
            continue
        value = (1 << p.width) - 1 if p.name.endswith(("__valid", "__ready")) else int("55" * 64, 16)
        sets += _cxx_literal(p, value)
    return "\n".join([
        '#include "Vtop.h"', '#include "verilated.h"', "#include <cstdlib>",
        "int main(int argc, char** argv) {", "  VerilatedContext ctx;", "  Vtop top{&ctx};", *sets,
        "  top.rst = 1;", "  for (int i = 0; i < 4; ++i) { top.clk = 0; top.eval(); top.clk = 1; top.eval(); }",
        "  top.rst = 0;", "  const long n = std::atol(argv[1]);",
        "  for (long i = 0; i < n; ++i) {", "    top.clk = 0; top.eval(); ctx.timeInc(5);",
        "    top.clk = 1; top.eval(); ctx.timeInc(5);", "  }", "  top.final();", "  return 0;", "}", ""])


def _cpu_run(cmd: list[str]) -> tuple[float, float]:
    """(wall s, CPU s) of one child process."""
    before, began = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - began, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def native_rate(sources: list[Path], top: str, where: Path, extra: list[str], cpu_s: float) -> dict:
    """Build the native model (``extra`` Verilator arguments) and time it for about ``cpu_s`` CPU seconds."""
    tool = activate_verilator()
    obj = where / ("obj-native" + "".join(a.strip("-").replace("-", "") for a in extra))
    main = where / "native_main.cpp"
    main.write_text(native_main(top_ports(next(s for s in sources if s.stem == top).read_text(), top)))
    began = time.perf_counter()
    proc = subprocess.run([str(tool.executable), "--cc", "--exe", "--build", "-j", "2", *LINT_WAIVERS,
                           *runner.SPEED_ARGS, *extra, "-Wno-fatal", "--top-module", top, "--prefix", "Vtop",
                           "-Mdir", str(obj), "-o", "native", *map(str, sources), str(main)],
                          capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"native build of {top} failed:\n{proc.stderr[-3000:]}")
    build_s = time.perf_counter() - began
    cycles = 20_000
    wall, cpu = _cpu_run([str(obj / "native"), str(cycles)])
    cycles = max(cycles, int(cycles * cpu_s / max(cpu, 1e-3)))
    wall, cpu = _cpu_run([str(obj / "native"), str(cycles)])
    return {"cycles": cycles, "cycles_per_cpu_s": cycles / cpu, "cycles_per_wall_s": cycles / wall,
            "build_s": round(build_s, 1)}


def idle_floor(bench: runner.Bench, cfg, top_inputs: dict, cycles: int) -> dict:
    idle = dataclasses.replace(bench, name=bench.name + "-idle", module="atis.cocotb_tests.test_idle")
    result = runner.run_bench(idle, cfg, work_dir=WORK, extra_env={"ATIS_IDLE_CYCLES": str(cycles),
                                                            "ATIS_IDLE_INPUTS": json.dumps(top_inputs)})
    if not result.passed:
        raise SystemExit(f"{idle.name} failed: {result.error or result.failed_tests}; log {result.log}")
    figures = result.metrics["idle"]
    return {"cycles_per_cpu_s": cycles / figures["cpu_s"], "cycles_per_wall_s": cycles / figures["wall_s"],
            "startup_cpu_s": result.sim_cpu_s - figures["cpu_s"]}


def run_main_test(name: str, bench: runner.Bench, cfg, profile: bool = False) -> tuple[dict, dict]:
    _, _, test, env, _, (key, count) = ROWS[name]
    env = dict(env)
    if profile:
        env["COCOTB_ENABLE_PROFILING"] = "1"
        for size in ("ATIS_BENCH_TOKENS", "ATIS_BENCH_IMAGES"):       # smaller: the profiler slows Python ~2x
            if size in env:
                env[size] = str(max(2, int(env[size]) // 4))
    tokens = int(env.get("ATIS_BENCH_TOKENS", 1000))
    result = runner.run_bench(dataclasses.replace(bench, name=bench.name + ("-profile" if profile else "")), cfg,
                       work_dir=WORK, tokens=tokens, testcase=test, extra_env=env)
    if not result.passed:
        raise SystemExit(f"{bench.name} failed: {result.error or result.failed_tests}; log {result.log}")
    case = result.cases[test]
    cycles = case["sim_ns"] / result.metrics["clock_ns"]
    cpu = result.metrics["tb_cpu_s"]           # the test's CPU time, from its TB's start to its last metric
    figures = {"items": result.metrics[key][count], "cycles": round(cycles), "test_wall_s": case["wall_s"],
               "test_cpu_s": round(cpu, 2), "sim_cpu_s": round(result.sim_cpu_s, 2),
               "build_s": round(result.build_s, 1), "cycles_per_cpu_s": cycles / cpu,
               "cycles_per_wall_s": cycles / case["wall_s"], "items_per_cpu_s": result.metrics[key][count] / cpu,
               "items_per_wall_s": result.metrics[key][count] / case["wall_s"]}
    pstat = WORK / result.name / "cocotb.pstat"
    return figures, profile_groups(pstat, cycles) if profile and pstat.is_file() else {}


def profile_groups(path: Path, cycles: float) -> dict:
    """Self time per group (share of all profiled Python time), the top functions, and Python wake-ups (cocotb
    task resumptions) per 1000 clock cycles."""
    stats = pstats.Stats(str(path)).stats
    total = sum(v[2] for v in stats.values()) or 1.0
    resumes = sum(v[1] for k, v in stats.items() if k[0].endswith("cocotb/task.py") and k[2] == "_resume")
    groups = dict.fromkeys([*GROUPS, "other"], 0.0)
    for (file, _, _), (_, _, self_s, _, _) in stats.items():
        file = file.replace("\\", "/")
        groups[next((g for g, parts in GROUPS.items() if any(p in file for p in parts)), "other")] += self_s
    top = sorted(((v[2], f"{Path(k[0]).name}:{k[2]}") for k, v in stats.items()), reverse=True)[:6]
    return {"python_s": round(total, 2), "share": {g: round(s / total, 3) for g, s in groups.items()},
            "top": [(name, round(s, 2)) for s, name in top], "wakeups_per_kcycle": 1e3 * resumes / cycles}


def measure(name: str, args) -> dict:
    bench, base = bench_of(name)
    where = (WORK / bench.name / "native").resolve()
    where.mkdir(parents=True, exist_ok=True)
    cfg = runner.bench_config(bench, base, where)
    top = MODULE_PREFIX + bench.block
    sources = write_verilog(resolve_design(cfg), where / "rtl", [bench.block])
    ports = top_ports(next(s for s in sources if s.stem == top).read_text(), top)
    row = {"name": name, "unit": ROWS[name][4], "native": native_rate(sources, top, where, [], args.native_cpu_s)}
    if args.public:
        row["native_public"] = native_rate(sources, top, where, ["--public-flat-rw"], args.native_cpu_s)
    if args.threads:
        row["native_threads"] = native_rate(sources, top, where, ["--threads", str(args.threads)], args.native_cpu_s)
    inputs = {p.name: (1 << p.width) - 1 if p.name.endswith(("__valid", "__ready")) else int("55" * 64, 16)
              & ((1 << p.width) - 1) for p in ports if p.direction == "input" and p.name not in ("clk", "rst")}
    row["floor"] = idle_floor(bench, base, inputs, int(row["native"]["cycles_per_cpu_s"] * args.native_cpu_s / 4))
    row["bench"], _ = run_main_test(name, bench, base)
    row["ratio_to_native"] = row["bench"]["cycles_per_cpu_s"] / row["native"]["cycles_per_cpu_s"]
    if args.profile:
        _, row["profile"] = run_main_test(name, bench, base, profile=True)
        # What a wake-up costs in the unprofiled run: its CPU time beyond the bare loop's, per wake-up (assuming the
        # profiled run's wake-ups per cycle), and the cycles/s the bench could reach at that cost.
        b, wakes = row["bench"], row["profile"]["wakeups_per_kcycle"] * row["bench"]["cycles"] / 1e3
        python_s = b["test_cpu_s"] - b["cycles"] / row["floor"]["cycles_per_cpu_s"]
        row["profile"]["us_per_wakeup"] = 1e6 * python_s / max(wakes, 1)
    return row


def report(rows: list[dict]) -> None:
    def k(x: float) -> str:
        return f"{x / 1e3:,.1f} k"
    print("## Clock cycles per second (CPU), native Verilator vs cocotb\n")
    print("| design | native | native +public | native threads (CPU / wall) | cocotb floor | bench | bench / native "
          "| bench wall: cycles/s | items/s (CPU) | items/s (wall) | startup CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        b = r["bench"]
        public = k(r["native_public"]["cycles_per_cpu_s"]) if "native_public" in r else "-"
        threads = (f"{k(r['native_threads']['cycles_per_cpu_s'])} / {k(r['native_threads']['cycles_per_wall_s'])}"
                   if "native_threads" in r else "-")
        print(f"| {r['name']} | {k(r['native']['cycles_per_cpu_s'])} | {public} | {threads} | "
              f"{k(r['floor']['cycles_per_cpu_s'])} | {k(b['cycles_per_cpu_s'])} | {r['ratio_to_native']:.1%} | "
              f"{k(b['cycles_per_wall_s'])} | {b['items_per_cpu_s']:.3g} {r['unit']} | "
              f"{b['items_per_wall_s']:.3g} {r['unit']} | "
              f"{r['floor']['startup_cpu_s']:.1f} |")
    profiled = [r for r in rows if r.get("profile")]
    if profiled:
        groups = list(profiled[0]["profile"]["share"])
        print("\n## Where the Python time goes (share of profiled self time)\n")
        print("| design | wake-ups / 1000 cycles | µs / wake-up | Python s | " + " | ".join(groups) + " |")
        print("|---|---:|---:|---:|" + "---:|" * len(groups))
        for r in profiled:
            p = r["profile"]
            print(f"| {r['name']} | {p['wakeups_per_kcycle']:.0f} | {p['us_per_wakeup']:.1f} | {p['python_s']} | "
                  + " | ".join(f"{p['share'][g]:.0%}" for g in groups) + " |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(ROWS), default=list(ROWS), metavar="NAME",
                        help=f"designs to measure (default: all of {', '.join(ROWS)})")
    parser.add_argument("--native-cpu-s", type=float, default=3.0, help="CPU seconds per native run (default 3)")
    parser.add_argument("--no-profile", dest="profile", action="store_false", help="skip the profiled runs")
    parser.add_argument("--no-public", dest="public", action="store_false",
                        help="skip the --public-flat-rw native build")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="also measure the native model built with --threads N (default: not)")
    args = parser.parse_args()
    began = time.perf_counter()
    rows = [measure(name, args) for name in args.only]
    report(rows)
    print(json.dumps({"benchmark": "cosim_speed", "wall_s": round(time.perf_counter() - began),
                      "nice": os.nice(0), "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
