"""ngspice in batch mode (``ngspice -b``), driven from Python: write a netlist, run it, read ``wrdata`` tables back.

Why batch ngspice and not a wrapper: Debian's ``ngspice`` package has no shared library (``libngspice0`` would be a
second system package), so PySpice/InSpice's shared mode is out, and their subprocess mode adds a netlist DSL on top
of the same ``ngspice -b`` call. The netlists here are generated text anyway; a 60-line runner with no dependency is
the smaller thing to trust. Each run is one process in its own temporary folder, so runs can go in parallel.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["INSTALL_LINE", "NgspiceMissing", "SpiceError", "find_ngspice", "ngspice_version", "run_spice"]

#: What `atis spice` and the tests print when ngspice is missing (the one system package the SPICE checks need).
INSTALL_LINE = "apt-get update && apt-get install -y ngspice"

# ngspice prints its failures on stdout/stderr, not always with an exit code; these lines mean the run is unusable.
_FATAL = re.compile(r"^(error|.*simulation interrupted|.*singular matrix|.*timestep too small|.*no convergence"
                    r"|.*could not find)", re.IGNORECASE | re.MULTILINE)


class NgspiceMissing(RuntimeError):
    """ngspice is not on PATH; the message names the install line."""


class SpiceError(RuntimeError):
    """ngspice ran but failed (the message quotes its first error line)."""


def find_ngspice() -> str:
    """The ngspice executable on PATH, or :class:`NgspiceMissing` with the install line."""
    path = shutil.which("ngspice")
    if path is None:
        raise NgspiceMissing(f"ngspice not found on PATH; the SPICE checks need it: {INSTALL_LINE}")
    return path


def ngspice_version() -> str:
    """e.g. ``ngspice-39``."""
    out = subprocess.run([find_ngspice(), "-v"], capture_output=True, text=True, timeout=30).stdout
    found = re.search(r"ngspice-\S+", out)
    return found.group(0) if found else "ngspice (version unknown)"


def run_spice(netlist: str, outputs: tuple[str, ...] = (), timeout_s: float = 600.0) -> dict[str, np.ndarray]:
    """Run ``netlist`` (its ``.control`` block writes ``wrdata`` files named in ``outputs``, relative to the run
    folder) and return each file as an array ``[rows, columns]`` (first column: the sweep or time axis)."""
    exe = find_ngspice()
    with tempfile.TemporaryDirectory(prefix="atis-spice-") as tmp:
        cir = Path(tmp) / "run.cir"
        cir.write_text(netlist)
        env = {**os.environ, "SPICE_ASCIIRAWFILE": "1"}
        try:
            proc = subprocess.run([exe, "-b", cir.name], cwd=tmp, capture_output=True, text=True,
                                  timeout=timeout_s, env=env)
        except subprocess.TimeoutExpired:
            raise SpiceError(f"ngspice did not finish within {timeout_s:g} s") from None
        log = proc.stdout + proc.stderr
        fatal = _FATAL.search(log)
        if fatal:
            raise SpiceError(f"ngspice failed: {fatal.group(0).strip()}")
        tables = {}
        for name in outputs:
            path = Path(tmp) / name
            if not path.is_file():
                tail = " | ".join(log.strip().splitlines()[-3:])
                raise SpiceError(f"ngspice wrote no {name} (exit {proc.returncode}): {tail}")
            tables[name] = np.atleast_2d(np.loadtxt(path, skiprows=1))
        return tables
