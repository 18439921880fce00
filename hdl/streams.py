"""Fan-out and fan-in of ``amaranth.lib.stream`` ports (payloads are wired by the caller)."""
from __future__ import annotations

from functools import reduce
from operator import and_

__all__ = ["tee", "join"]


def _all(values):
    return reduce(and_, values, 1)


def tee(m, src, *sinks) -> None:
    """Each transfer of ``src`` goes to every sink in the same cycle. A sink's ``valid`` waits for the others'
    ``ready``, so the sinks' ``ready`` must not depend on their ``valid`` (true of FIFOs and idle-state units)."""
    for s in sinks:
        m.d.comb += s.valid.eq(src.valid & _all(o.ready for o in sinks if o is not s))
    m.d.comb += src.ready.eq(_all(s.ready for s in sinks))


def join(m, dst, *srcs) -> None:
    """One transfer of ``dst`` takes one transfer of every source, in the same cycle."""
    both = _all(s.valid for s in srcs)
    m.d.comb += dst.valid.eq(both)
    for s in srcs:
        m.d.comb += s.ready.eq(dst.ready & both)
