"""Python's cyclic garbage collector, tuned for the length of a pull.

A pull allocates a few hundred thousand short-lived containers per thousand line items
(decoded JSON, models, canonical rows), almost none of them in reference cycles: plain
reference counting frees them. With the default first-generation threshold (700) the
collector still runs every few hundred allocations and, every tenth and hundredth time,
walks every long-lived object of the process (SQLAlchemy's and pydantic's schemas). Measured
on the Quick Quote replay (`bench.pipeline`): about a tenth of a backfill's CPU time.
While any pull runs, the first threshold is raised to `PULL_THRESHOLD`; the previous
thresholds come back when the last concurrent pull ends (the daemon pulls accounts in
threads, and the thresholds are per process).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

PULL_THRESHOLD = 20_000

_lock = threading.Lock()
_active = 0
_saved: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def relaxed_collector() -> Iterator[None]:
    """Collect young objects every `PULL_THRESHOLD` allocations instead of every 700."""
    global _active, _saved
    with _lock:
        if _active == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(max(PULL_THRESHOLD, _saved[0]), *_saved[1:])
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                gc.set_threshold(*_saved)
