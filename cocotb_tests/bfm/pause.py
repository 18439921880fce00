"""Pause/backpressure generators: plain iterators of 0/1, one value per clock edge (1 = pause this cycle)."""
from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

__all__ = ["cycle_pause", "random_pause", "make_pause"]


def cycle_pause(pattern: tuple[int, ...] = (1, 1, 1, 0)) -> Iterator[int]:
    return itertools.cycle(pattern)


def random_pause(p: float, seed: int) -> Iterator[int]:
    rng = random.Random(seed)
    while True:
        yield int(rng.random() < p)


def make_pause(kind: str | None, seed: int, p: float = 0.3) -> Iterator[int] | None:
    """Pause generator by name: None/"none" (never pause), "cycle" (3 of 4 cycles), "random" (probability p)."""
    if kind in (None, "none"):
        return None
    if kind == "cycle":
        return cycle_pause()
    if kind == "random":
        return random_pause(p, seed)
    raise ValueError(f"unknown pause kind {kind!r} (known: none, cycle, random)")
