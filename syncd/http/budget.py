"""The per-account rate budget: never more than N requests in any 60-second window.

Vendors enforce "30 requests per minute" with sliding windows, so a classic token bucket
(burst N, then refill N/60 per second) could send up to 2N in one minute and earn 429s. The
budget therefore keeps the send times of the last minute — a token bucket whose tokens come
back exactly 60 s after they were spent. The times live in a `RequestLedger` (the engine's
`request_log`, which is also the request accounting), so a restarted process loads the last
minute and does not burst.

One budget per account, shared by every thread of the process that talks to the account
(pull, push, webhook fetches). Waiters are served by priority: pushes, then webhook-triggered
fetches, then pulls, then the full sweep, then the verification of snapshots (which also
asks only while spare slots remain: syncd/engine/verify.py). A 429 blocks the whole account until Retry-After.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import deque
from collections.abc import Iterable
from enum import IntEnum
from typing import Protocol

from syncd.clock import Clock

WINDOW_SECONDS = 60.0


class Priority(IntEnum):
    """Lower value is served first."""

    PUSH = 0
    WEBHOOK = 1
    PULL = 2
    SWEEP = 3
    VERIFY = 4  # re-reading records written from a snapshot: spare budget only


class RequestLedger(Protocol):
    """Where an account's sent requests are recorded, injected by whoever owns persistence
    (`syncd.db.ledger.RequestLog`), so neither the budget nor the transport writes or reads
    SQL. The ledger is shared by every process spending the account, which makes it the
    arbiter of the budget across processes; the in-process `RateBudget` only orders threads.
    """

    def sent_since(self, account: str, since: float) -> Iterable[float]:
        """Send times of the account's requests after `since`, oldest first."""
        ...

    def reserve(
        self, account: str, sent_at: float, method: str, endpoint: str, kind: str,
        per_minute: int, unanswered_seconds: float = 0.0,
    ) -> tuple[int | None, float]:
        """Record a request about to be sent, unless all processes together already sent
        `per_minute` in the window before `sent_at`: the check and the record are atomic
        per account, so two processes never both take the last slot.

        A request never answered (its process was killed while it was on its way) may
        have reached the vendor as late as `unanswered_seconds` after its `sent_at`; it
        counts from then.

        Returns (row id, 0.0) when recorded, else (None, seconds until a slot frees).
        """
        ...

    def finish(self, row_id: int, status: int, duration_ms: int, done_at: float) -> None:
        """Record the answer to a reserved request (status -1: none came); the slot then
        counts from `done_at`, the time the answer came back (see `RateBudget.settle`).
        """
        ...


class RateBudget:
    """Sliding-window budget of `per_minute` requests for one account."""

    def __init__(self, account: str, per_minute: int, clock: Clock,
                 ledger: RequestLedger | None = None):
        self.account = account
        self.per_minute = per_minute
        self.clock = clock
        self._sent: deque[float] = deque()
        self._cond = threading.Condition()
        self._waiting: list[tuple[int, int]] = []
        self._seq = itertools.count()
        self.blocked_until = 0.0
        self.ledger = ledger
        self.load()

    def load(self) -> None:
        """Take the last minute of spending from the ledger (restart without burst)."""
        if self.ledger is None:
            return
        times = self.ledger.sent_since(self.account, self.clock.time() - WINDOW_SECONDS)
        with self._cond:
            self._sent = deque(times)

    def _prune(self, now: float) -> None:
        while self._sent and self._sent[0] <= now - WINDOW_SECONDS:
            self._sent.popleft()

    def available(self) -> int:
        """Requests that could be sent right now."""
        with self._cond:
            now = self.clock.time()
            self._prune(now)
            if now < self.blocked_until:
                return 0
            return max(0, self.per_minute - len(self._sent))

    def used_last_minute(self) -> int:
        """Requests sent in the last minute, for the metrics and the request log."""
        with self._cond:
            self._prune(self.clock.time())
            return len(self._sent)

    def acquire(self, priority: Priority = Priority.PULL, stop: threading.Event | None = None) -> float:
        """Block until a request may be sent; returns the send time it was granted."""
        ticket = (int(priority), next(self._seq))
        with self._cond:
            heapq.heappush(self._waiting, ticket)
        try:
            while True:
                with self._cond:
                    now = self.clock.time()
                    self._prune(now)
                    first = self._waiting[0] == ticket
                    if first and now >= self.blocked_until and len(self._sent) < self.per_minute:
                        self._sent.append(now)
                        heapq.heappop(self._waiting)
                        self._cond.notify_all()
                        return now
                    if now < self.blocked_until:
                        wait = self.blocked_until - now
                    elif len(self._sent) >= self.per_minute:
                        wait = self._sent[0] + WINDOW_SECONDS - now
                    else:
                        wait = 0.05  # someone ahead of us is about to take the slot
                if stop is not None and stop.is_set():
                    raise InterruptedError("shutting down")
                self._sleep(max(wait, 0.001))
        except BaseException:
            with self._cond:
                if ticket in self._waiting:
                    self._waiting.remove(ticket)
                    heapq.heapify(self._waiting)
                    self._cond.notify_all()
            raise

    def settle(self, granted: float) -> float:
        """The request granted at `granted` has been answered: its slot now counts from now.

        The vendor's window starts when a request *arrives*, which is later than the grant;
        counting the slot from the answer (when the vendor has certainly counted it) means a
        slot reused 60 s later can never reach the vendor inside the same window.
        """
        now = self.clock.time()
        with self._cond:
            for index, value in enumerate(self._sent):
                if value == granted:
                    self._sent[index] = max(value, now)
                    break
        return max(granted, now)

    def _sleep(self, seconds: float) -> None:
        self.clock.sleep(min(seconds, WINDOW_SECONDS))

    def block(self, seconds: float) -> None:
        """After a 429: nobody on this account sends until `seconds` from now."""
        with self._cond:
            self.blocked_until = max(self.blocked_until, self.clock.time() + seconds)
            self._cond.notify_all()

    def seconds_until_available(self) -> float:
        """How long until a request may be sent, for the progress line's estimate."""
        with self._cond:
            now = self.clock.time()
            self._prune(now)
            if now < self.blocked_until:
                return self.blocked_until - now
            if len(self._sent) < self.per_minute:
                return 0.0
            return self._sent[0] + WINDOW_SECONDS - now
