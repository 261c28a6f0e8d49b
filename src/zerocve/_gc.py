"""Pausing Python's cycle collector while building large acyclic structures.

A parsed Debian index is some 64,000 records of strings and tuples, and the resolver's
universe indexes them again. None of it forms a reference cycle, yet each few hundred
allocations make the collector walk every live container: building them with it running
takes about three times as long. Reference counting frees everything as usual meanwhile.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Pause the cycle collector inside the block (restored as it was, also on error)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


__all__ = ["cycle_collector_paused"]
