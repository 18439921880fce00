"""Verilator models built once per (Verilog, options) and shared by every bench and test that simulates them.

A model lives in ``<cache>/<key>/``, ``key`` a hash of the sources' names and contents, the top module, the build
arguments, tracing, the Verilator and cocotb versions, ``CXX`` and ``MAKEFLAGS``. It is built into a private
temporary folder and renamed into place, under a per-key lock (``fcntl.flock``), so pytest-xdist workers that need
the same model build it once and never see half a build. The cache (``ATIS_MODEL_CACHE``, default
``build/models`` under the working directory) keeps the :data:`KEEP` most recently used models.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

import cocotb
from cocotb_tools.runner import Verilator

from atis.toolchain import activate_verilator

__all__ = ["KEEP", "PortsOnlyVerilator", "cache_root", "model_key", "cached_model"]

KEEP = 48


class PortsOnlyVerilator(Verilator):
    """cocotb's Verilator runner without ``--public-flat-rw``: VPI sees what the sources make public (the bench
    wrapper's control file: the top's ports, :func:`.tb_wrapper.public_ports_vlt`), so Verilator optimizes the
    rest of the model as it would without cocotb. Between Verilator and make it touches the runtime objects a
    cached build was seeded with (:func:`cached_model`): make takes the Verilator makefile as their prerequisite."""

    def _build_command(self) -> list[list[str]]:
        verilate, *rest = super()._build_command()
        touch = [sys.executable, "-c",
                 "import os, pathlib; [os.utime(p) for p in pathlib.Path('.').glob('verilated*.[od]')]"]
        return [[arg for arg in verilate if arg != "--public-flat-rw"], touch, *rest]


def cache_root() -> Path:
    return Path(os.environ.get("ATIS_MODEL_CACHE") or Path("build") / "models").resolve()


def _digest(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:20]


def _tool_parts(build_args: list[str], waves: bool) -> tuple[str, ...]:
    tool = activate_verilator()
    return (PortsOnlyVerilator.__name__, tool.version_text, str(tool.executable), cocotb.__version__,
            os.environ.get("CXX", ""), os.environ.get("MAKEFLAGS", ""), " ".join(build_args), str(waves))


def model_key(sources: list[Path], toplevel: str, build_args: list[str], waves: bool) -> str:
    contents = [f"{s.name}\0{s.read_text()}" for s in sources]
    return f"{toplevel}-{_digest(*_tool_parts(build_args, waves), toplevel, *contents)}"


def cached_model(runner, sources: list[Path], toplevel: str, build_args: list[str], *, waves: bool = False,
                 log_file: Path) -> Path:
    """The build folder of the model (``runner.test(build_dir=...)``), built now if the cache lacks it.
    ``log_file`` gets the build log, or one line naming the reused model. Raises what ``runner.build`` raises.

    Verilator's runtime (``verilated*.o``: the same C++ for every design, about 10 s of compiling) is kept once per
    set of build options in ``runtime-<key>/`` and copied into each new build, whose make then finds it up to
    date; a build that fails with it is retried without. A model keeps only its executable and build log."""
    from cocotb_tools import _env
    waves = _env.get_bool("WAVES", waves)       # what cocotb's runner.build will do: WAVES overrides the argument
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    key = model_key(sources, toplevel, build_args, waves)
    final = root / key
    runtime = root / f"runtime-{_digest(*_tool_parts(build_args, waves))}"
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)          # a worker building the same model: wait for it, then reuse
        if (final / toplevel).is_file():
            os.utime(final)
            log_file.write_text(f"model reused from {final} (same Verilog and build options)\n")
            return final
        scratch = root / f"{key}.tmp{os.getpid()}"
        seed_failed = False
        try:
            for seeded in ((True, False) if runtime.is_dir() else (False,)):
                shutil.rmtree(scratch, ignore_errors=True)
                scratch.mkdir()
                if seeded:
                    for obj in runtime.iterdir():
                        shutil.copy2(obj, scratch / obj.name)     # keeps the mtime: make sees it up to date
                try:
                    runner.build(sources=sources, hdl_toplevel=toplevel, build_dir=scratch, waves=waves,
                                 build_args=build_args, log_file=log_file, always=True)
                    break
                except (RuntimeError, SystemExit):
                    if not seeded:
                        raise
                    seed_failed = True
            shutil.copyfile(log_file, scratch / "build.log")
            if seed_failed:                      # the saved runtime is bad for these options: replace it
                shutil.rmtree(runtime, ignore_errors=True)
            _keep_runtime(scratch, runtime)
            for leftover in scratch.iterdir():
                if leftover.name not in (toplevel, "build.log"):
                    leftover.unlink()
            scratch.rename(final)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    _prune(root)
    return final


def _keep_runtime(build: Path, runtime: Path) -> None:
    """Save a fresh build's runtime objects for later builds with the same options (first one wins)."""
    if runtime.is_dir():
        os.utime(runtime)
        return
    scratch = runtime.with_name(f"{runtime.name}.tmp{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    for obj in build.glob("verilated*.[od]"):
        shutil.copy2(obj, scratch / obj.name)
    try:
        scratch.rename(runtime)
    except OSError:
        shutil.rmtree(scratch, ignore_errors=True)                # another worker saved it first


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:                     # renamed or removed by another worker meanwhile
        return None


def _prune(root: Path) -> None:
    """Drop the least recently used models beyond :data:`KEEP`, each under its key's lock, taken without waiting
    (a model in use or being built stays); lock files stay, so every worker locks the same file."""
    now = time.time()
    for stale in root.glob("*.tmp*"):             # a build that crashed (a live one is minutes old at most)
        if (mtime := _mtime(stale)) is not None and now - mtime > 6 * 3600:
            shutil.rmtree(stale, ignore_errors=True)
    dated = [(mtime, p) for p in root.iterdir() if p.is_dir() and ".tmp" not in p.name
             if (mtime := _mtime(p)) is not None]            # runtimes too: rebuilt when needed
    for mtime, old in sorted(dated, reverse=True)[KEEP:]:
        if now - mtime < 3600:
            continue                              # used within the hour: maybe by a running bench
        with open(root / f"{old.name}.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(old, ignore_errors=True)
