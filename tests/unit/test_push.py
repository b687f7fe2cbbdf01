"""syncd.engine.push + reconcile against the Quick Quote sandbox on loopback.

Arrange: a backfilled mirror. Act: a user's plain SQL, then `Pusher.run()`. Assert: exactly
the requests the sandbox saw, what the vendor now stores, and the outbox rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, text

from syncd.canonical import Entity
from syncd.db.tables import change_log, conflicts, outbox
from syncd.engine.push import Pusher
from syncd.engine.runtime import Runtime
from tests.connectors.standard import Case, make_case

SIZES = {"companies": 4, "proposals": 24, "max_items": 3, "seed": 5}
WRITES = ("PUT", "POST", "DELETE")


@pytest.fixture
def case(mirror_url: str, make_runtime: Callable[..., Runtime], served: Any) -> Case:
    made = make_case("quickquote", mirror_url, make_runtime, served, sizes=SIZES)
    result = made.pull()
    assert result.ok, result.errors
    made.sandbox.reset_log()
    return made


def pusher(case: Case) -> Pusher:
    return Pusher(case.runtime, case.runtime.account(case.account))


def sql(case: Case, statement: str, **params: Any) -> None:
    with case.runtime.db.begin() as conn:
        conn.execute(text(statement), params)


def proposal(case: Case, *, editable: bool = True) -> dict[str, Any]:
    editable_words = {"Created", "Sent", "Viewed"}
    rows = sorted(case.rows(Entity.PROPOSALS), key=lambda r: int(r["remote_id"]))
    return next(r for r in rows if r["remote_id"] and r["vendor_status"]
                and (r["vendor_status"] in editable_words) == editable)


def outbox_rows(case: Case) -> list[dict[str, Any]]:
    with case.runtime.db.begin() as conn:
        return [dict(r) for r in conn.execute(select(outbox).order_by(outbox.c.id)).mappings()]


def writes_seen(case: Case) -> list[Any]:
    return [r for r in case.sandbox.requests if r.method in WRITES]


def test_title_update_sends_exactly_one_put_with_only_that_field(case: Case) -> None:
    row = proposal(case)
    sql(case, "UPDATE proposals SET title = 'X' WHERE id = :id", id=row["id"])
    result = pusher(case).run()
    assert result.ok, result.refused
    assert result.done == 1
    puts = case.sandbox.seen("PUT")
    assert len(puts) == 1 and len(writes_seen(case)) == 1
    assert puts[0].path.endswith(f"/quotes/{row['remote_id']}")
    assert puts[0].json() == {"internal_notes": "X"}
    assert case.sandbox.proposal_title(row["remote_id"]) == "X"
    [entry] = outbox_rows(case)
    assert entry["status"] == "done" and entry["fields"] == ["title"]


def test_pushed_change_does_not_echo(case: Case) -> None:
    row = proposal(case)
    sql(case, "UPDATE proposals SET title = 'X' WHERE id = :id", id=row["id"])
    assert pusher(case).run().done == 1
    before = {r["id"]: r for r in case.rows(Entity.PROPOSALS)}
    case.sandbox.reset_log()

    pulled = case.pull(sweep=False)
    assert pulled.ok, pulled.errors
    again = pusher(case).run()

    assert again.planned == [] and again.sent == 0
    assert writes_seen(case) == []
    assert pulled.total("records") > 0
    writes = sum(s.writes.inserted + s.writes.deleted + s.writes.conflicts
                 for s in pulled.streams)
    assert writes == 0
    # only the pushed quote's raw JSON may be refreshed; no canonical value moves
    assert sum(s.writes.updated for s in pulled.streams) <= 1
    after = {r["id"]: r for r in case.rows(Entity.PROPOSALS)}
    canonical = ("title", "status", "total_gross", "company_id", "contact_id", "deleted_at")
    for rid, old in before.items():
        assert {k: after[rid][k] for k in canonical} == {k: old[k] for k in canonical}
    assert after[row["id"]]["title"] == "X"
    with case.runtime.db.begin() as conn:
        assert conn.execute(select(func.count()).select_from(change_log)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(conflicts)).scalar_one() == 0
    assert len(outbox_rows(case)) == 1


def test_local_delete_without_allow_delete_is_skipped(case: Case) -> None:
    row = proposal(case)
    sql(case, "UPDATE proposals SET deleted_at = CURRENT_TIMESTAMP WHERE id = :id", id=row["id"])
    result = pusher(case).run()
    assert writes_seen(case) == []
    [entry] = outbox_rows(case)
    assert entry["status"] == "skipped" and entry["kind"] == "delete"
    assert "allow_delete" in entry["last_error"]
    assert case.sandbox.proposal_title(row["remote_id"]) is not None or \
        row["remote_id"] in case.sandbox.quotes
    assert result.sent == 0
    pusher(case).run()  # reported once, never retried
    assert writes_seen(case) == [] and len(outbox_rows(case)) == 1


def test_read_only_field_is_reported_unsupported(case: Case) -> None:
    row = proposal(case)
    sql(case, "UPDATE proposals SET url = 'https://elsewhere.example' WHERE id = :id",
        id=row["id"])
    result = pusher(case).run()
    assert writes_seen(case) == []
    [entry] = outbox_rows(case)
    assert entry["status"] == "unsupported"
    assert "url" in entry["last_error"]
    assert result.sent == 0


def test_read_only_field_does_not_block_the_writable_one(case: Case) -> None:
    row = proposal(case)
    sql(case, "UPDATE proposals SET url = 'https://elsewhere.example', title = 'Y' "
              "WHERE id = :id", id=row["id"])
    pusher(case).run()
    statuses = sorted((e["status"], tuple(e["fields"])) for e in outbox_rows(case))
    assert statuses == [("done", ("title",)), ("unsupported", ("url",))]
    [put] = case.sandbox.seen("PUT")
    assert put.json() == {"internal_notes": "Y"}


def test_field_the_vendor_does_not_store_is_unsupported(case: Case) -> None:
    row = proposal(case)
    sql(case, "UPDATE proposals SET currency = 'XXX' WHERE id = :id", id=row["id"])
    pusher(case).run()
    assert writes_seen(case) == []
    [entry] = outbox_rows(case)
    assert entry["status"] == "unsupported" and "currency" in entry["last_error"]


def test_locked_quote_is_refused_without_a_request(case: Case) -> None:
    row = proposal(case, editable=False)
    sql(case, "UPDATE proposals SET title = 'late' WHERE id = :id", id=row["id"])
    result = pusher(case).run()
    assert writes_seen(case) == []
    [entry] = outbox_rows(case)
    assert entry["status"] == "refused"
    assert row["vendor_status"] in entry["last_error"]
    assert result.sent == 0


def test_dry_run_sends_and_writes_nothing(case: Case) -> None:
    row = proposal(case)
    sql(case, "UPDATE proposals SET title = 'Dry' WHERE id = :id", id=row["id"])
    plans = pusher(case).plan_only()
    assert [(p.method, p.fields) for p in plans] == [("PUT", ["title"])]
    assert plans[0].body == {"internal_notes": "Dry"}
    assert case.sandbox.requests == []
    assert outbox_rows(case) == []
    with case.runtime.db.begin() as conn:
        assert conn.execute(select(func.count()).select_from(change_log)).scalar_one() == 1
    assert pusher(case).run().done == 1  # the real push still has the change to send
    assert case.sandbox.proposal_title(row["remote_id"]) == "Dry"


def test_status_change_is_sent_in_the_vendor_word(case: Case) -> None:
    row = proposal(case)
    sql(case, "UPDATE proposals SET status = 'accepted' WHERE id = :id", id=row["id"])
    assert pusher(case).run().done == 1
    [put] = case.sandbox.seen("PUT")
    assert put.json() == {"status": "accepted"}
    assert case.sandbox.quotes[row["remote_id"]]["status"] == "Accepted"


def test_local_delete_with_allow_delete_sends_one_delete(case: Case) -> None:
    case.runtime.account(case.account).settings.allow_delete = True
    row = proposal(case)
    sql(case, "UPDATE proposals SET deleted_at = CURRENT_TIMESTAMP WHERE id = :id", id=row["id"])
    assert pusher(case).run().done == 1
    [delete] = writes_seen(case)
    assert delete.method == "DELETE" and delete.path.endswith(f"/quotes/{row['remote_id']}")
    assert row["remote_id"] not in case.sandbox.quotes
    case.sandbox.reset_log()
    assert case.pull().ok
    assert pusher(case).run().planned == []
    assert writes_seen(case) == []
    gone = next(r for r in case.rows(Entity.PROPOSALS) if r["id"] == row["id"])
    assert gone["deleted_at"] is not None
