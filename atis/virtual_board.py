"""Launch the virtual board (:mod:`atis.cocotb_tests.virtual_board`): the board's pipeline top under Verilator,
its UART on a TCP port for pyserial's ``socket://``.

What differs from the bitstream, and why:

* no PLL or pads: the sync clock is driven directly, with the period rounded *up* to whole even picoseconds
  (24 MHz → 41.668 ns: :func:`atis.cocotb_tests.harness.sim_clock_ns`), so every DAC settle and comparator wait
  lasts at least as long as on the board;
* a faster UART: the smallest divisor (≥ 8) at which a token's bytes still take no less than its scoring
  (:func:`atis.host.min_uart_divisor`): iCEBreaker 3 Mbaud instead of 115200, so a run takes seconds, not hours
  of simulated wire time. The RTL is the same with another divisor constant.
* the FPAA is the behavioral model (the bench's BFM), programmed with the digits scorer trimmed to ``keep``
  (:func:`atis.sweep.fpaa_scorer_overrides`): the config it runs with is written next to the build.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import threading
import time
from pathlib import Path

import yaml
from amaranth.back import verilog

from .boards.platforms import get_board, make_top
from .cocotb_tests.runner import PACKAGE_PARENT
from .config import AtisConfig, config_to_dict, load_config, with_overrides
from .design import BoardTopKind, DesignSpec, resolve_design
from .hdl.export import LINT_WAIVERS
from .host import link_baud, min_uart_divisor
from .toolchain import activate_verilator

__all__ = ["VirtualBoard", "VirtualBoardError", "DEFAULT_WORK_DIR"]

log = logging.getLogger(__name__)
DEFAULT_WORK_DIR = Path("build") / "virtual"
TOPLEVEL = "atis_board"
MIN_DIVISOR = 8


class VirtualBoardError(RuntimeError):
    """The virtual board could not be built or did not come up; the message names the log."""


class VirtualBoard:
    """``prepare()`` (config, Verilog, Verilator build; rebuilt only when the Verilog changes), ``start()`` (the
    simulation in a thread, listening; returns the TCP port), ``wait()`` (until it ends; its metrics) and
    ``stop()`` (end it even if no host came, then wait). As a context manager it prepares and starts on entry
    and stops on exit."""

    def __init__(self, board: str, cfg: AtisConfig | None = None, *, keep: float = 0.3,
                 work_dir: Path = DEFAULT_WORK_DIR, port: int = 0, once: bool = True):
        self.board = get_board(board)
        self.base_cfg = cfg if cfg is not None else load_config(self.board.config)
        if not 0 < keep <= 1:
            raise VirtualBoardError(f"--keep {keep}: the FPAA's keep target is in (0, 1]")
        self.keep, self.port, self.once = keep, port, once
        self.where = (Path(work_dir) / self.board.name).resolve()
        self.cfg: AtisConfig | None = None
        self.design: DesignSpec | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def baud(self) -> int:
        return link_baud(self.design)

    def prepare(self) -> None:
        from cocotb_tools.runner import get_runner

        from .sweep import fpaa_scorer_overrides

        self.where.mkdir(parents=True, exist_ok=True)
        cfg = with_overrides(self.base_cfg, fpaa_scorer_overrides(self.base_cfg, self.keep, self.where))
        self.cfg = dataclasses.replace(cfg, source=self.where / "config.yaml")
        (self.where / "config.yaml").write_text(yaml.safe_dump(config_to_dict(self.cfg), sort_keys=False))
        design = resolve_design(self.cfg)
        self.design = dataclasses.replace(design, uart_divisor=max(MIN_DIVISOR, min_uart_divisor(design)))
        text = verilog.convert(make_top(BoardTopKind.PIPELINE, self.design), name=TOPLEVEL, emit_src=False)
        source = self.where / f"{TOPLEVEL}.v"
        if not source.is_file() or source.read_text() != text:
            source.write_text(text)          # unchanged Verilog keeps its timestamp: the Verilator build is reused
        activate_verilator()
        runner = get_runner("verilator")
        runner.log.setLevel(log.getEffectiveLevel())   # the runner forces INFO; follow the caller's logging
        try:                                 # Verilator skips an unchanged model, make an unchanged object
            runner.build(sources=[source], hdl_toplevel=TOPLEVEL, build_dir=self.where / "obj",
                         build_args=[*LINT_WAIVERS, "-O3", "--x-assign", "fast", "--x-initial", "fast"],
                         log_file=self.where / "build.log")
        except (RuntimeError, SystemExit) as e:
            raise VirtualBoardError(f"Verilator build failed ({e}); see {self.where / 'build.log'}") from None
        self._runner = runner

    def start(self, timeout_s: float = 120.0) -> int:
        """Run the simulation in a thread; return the TCP port once it listens."""
        if self.design is None:
            self.prepare()
        port_file = self.where / "port"
        port_file.unlink(missing_ok=True)
        (self.where / "metrics.json").unlink(missing_ok=True)
        env = {"ATIS_BENCH_CONFIG": str(self.where / "config.yaml"),
               "ATIS_BENCH_METRICS": str(self.where / "metrics.json"),
               "ATIS_VBOARD_PORT": str(self.port), "ATIS_VBOARD_PORT_FILE": str(port_file),
               "ATIS_VBOARD_DIVISOR": str(self.design.uart_divisor),
               "ATIS_VBOARD_ONCE": "1" if self.once else "0",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_PARENT), os.environ.get("PYTHONPATH")]))}

        def simulate() -> None:
            try:
                self._runner.test(test_module="atis.cocotb_tests.virtual_board", hdl_toplevel=TOPLEVEL,
                                  build_dir=self.where / "obj", test_dir=self.where, extra_env=env,
                                  results_xml=str(self.where / "results.xml"), log_file=self.where / "sim.log")
            except (Exception, SystemExit) as e:      # reported by start()/wait(), not as a thread traceback
                self._error = e

        self._thread = threading.Thread(target=simulate, name="virtual-board", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not port_file.is_file():
            if not self._thread.is_alive() or time.monotonic() > deadline:
                why = f" ({type(self._error).__name__}: {self._error})" if self._error else ""
                raise VirtualBoardError(f"the virtual board did not come up{why}; see {self.where / 'sim.log'}")
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        return self.port

    def wait(self, timeout_s: float | None = 60.0) -> dict:
        """Wait for the simulation to end (with ``once``: after its host closed the port); its metrics."""
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise VirtualBoardError(f"the virtual board did not stop; see {self.where / 'sim.log'}")
        metrics = self.where / "metrics.json"
        return json.loads(metrics.read_text()).get("virtual_board", {}) if metrics.is_file() else {}

    def stop(self, timeout_s: float = 60.0) -> dict:
        """End a ``once`` simulation whether or not a host came (a connection that closes at once ends it), then
        :meth:`wait`."""
        if self._thread is not None and self._thread.is_alive():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5):
                    pass
            except OSError:
                pass                  # it stopped listening: the host's connection was its one
        return self.wait(timeout_s)

    def __enter__(self) -> VirtualBoard:
        self.prepare()
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
