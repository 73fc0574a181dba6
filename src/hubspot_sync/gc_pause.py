"""The cyclic garbage collector paused while a step works on a whole run's records.

A step at a million records holds tens of millions of dicts, lists and strings, none in a
reference cycle; CPython's collector still walks all of them at every full collection it
triggers on the way (at 100,000 members about 40 % of the local CPU of a full refresh). The
seed generator of the OfficeRnD sandbox pauses it for the same reason. Whatever cyclic
garbage a paused step leaves is collected when the collector runs again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """No automatic cyclic collection inside (usable as a decorator: ``@paused_gc()``)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
