"""`Connector.marker_of` (read a create marker out of a pulled record, no request) and the
push's claim (a compare-and-set: two processes never both send one entry).

Named after the defect they guard: a pulled record carrying a waiting create's marker was
inserted as a second row because nothing read the marker out of the record.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert, select

from syncd.canonical import Entity
from syncd.clock import FakeClock
from syncd.db.session import Database
from syncd.db.tables import outbox
from syncd.engine.push import Pusher
from syncd.engine.runtime import Runtime
from syncd.sandbox import sandbox_class
from syncd.settings import settings_from_dict
from syncd.vendors import connector_class
from syncd.vendors.base import Connector

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
