"""syncd.engine.due: the daemon's one look for every account's due pushes and fetches, on
SQLite and PostgreSQL (rows written as a user and the engine would, accounts read back)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import insert, text

from syncd.db.session import Database
from syncd.db.tables import outbox, pending_fetches
from syncd.engine.due import due_work

NOW = 1_790_000_000.0


@pytest.fixture
def db(mirror_url: str) -> Iterator[Database]:
    database = Database(mirror_url)
    yield database
    database.dispose()


def entry(account: str, key: str, status: str, *, next_attempt_at: float | None = None,
          claimed_until: float | None = None) -> dict[str, object]:
    return {"account": account, "entity": "proposals", "row_id": 1, "kind": "update",
            "method": "PUT", "path": "/x", "idempotency_key": key, "status": status,
            "next_attempt_at": next_attempt_at, "claimed_until": claimed_until}


def test_nothing_waiting_is_nothing_due(db: Database) -> None:
    with db.begin() as conn:
        work = due_work(conn, NOW)
    assert (work.push, work.fetch) == (set(), set())


def test_a_local_insert_not_yet_reconciled_makes_its_accounts_push_due(db: Database) -> None:
    with db.begin() as conn:  # a user's INSERT: the change-log trigger records it
        conn.execute(text("INSERT INTO proposals (account, title) VALUES ('local', 'New')"))
        work = due_work(conn, NOW)
    assert work.push == {"local"}
    assert work.fetch == set()


def test_outbox_entries_are_due_only_past_their_backoff_or_expired_claim(db: Database) -> None:
    with db.begin() as conn:
        conn.execute(insert(outbox), [
            entry("new", "k1", "pending"),
            entry("retry-now", "k2", "pending", next_attempt_at=NOW - 1),
            entry("retry-later", "k3", "pending", next_attempt_at=NOW + 60),
            entry("claim-expired", "k4", "sending", claimed_until=NOW - 1),
            entry("claim-live", "k5", "sending", claimed_until=NOW + 60),
            entry("settled", "k6", "done"),
            entry("reported", "k7", "refused")])
        work = due_work(conn, NOW)
    assert work.push == {"new", "retry-now", "claim-expired"}


def test_a_queued_webhook_fetch_makes_its_accounts_fetch_due(db: Database) -> None:
    with db.begin() as conn:
        conn.execute(insert(pending_fetches), [
            {"account": "hooked", "entity": "proposals", "remote_id": str(i), "deleted": False}
            for i in range(3)])
        work = due_work(conn, NOW)
    assert work.fetch == {"hooked"}
    assert work.push == set()
