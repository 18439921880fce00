"""Every bench command once on every shipped config, as a user would type it (a shipped board config once could
not be co-simulated: its 24 MHz clock period was not representable at the simulator's precision). Minimal sizes:
this is about each config running at all, the benches' own tests check the results."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

SHIPPED = ("default", "icebreaker", "icebreaker-digital", "ulx3s-85f")
BENCHES = {"scorer": ("--n", "2"), "attention": ("--n", "4"), "digits": ("--images", "1")}
#: (config, bench) -> the one-line refusal a config that cannot run the bench must give (exit 2)
REFUSED = {("icebreaker-digital", "scorer"): "fpga.scorer = digital",
           ("icebreaker-digital", "digits"): "fpga.scorer = digital",
           ("default", "digits"): "the digits need model.seq_len = 64"}


@pytest.mark.cocotb
@pytest.mark.parametrize("bench", list(BENCHES))
@pytest.mark.parametrize("config", SHIPPED)
def test_every_bench_runs_on_every_shipped_config(tmp_path, config, bench):
    from atis.config import bundled_config
    proc = subprocess.run([sys.executable, "-m", "atis.cli", "bench", bench, "-c", str(bundled_config(config)),
                           *BENCHES[bench], "-o", str(tmp_path), "--json"], capture_output=True, text=True)
    refusal = REFUSED.get((config, bench))
    if refusal:
        assert proc.returncode == 2 and refusal in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
        return
    assert proc.returncode == 0, proc.stderr[-2000:]
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["passed"] is True
