"""syncd.db.ledger.RequestLog: the send times the budget reads back, per account, oldest first."""

from __future__ import annotations

from sqlalchemy import insert

from syncd.db.ledger import RequestLog
from syncd.db.session import Database
from syncd.db.tables import request_log


def test_sent_since_returns_this_accounts_later_sends_oldest_first(mirror_url: str) -> None:
    db = Database(mirror_url)
    try:
        with db.begin() as conn:
            conn.execute(insert(request_log), [
                {"account": account, "sent_at": at, "method": "GET", "endpoint": "/quotes"}
                for account, at in [("a", 130.0), ("a", 100.0), ("b", 120.0), ("a", 110.0),
                                    ("a", 90.0)]])
        log = RequestLog(db)
        assert log.sent_since("a", 100.0) == [110.0, 130.0]  # strictly after `since`
        assert log.sent_since("b", 0.0) == [120.0]
        assert log.sent_since("c", 0.0) == []
    finally:
        db.dispose()
