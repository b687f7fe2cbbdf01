"""The snapshot marks (`syncd.engine.unverified`) on SQLite and PostgreSQL: one per record
per account, re-marking keeps one and moves its time, clearing takes only what it names,
and the oldest marks come first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from syncd.db.session import Database
from syncd.engine import unverified

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class TestMarks:
    def test_marks_are_one_per_record_and_counted_per_account(self, mirror_db: Database) -> None:
        with mirror_db.begin() as conn:
            unverified.mark(conn, "a", "proposals", "webhook_calls", ["q1", "q2", "q1"], NOW)
            unverified.mark(conn, "b", "proposals", "webhook_calls", ["q1"], NOW)
            assert (unverified.count(conn, "a"), unverified.count(conn, "b")) == (2, 1)

    def test_re_marking_moves_the_record_behind_the_others(self, mirror_db: Database) -> None:
        with mirror_db.begin() as conn:
            unverified.mark(conn, "a", "proposals", "s", ["q1", "q2"], NOW)
            unverified.mark(conn, "a", "proposals", "s", ["q1"], NOW + timedelta(minutes=1))
            assert unverified.oldest(conn, "a", 10) == [("proposals", "q2"), ("proposals", "q1")]
            assert unverified.oldest(conn, "a", 1) == [("proposals", "q2")]

    def test_clear_takes_only_the_named_records_of_the_account(self, mirror_db: Database) -> None:
        with mirror_db.begin() as conn:
            unverified.mark(conn, "a", "proposals", "s", ["q1", "q2"], NOW)
            unverified.mark(conn, "b", "proposals", "s", ["q1"], NOW)
            unverified.clear(conn, "a", "proposals", ["q1", "never-marked"])
            assert unverified.oldest(conn, "a", 10) == [("proposals", "q2")]
            assert unverified.count(conn, "b") == 1
