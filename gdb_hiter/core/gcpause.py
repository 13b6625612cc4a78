"""Pausing Python's cyclic garbage collector around work on whole maps."""

from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def cyclic_gc_paused():
    """Pause the cyclic GC while a walk or a document allocates millions of objects.

    Entries, locations and rendered strings hold no reference cycles, yet
    CPython scans the young generation every 700 allocations and the older
    ones ever more often: with the collector on, decoding and rendering a
    1M-entry map take several times as long. Nothing is lost by pausing it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
