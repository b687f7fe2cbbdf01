"""The request ledger over `request_log`: what the rate budget reads back after a restart.

The HTTP layer knows only the `syncd.http.budget.RequestLedger` protocol; this is the SQL
behind it, so `syncd.http` stays free of persistence (like httpx's transports).
"""

from __future__ import annotations

from sqlalchemy import select

from syncd.db.session import Database
from syncd.db.tables import request_log


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
