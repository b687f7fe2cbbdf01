"""SQLite's one writer, queued inside the process: pushes and webhook fetches go first.

Every SQLite transaction syncd opens is `BEGIN IMMEDIATE` (syncd/db/session.py), so only
one runs at a time anyway. Left to SQLite, the threads waiting for that lock poll it with
a growing sleep (up to 100 ms) and whoever polls at the right moment wins: with 50
accounts backfilling, a push's few small transactions waited behind page commits for
seconds (bench/latency.py). The gate hands the lock on in order instead, urgent work
(a thread inside `urgent()`: the daemon's pushes and webhook fetches) before the rest, and
keeps waiting threads off the connection pool. Other processes (a user's SQL client, a
second command) still meet SQLite's own lock and busy timeout.

    gate = WriteGate()
    with gate.urgent():       # in the push job's thread
        with gate.held():     # Database.begin() does this on SQLite
            ...
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

URGENT, NORMAL = 0, 1


class WriteGate:
    """A reentrant lock granted by (urgency, arrival)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._waiting: list[tuple[int, int]] = []
        self._seq = itertools.count()
        self._owner: int | None = None
        self._depth = 0
        self._local = threading.local()

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Transactions this thread opens inside the block are served before the others."""
        before = getattr(self._local, "urgent", False)
        self._local.urgent = True
        try:
            yield
        finally:
            self._local.urgent = before

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the gate for one transaction (again, without waiting, if this thread holds it)."""
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
            else:
                ticket = (URGENT if getattr(self._local, "urgent", False) else NORMAL,
                          next(self._seq))
                heapq.heappush(self._waiting, ticket)
                while self._owner is not None or self._waiting[0] != ticket:
                    self._cond.wait()
                heapq.heappop(self._waiting)
                self._owner, self._depth = me, 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None
                    self._cond.notify_all()
