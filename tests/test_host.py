"""The host program's link (atis.host) against scripted fake boards on a TCP socket: timeouts, malformed answers,
a scorer-only bitstream, a missing port, a link too fast for the scorer — each one clear HostError line."""
from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest

from atis.config import bundled_config, load_config
from atis.design import resolve_design
from atis.host import BoardLink, HostError, check_link_rate, min_uart_divisor
from atis.protocol import HostReply, answer_bytes


def fake_board(script):
    """A one-connection TCP server; ``script(conn)`` plays the board. Returns its pyserial URL."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = server.accept()
        with conn:
            script(conn)
            while conn.recv(4096):           # stay connected until the host closes
                pass
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"socket://127.0.0.1:{server.getsockname()[1]}"


def read_exactly(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def test_a_silent_board_times_out_naming_what_was_awaited():
    url = fake_board(lambda conn: read_exactly(conn, 9))
    with BoardLink(url, baud=3_000_000, classes=10, n=4, timeout_s=0.3) as link:
        with pytest.raises(HostError, match=r"timeout waiting for the LOAD answer 'K': 0 of 1 bytes"):
            link.load(b"1234")


def test_a_scorer_only_bitstream_is_named():
    def scorer_top(conn):
        read_exactly(conn, 9)
        conn.sendall(bytes([0x01]))          # ScorerTop answers a keep byte per token, never 'K'
    with BoardLink(fake_board(scorer_top), baud=3_000_000, classes=10, n=4, timeout_s=1) as link:
        with pytest.raises(HostError, match=r"LOAD answered b'\\x01', expected b'K' \(a scorer-only bitstream"):
            link.load(b"1234")


def test_a_malformed_answer_is_rejected():
    classes, n, d = 2, 4, 3

    def bad_board(conn):
        read_exactly(conn, 2 + n * d)
        raw = bytearray(answer_bytes(classes, n))
        raw[4 * classes] = 3                 # kept = 3 ...
        raw[-1] = 0b0001                     # ... but one keep bit
        conn.sendall(bytes(raw))
    with BoardLink(fake_board(bad_board), baud=3_000_000, classes=classes, n=n, timeout_s=1) as link:
        with pytest.raises(HostError, match="malformed answer: kept = 3 but the keep mask has 1 bits set"):
            link.score(np.zeros((n, d), dtype=np.int8), drop=False)


def test_a_short_answer_times_out_with_the_count():
    classes, n, d = 2, 4, 3

    def short(conn):
        read_exactly(conn, 2 + n * d)
        conn.sendall(b"\0" * 5)
    with BoardLink(fake_board(short), baud=3_000_000, classes=classes, n=n, timeout_s=0.3) as link:
        with pytest.raises(HostError, match=f"5 of {answer_bytes(classes, n)} bytes arrived"):
            link.score(np.zeros((n, d), dtype=np.int8), drop=False)


def test_resync_finds_the_command_boundary_of_a_board_mid_command():
    """The board is 10 bytes into a 20-byte command: the probes complete it, then one is answered alone."""
    def board(conn):
        pending = 10
        while True:
            data = conn.recv(4096)
            if not data:
                return
            for _ in data:
                if pending:
                    pending -= 1
                    if not pending:
                        conn.sendall(b"x" * 7)                 # the answer to the completed command
                else:
                    conn.sendall(bytes([HostReply.UNKNOWN]))  # a probe, answered as an unknown command
    with BoardLink(fake_board(board), baud=3_000_000, classes=2, n=4, timeout_s=1) as link:
        link.resync()


def test_a_missing_port_is_one_line():
    with pytest.raises(HostError, match="cannot open port /dev/atis-no-such-port"):
        BoardLink("/dev/atis-no-such-port", baud=115200, classes=10, n=64)


def test_a_link_faster_than_the_scorer_is_refused():
    design = resolve_design(load_config(bundled_config("icebreaker")))
    check_link_rate(design, 115200)
    fast = dataclasses.replace(design, uart_divisor=min_uart_divisor(design) - 1)
    with pytest.raises(HostError, match="the board would overrun"):
        check_link_rate(fast, round(24e6 / fast.uart_divisor))
    with pytest.raises(HostError, match="the bitstream's UART runs at 115385 baud"):
        check_link_rate(design, 9600)


@pytest.mark.parametrize("args, code, message", [
    (["run"], 2, "give --port PORT (a board) or --virtual"),
    (["run", "--port", "socket://x", "--virtual"], 2, "give --port PORT (a board) or --virtual"),
    (["run", "--port", "/dev/atis-no-such-port"], 1, "cannot open port /dev/atis-no-such-port"),
    (["run", "--board", "de0", "--virtual"], 2, "--board de0: unknown board"),
])
def test_run_bad_input_is_one_line(args, code, message):
    proc = subprocess.run([sys.executable, "-m", "atis.cli", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
