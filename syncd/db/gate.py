"""The mirror's transactions, queued inside the process: pushes and webhook fetches go first.

SQLite: every transaction syncd opens is `BEGIN IMMEDIATE` (syncd/db/session.py), so only
one runs at a time anyway. Left to SQLite, the threads waiting for that lock poll it with
a growing sleep (up to 100 ms) and whoever polls at the right moment wins: with 50
accounts backfilling, a push's few small transactions waited behind page commits for
seconds (bench/latency.py). PostgreSQL: the connection pool is smaller than a worker's
threads, and its queue does not know a push from a page commit either.

The gate admits `capacity` transactions at a time (1 on SQLite, the pool's size on
PostgreSQL) in order: lease renewal first (a thread inside `first()`: a renewal that waits
past the lease's expiry loses the accounts to another worker, which the 200-account
benchmark saw as accounts handed back and forth every few seconds), then urgent work (a
thread inside `urgent()`: the daemon's pushes, webhook fetches and the webhook receiver),
then the rest; waiting threads are kept off the pool.
Other processes (a user's SQL client, a second command) are not queued here.

    gate = WriteGate(capacity=1)
    with gate.urgent():       # in the push job's thread
        with gate.held():     # Database.begin() does this
            ...
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager

FIRST, URGENT, NORMAL = 0, 1, 2


class WriteGate:
    """A reentrant (per thread) semaphore granted by (urgency, arrival)."""

    def __init__(self, capacity: int = 1) -> None:
        self.capacity = capacity
        self._cond = threading.Condition()
        self._waiting: list[tuple[int, int]] = []
        self._seq = itertools.count()
        self._holders: dict[int, int] = {}  # thread -> depth
        self._local = threading.local()

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Transactions this thread opens inside the block are served before the others."""
        with self._priority(URGENT):
            yield

    @contextmanager
    def first(self) -> Iterator[None]:
        """Transactions this thread opens inside the block are served before urgent ones."""
        with self._priority(FIRST):
            yield

    @contextmanager
    def _priority(self, level: int) -> Iterator[None]:
        before = getattr(self._local, "priority", NORMAL)
        self._local.priority = min(before, level)
        try:
            yield
        finally:
            self._local.priority = before

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the gate for one transaction (again, without waiting, if this thread holds it)."""
        me = threading.get_ident()
        with self._cond:
            if me in self._holders:
                self._holders[me] += 1
            else:
                ticket = (getattr(self._local, "priority", NORMAL), next(self._seq))
                heapq.heappush(self._waiting, ticket)
                while len(self._holders) >= self.capacity or self._waiting[0] != ticket:
                    self._cond.wait()
                heapq.heappop(self._waiting)
                self._holders[me] = 1
                self._cond.notify_all()  # the next in line may fit too
        try:
            yield
        finally:
            with self._cond:
                self._holders[me] -= 1
                if self._holders[me] == 0:
                    del self._holders[me]
                    self._cond.notify_all()

    def holders(self) -> int:
        """Threads inside the gate now, for tests and metrics."""
        with self._cond:
            return len(self._holders)
