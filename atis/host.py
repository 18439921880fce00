"""The host side of the prototype: :class:`BoardLink` speaks :mod:`atis.protocol` to a pipeline bitstream over any
pyserial port (``/dev/ttyUSB1``, ``COM3``, or ``socket://127.0.0.1:PORT`` for the virtual board), and
:func:`run_digits` streams digits test images through it and checks every answer against the golden model.

Every read has a deadline: an idle timeout (no byte for ``timeout_s``) plus the transfer time at the baud rate.
A board that was reset, or a host that was interrupted mid-command, leaves the link out of step;
:meth:`BoardLink.resync` brings it back (see there) and the run then reloads the weights.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from .config import AtisConfig
from .design import DesignSpec
from .protocol import (
    Answer,
    HostOp,
    HostReply,
    WatchdogStatus,
    answer_bytes,
    decode_answer,
    decode_status,
    encode_load,
    encode_scored_sequence,
    encode_status,
)

__all__ = ["HostError", "BoardLink", "ImageResult", "RunReport", "run_digits", "check_link_rate", "scoring_cycles",
           "image_scoring_cycles", "min_uart_divisor", "link_baud"]

#: A byte no command starts with: the board answers it with a lone ``'?'`` (used to find the command boundary).
PROBE = ord("?")
assert PROBE not in {op.value for op in HostOp}


class HostError(RuntimeError):
    """The link failed: port missing, timeout, malformed answer. One line saying which and what was expected."""


def _open_failure(error: BaseException) -> str:
    """The operating system's reason a port did not open ("No such file or directory"), not pyserial's wrapper
    text, which repeats the port name and the errno."""
    reason, cause = str(error), error
    while cause is not None:                  # the innermost OS error is the operating system's own
        if isinstance(cause, OSError) and cause.strerror:
            reason = cause.strerror
        cause = cause.__cause__ or cause.__context__
    return reason


class BoardLink:
    """A pipeline board (or the virtual board) on a serial port. ``classes`` and ``n`` (``model.seq_len``) fix the
    answer length; ``baud`` sets the port (ignored by ``socket://``) and the transfer-time part of each deadline."""

    def __init__(self, port: str, *, baud: int, classes: int, n: int, timeout_s: float = 5.0):
        import serial

        self.port, self.baud, self.classes, self.n, self.timeout_s = port, baud, classes, n, timeout_s
        try:
            self._serial = serial.serial_for_url(port, baudrate=baud, timeout=min(timeout_s, 0.1),
                                                 write_timeout=timeout_s)
        except (serial.SerialException, ValueError, OSError) as e:
            raise HostError(f"cannot open port {port}: {_open_failure(e)}") from None

    def __enter__(self) -> BoardLink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._serial.close()

    def _transfer_s(self, n_bytes: int) -> float:
        return 10 * n_bytes / self.baud

    def _write(self, data: bytes) -> None:
        import serial
        try:
            self._serial.write(data)
            self._serial.flush()
        except (serial.SerialException, OSError) as e:
            raise HostError(f"{self.port}: write failed ({e})") from None

    def _read(self, n: int, what: str, extra_s: float = 0.0) -> bytes:
        """Exactly n bytes, or HostError after ``timeout_s`` without a byte (plus ``extra_s`` once)."""
        import serial
        out = bytearray()
        deadline = time.monotonic() + self.timeout_s + extra_s + self._transfer_s(n)
        while len(out) < n:
            try:
                chunk = self._serial.read(n - len(out))
            except (serial.SerialException, OSError) as e:
                raise HostError(f"{self.port}: read failed while waiting for {what} after {len(out)} of {n} "
                                f"bytes ({e})") from None
            if chunk:
                out += chunk
                deadline = max(deadline, time.monotonic() + self.timeout_s)
            elif time.monotonic() > deadline:
                raise HostError(f"{self.port}: timeout waiting for {what}: {len(out)} of {n} bytes arrived "
                                f"(is the pipeline bitstream loaded? `atis build --top pipeline`)")
        return bytes(out)

    def load(self, weights: bytes) -> None:
        """LOAD the weight bytes; the board answers ``'K'`` once the last one is in."""
        self._write(encode_load(weights))
        (reply,) = self._read(1, "the LOAD answer 'K'", extra_s=self._transfer_s(len(weights)))
        if reply != HostReply.LOADED:
            raise HostError(f"{self.port}: LOAD answered {bytes([reply])!r}, expected b'K' "
                            "(a scorer-only bitstream? build with `atis build --top pipeline`)")

    def score(self, tokens: np.ndarray, drop: bool) -> Answer:
        """SCORE one sequence of ``n`` int8 tokens; the board's answer, decoded."""
        if len(tokens) != self.n:
            raise HostError(f"a SCORE sequence is model.seq_len = {self.n} tokens, not {len(tokens)}")
        command = encode_scored_sequence(tokens, drop)
        self._write(command)
        size = answer_bytes(self.classes, self.n)
        raw = self._read(size, f"the {size}-byte SCORE answer", extra_s=self._transfer_s(len(command)))
        if raw == bytes([HostReply.UNKNOWN]) * size:
            raise HostError(f"{self.port}: SCORE answered '?': the bitstream has no scored pipeline")
        answer = decode_answer(raw, self.classes, self.n)
        if answer.kept != sum(answer.mask):
            raise HostError(f"{self.port}: malformed answer: kept = {answer.kept} but the keep mask has "
                            f"{sum(answer.mask)} bits set")
        return answer

    def status(self, clear: bool = False) -> WatchdogStatus | None:
        """The keep-rate watchdog's status (``clear``: then clear it and start a new window, e.g. after re-trimming
        the FPAA); None for a bitstream without a watchdog (it answers ``'?'``)."""
        self._write(encode_status(clear))
        (reply,) = self._read(1, "the STATUS answer")
        if reply == HostReply.UNKNOWN:       # no watchdog: the flags byte is a second unknown command
            self._read(1, "the '?' to STATUS's flags byte")
            return None
        try:
            return decode_status(reply)
        except ValueError as e:
            raise HostError(f"{self.port}: malformed STATUS answer: {e}") from None

    def resync(self, max_bytes: int = 1 << 20) -> None:
        """Find the command boundary again after a board reset or an interrupted command: wait until the line is
        quiet, send one probe byte; a board at the boundary answers it alone with ``'?'``. A board in the middle of
        a command takes it as data and stays silent: then send a burst of probes (doubling, up to 16 k) to complete
        that command, and try again. A half-sent LOAD so costs up to its length in probes, and its weights must
        be loaded again (:func:`run_digits` does). Probes that arrive while the board computes the completed
        command overrun its receiver: they are lost, which does not matter, but ``led_error`` lights (sticky)."""
        sent, burst = 0, 0
        while sent <= max_bytes:
            if burst:
                self._write(bytes([PROBE]) * burst)
            self._drain(0.2 + self._transfer_s(burst))
            self._write(bytes([PROBE]))
            sent += burst + 1
            if self._drain(0.3 + self._transfer_s(2)) == bytes([HostReply.UNKNOWN]):
                return
            burst = min(max(1, 2 * burst), 1 << 14)
        raise HostError(f"{self.port}: no answer to {sent} probe bytes: the board does not respond")

    def _drain(self, quiet_s: float) -> bytes:
        """Everything that arrives until the line has been quiet for ``quiet_s``."""
        out = bytearray()
        last = time.monotonic()
        while time.monotonic() - last < quiet_s:
            try:
                chunk = self._serial.read(max(1, self._serial.in_waiting))
            except (OSError, ValueError):
                raise HostError(f"{self.port}: the link closed while resynchronizing") from None
            if chunk:
                out += chunk
                last = time.monotonic()
        return bytes(out)


def scoring_cycles(design: DesignSpec, *, upper: bool = False) -> int:
    """Clock cycles per token of the scorer at its steady rate: the slower of the projection and the DAC port
    (settle and evaluate overlap the next token's writes). The scorer bench checks this against the RTL.
    ``upper``: with the sequencer's upper bound (a SAR readout's rate depends on how much of it overlaps)."""
    p, seq = design.projection, design.sequencer
    return max(p.d, p.m * -(-p.d // p.lanes), seq.token_cycles_max() if upper else seq.token_cycles())


def image_scoring_cycles(design: DesignSpec, n: int) -> int:
    """n tokens at :func:`scoring_cycles`, plus the last one's settle, comparator wait and its 2-flop synchronizer."""
    seq = design.sequencer
    return n * scoring_cycles(design) + seq.settle_cycles + seq.wait_cycles + 2


def link_baud(design: DesignSpec) -> int:
    """The baud rate the design's UART runs at (clock / ``uart_divisor``)."""
    return round(1e9 / design.sequencer.clock_ns / design.uart_divisor)


def min_uart_divisor(design: DesignSpec) -> int:
    """The smallest UART divisor (clock / baud) at which a token's d bytes take no less than its scoring (at
    its slowest: the link has no flow control)."""
    return -(-scoring_cycles(design, upper=True) // (10 * design.projection.d))


def check_link_rate(design: DesignSpec, baud: int) -> None:
    """The link has no flow control: a token's d bytes must take at least as long on the wire as the scorer
    needs for it, or the board's receiver overruns. Raises HostError naming the fastest safe baud rate."""
    clock_hz = 1e9 / design.sequencer.clock_ns
    if round(clock_hz / baud) != design.uart_divisor:
        raise HostError(f"--baud {baud}: the bitstream's UART runs at {link_baud(design)} baud "
                        "(fpga.uart_baud of its config)")
    if design.uart_divisor < min_uart_divisor(design):
        raise HostError(f"fpga.uart_baud = {baud}: a token's {design.projection.d} bytes arrive in "
                        f"{10 * design.projection.d * design.uart_divisor} cycles, the scorer needs "
                        f"up to {scoring_cycles(design, upper=True)}; the board would overrun "
                        f"(at most {clock_hz / min_uart_divisor(design):.0f} baud)")


@dataclass
class ImageResult:
    index: int
    label: int
    predicted: int
    kept: int
    logit_mismatch: bool
    keep_mismatches: int | None     # against the vectorized FPAA model (virtual board only)
    total_cycles: int
    tail_cycles: int
    attention_cycles: int


@dataclass
class RunReport:
    board: str
    port: str
    images: int
    accuracy: float
    golden_accuracy: float | None     # forward_int on the model's keep bits
    logit_mismatches: int
    keep_mismatches: int | None
    mean_kept_fraction: float
    #: per image: the scorer's cycles (n tokens at the sequencer's rate, the cycle model the scorer bench checks
    #: against the RTL), the transformer's compute after the last token (measured: tail_cycles), their sum (the
    #: board's time once the tokens are there), and the transformer's measured first-token-to-result time and
    #: attention share (which includes waiting for the link)
    scoring_cycles_per_image: int
    tail_cycles_per_image: float
    compute_cycles_per_image: float
    transformer_total_cycles_per_image: float
    attention_cycles_per_image: float
    latency_us: float
    clock_MHz: float
    baud: int
    uart_bound_images_per_s: float
    compute_bound_images_per_s: float
    bound: str
    measured_images_per_s: float
    wall_s: float
    reloads: int = 0
    per_image: list[dict] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


def run_digits(link: BoardLink, cfg: AtisConfig, design: DesignSpec, *, board: str, images: int,
               model_keep: Callable[[np.ndarray], np.ndarray] | None = None,
               progress: Callable[[int], None] | None = None, retries: int = 1) -> RunReport:
    """Load the weights, score ``images`` digits test images, check each answer: logits == ``forward_int`` on the
    board's keep mask. With ``model_keep`` (all images' tokens [images·n, d], in the order the board scores them
    -> keep bits: the vectorized FPAA model, whose DAC and comparator state runs on from token to token as on the
    board) the mask is compared with the model's too, and ``golden_accuracy`` is ``forward_int``'s on the
    model's keep bits. An image whose exchange fails is retried ``retries`` times after :meth:`BoardLink.resync`
    and a reload."""
    from .digits import load_embedding, load_split
    from .golden.transformer import forward_int, load_bytes, load_weights

    t, d, n = cfg.transformer, cfg.model.d_model, cfg.model.seq_len
    w = load_weights(t, d)
    split = load_split()
    if not 1 <= images <= len(split.y_test):
        raise HostError(f"--images {images}: the digits test split has 1..{len(split.y_test)} images")
    tokens = load_embedding(t.weights, d).tokens(split.x_test[:images])
    weight_bytes = load_bytes(w)
    drop = t.mask == "drop"
    want_keep = None if model_keep is None else np.asarray(model_keep(tokens.reshape(-1, d)), bool).reshape(-1, n)
    started = time.monotonic()
    link.load(weight_bytes)
    results, reloads = [], 0
    for i in range(images):
        for attempt in range(retries + 1):
            try:
                answer = link.score(tokens[i], drop)
                break
            except HostError:
                if attempt == retries:
                    raise
                link.resync()
                link.load(weight_bytes)
                reloads += 1
        mask = np.array(answer.mask, dtype=bool)
        golden = forward_int(tokens[i], mask, w, t.mask).tolist()
        keep_miss = None if want_keep is None else int((want_keep[i] != mask).sum())
        results.append(ImageResult(i, int(split.y_test[i]), int(np.argmax(answer.logits)), answer.kept,
                                   answer.logits != golden, keep_miss, answer.total_cycles, answer.tail_cycles,
                                   answer.attention_cycles))
        if progress:
            progress(i + 1)
    wall = time.monotonic() - started
    clock_hz = 1e9 / design.sequencer.clock_ns
    scoring = image_scoring_cycles(design, n)
    tail = float(np.mean([r.tail_cycles for r in results]))
    cycles = scoring + tail
    per_image_bytes = len(encode_scored_sequence(tokens[0], drop)) + answer_bytes(t.classes, n)
    uart_rate = link.baud / 10 / per_image_bytes
    compute_rate = clock_hz / cycles
    golden_accuracy = None if want_keep is None else float(np.mean(
        [np.argmax(forward_int(tokens[i], want_keep[i], w, t.mask)) == split.y_test[i] for i in range(images)]))
    return RunReport(
        board=board, port=link.port, images=images,
        accuracy=float(np.mean([r.predicted == r.label for r in results])),
        golden_accuracy=golden_accuracy,
        logit_mismatches=sum(r.logit_mismatch for r in results),
        keep_mismatches=None if want_keep is None else sum(r.keep_mismatches for r in results),
        mean_kept_fraction=float(np.mean([r.kept for r in results]) / n),
        scoring_cycles_per_image=scoring, tail_cycles_per_image=tail, compute_cycles_per_image=cycles,
        transformer_total_cycles_per_image=float(np.mean([r.total_cycles for r in results])),
        attention_cycles_per_image=float(np.mean([r.attention_cycles for r in results])),
        latency_us=cycles / clock_hz * 1e6, clock_MHz=clock_hz / 1e6, baud=link.baud,
        uart_bound_images_per_s=uart_rate, compute_bound_images_per_s=compute_rate,
        bound="UART" if uart_rate < compute_rate else "compute",
        measured_images_per_s=images / wall, wall_s=wall, reloads=reloads,
        per_image=[asdict(r) for r in results])
