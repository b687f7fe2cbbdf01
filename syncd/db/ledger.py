"""The request ledger over `request_log`: every process's spending, read and written.

The HTTP layer knows only the `syncd.http.budget.RequestLedger` protocol; this is the SQL
behind it, so `syncd.http` stays free of persistence (like httpx's transports). The budget
reads the last minute back after a restart (`sent_since`); the budgeted transport reserves a
row before each request (`reserve`) and records the answer after it (`finish`), which is also
the request accounting that `syncd status` and the benchmarks count.
"""

from __future__ import annotations

from sqlalchemy import case, func, insert, select, text, update

from syncd.db.session import Database
from syncd.db.tables import request_log
from syncd.http.budget import WINDOW_SECONDS


class RequestLog:
    """`RequestLedger` over the shared `request_log` table (every process's spending)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def sent_since(self, account: str, since: float) -> list[float]:
        """Send times of the account's requests after `since`, oldest first."""
        with self.db.begin() as conn:
            return list(conn.execute(
                select(request_log.c.sent_at)
                .where(request_log.c.account == account, request_log.c.sent_at > since)
                .order_by(request_log.c.sent_at)
            ).scalars())

    def reserve(
        self, account: str, sent_at: float, method: str, endpoint: str, kind: str,
        per_minute: int, unanswered_seconds: float = 0.0,
    ) -> tuple[int | None, float]:
        """Insert the request's row unless every process together already sent `per_minute`
        requests for `account` in the 60 s before `sent_at`.

        Returns (row id, 0.0) when the row was written, else (None, seconds until the
        oldest request of the window leaves it, at least 0.01). The count and the insert
        are one transaction serialised per account (an advisory lock on PostgreSQL, the
        write lock on SQLite), so two processes never both take the last slot.

        A row without an answer (`status` NULL) counts from `sent_at + unanswered_seconds`:
        a live process answers it soon (moving `sent_at` to the answer), so the shift only
        matters for a request whose process was killed on its way, which the vendor may
        have counted that much later than its grant (found by the 4-worker benchmark: a
        slot freed 60 s after such a grant reached the vendor inside its window).
        """
        start = sent_at - WINDOW_SECONDS
        counted = case((request_log.c.status.is_(None),
                        request_log.c.sent_at + unanswered_seconds),
                       else_=request_log.c.sent_at)
        with self.db.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:a))"),
                             {"a": f"syncd-budget:{account}"})
            spent, oldest = conn.execute(
                select(func.count(), func.min(counted)).where(
                    request_log.c.account == account,
                    request_log.c.sent_at > start - unanswered_seconds, counted > start)
            ).one()
            if spent >= per_minute:
                return None, max(0.01, float(oldest) + WINDOW_SECONDS - sent_at)
            result = conn.execute(
                insert(request_log).values(
                    account=account, sent_at=sent_at, method=method, endpoint=endpoint,
                    kind=kind,
                )
            )
            return int(result.inserted_primary_key[0]), 0.0  # type: ignore[index]

    def finish(self, row_id: int, status: int, duration_ms: int, done_at: float) -> None:
        """Record the answer (-1: no answer) on the reserved row; its `sent_at` moves to
        `done_at`, because the slot counts from when the answer came back (see
        `RateBudget.settle`), for every process reading the window.
        """
        with self.db.begin() as conn:
            conn.execute(
                update(request_log)
                .where(request_log.c.id == row_id)
                .values(status=status, sent_at=done_at, duration_ms=duration_ms)
            )
