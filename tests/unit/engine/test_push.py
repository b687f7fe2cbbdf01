"""syncd.engine.push + reconcile against the Quick Quote sandbox on loopback.

Arrange: a backfilled mirror. Act: a user's plain SQL, then `Pusher.run()`. Assert: exactly
the requests the sandbox saw, what the vendor now stores, and the outbox rows.

`Connector.marker_of` (read a create marker out of a pulled record, no request) and the
push's claim (a compare-and-set: two processes never both send one entry).

Named after the defect they guard: a pulled record carrying a waiting create's marker was
inserted as a second row because nothing read the marker out of the record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text

from syncd.canonical import Entity
from syncd.clock import FakeClock
from syncd.db.session import Database
from syncd.db.tables import change_log, conflicts, outbox
from syncd.engine.push import Pusher
from syncd.engine.runtime import Runtime
from syncd.sandbox import sandbox_class
from syncd.settings import settings_from_dict
from syncd.vendors import connector_class
from syncd.vendors.base import Connector
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


MARKER = "syncd-0123456789abcdef0123"
# where each vendor's record carries the marker its `plan_create` wrote
MARKED: dict[str, list[tuple[Entity, Any]]] = {
    "quickquote": [(Entity.PROPOSALS, {"id": 7, "tags": f"vip, syncd:{MARKER}"}),
                   (Entity.LINE_ITEMS, {"id": 8, "item_properties": [
                       {"key": "colour", "value": "red"}, {"key": "_syncd", "value": MARKER}]})],
    "strawblond": [(Entity.PROPOSALS, {"id": "x1", "custom_fields": {"syncd_ref": MARKER}}),
                   (Entity.LINE_ITEMS, {"id": "e1", "remark": f"syncd_ref:{MARKER}"})],
    "happyoffer": [(Entity.PROPOSALS, {"id": "u1", "attributes": {"external_id": MARKER}})],
    "automa": [(Entity.PROPOSALS, {"uuid": "q1", "reference_number": MARKER})],
    "offorte": [(Entity.PROPOSALS, {"id": 5, "remarks": f"internal note\nsyncd:{MARKER}"})],
}
UNMARKED: list[Any] = [None, "text", [], {}, {"tags": "vip, other"}, {"remarks": "syncd:"},
                       {"custom_fields": []}, {"attributes": {"external_id": ""}},
                       {"reference_number": "PO-1234"}, {"remark": "a note"}]


def unserved(vendor: str) -> dict[str, Any]:
    """A sandbox's account table, pointed at a loopback port nothing listens on."""
    box = sandbox_class(vendor)()
    box._base_url = "http://127.0.0.1:9"  # type: ignore[attr-defined]  # as `serve` sets it
    return box.account_entry("acct")


def connector(vendor: str) -> Connector:
    entry = unserved(vendor)
    settings = settings_from_dict({"database": {"url": "sqlite://"}, "accounts": [entry]})
    return connector_class(vendor)(settings.accounts[0])


@pytest.mark.parametrize("vendor", sorted(MARKED))
def test_marker_of_reads_the_marker_each_vendor_stores_in_the_record(vendor: str) -> None:
    found = connector(vendor)
    for entity, raw in MARKED[vendor]:
        assert found.marker_of(entity, raw) == MARKER, (entity, raw)


@pytest.mark.parametrize("vendor", sorted(MARKED))
def test_marker_of_finds_nothing_in_records_syncd_did_not_create(vendor: str) -> None:
    found = connector(vendor)
    for entity in Entity:
        for raw in UNMARKED:
            assert found.marker_of(entity, raw) is None, (entity, raw)


def test_offorte_companies_and_people_carry_no_marker_left_to_the_lookalike_search() -> None:
    found = connector("offorte")
    raw = {"id": 1, "remarks": f"syncd:{MARKER}"}
    assert found.marker_of(Entity.COMPANIES, raw) is None
    assert found.marker_of(Entity.CONTACTS, raw) is None


def test_an_entry_taken_by_one_process_is_not_taken_again_by_another(sqlite_url: str) -> None:
    entry = unserved("quickquote")
    settings = settings_from_dict({"database": {"url": sqlite_url}, "accounts": [entry]})
    clock = FakeClock()
    runtime = Runtime(settings=settings, db=Database(sqlite_url), clock=clock)
    try:
        with runtime.db.begin() as conn:
            entry_id = conn.execute(insert(outbox).values(
                account="acct", entity="proposals", row_id=1, kind="update", method="PUT",
                path="/quotes/1", body={}, fields=["title"], values={"title": "x"},
                idempotency_key="acct:k1", status="pending")).inserted_primary_key[0]
        first = Pusher(runtime, runtime.account("acct"), "one:1")
        second = Pusher(runtime, runtime.account("acct"), "two:2")
        assert first._claim(only=entry_id, owner=True) is not None
        # the other process sees a live claim: not the owner, so it leaves it
        assert second._claim(only=entry_id, owner=False) is None
        assert second._claim() is None
        with runtime.db.begin() as conn:
            row = conn.execute(select(outbox).where(outbox.c.id == entry_id)).mappings().one()
        assert (row["status"], row["claimed_by"], row["attempts"]) == ("sending", "one:1", 1)
        # as the owner after "one" died, "two" takes it at once (no 300 s wait)
        taken = second._claim(only=entry_id, owner=True)
        assert taken is not None and taken.uncertain
        # and its own live claim is never taken again by itself (a daemon's pull vs push)
        assert second._claim(only=entry_id, owner=True) is None
    finally:
        runtime.close()
        runtime.db.dispose()
