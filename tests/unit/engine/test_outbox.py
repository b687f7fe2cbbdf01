"""syncd.engine.outbox.OutboxEntry: the same request from the planner, through the outbox row,
back to push; a report carries no request; a replanned entry keeps what the outbox knows."""

from __future__ import annotations

from syncd.canonical import Entity
from syncd.engine.outbox import ITEMS, NO_REQUEST, OutboxEntry
from syncd.vendors.base import WriteRequest

REQUEST = WriteRequest("PUT", "/quotes/7", "update", Entity.PROPOSALS,
                       json={"title": "Roof", "items": [{"qty": 2}]}, params={"expand": "items"},
                       fields=("title", ITEMS))


def stored(entry: OutboxEntry, **columns: object) -> dict[str, object]:
    """The row the outbox table hands back: what `to_row` wrote plus the table's own columns."""
    return {**entry.to_row(), "id": 41, "attempts": 2, **columns}


def test_an_entry_reads_its_request_through() -> None:
    entry = OutboxEntry(REQUEST, row_id=3, key="k-3", values={"title": "Roof"})
    assert (entry.entity, entry.kind, entry.method, entry.path) == (
        Entity.PROPOSALS, "update", "PUT", "/quotes/7")
    assert entry.body == {"title": "Roof", "items": [{"qty": 2}]}
    assert entry.fields == ["title", ITEMS]
    assert entry.carries_items


def test_to_row_fills_the_outbox_columns() -> None:
    row = OutboxEntry(REQUEST, row_id=3, key="k-3", values={"title": "Roof"}).to_row()
    assert row == {"entity": "proposals", "row_id": 3, "kind": "update", "method": "PUT",
                   "path": "/quotes/7", "body": {"title": "Roof", "items": [{"qty": 2}]},
                   "params": {"expand": "items"}, "fields": ["title", ITEMS],
                   "values": {"title": "Roof"}, "idempotency_key": "k-3", "status": "pending",
                   "last_error": None}


def test_a_stored_row_reads_back_as_the_same_request() -> None:
    entry = OutboxEntry(REQUEST, row_id=3, key="k-3", values={"title": "Roof"})
    back = OutboxEntry.from_row(stored(entry))
    assert back.request == REQUEST
    assert (back.row_id, back.key, back.values, back.status) == (3, "k-3", {"title": "Roof"}, "pending")
    assert (back.id, back.attempts, back.uncertain, back.reason) == (41, 2, False, None)


def test_an_entry_left_sending_is_uncertain() -> None:
    entry = OutboxEntry(REQUEST, row_id=3, key="k-3")
    back = OutboxEntry.from_row(stored(entry, status="sending", last_error="timeout"))
    assert back.uncertain
    assert back.reason == "timeout"


def test_a_row_without_params_fields_or_values_reads_as_empty() -> None:
    row = {**stored(OutboxEntry(REQUEST, row_id=3, key="k-3")),
           "params": None, "fields": None, "values": None, "attempts": None}
    back = OutboxEntry.from_row(row)
    assert (back.request.params, back.fields, back.values, back.attempts) == (None, [], {}, 0)
    assert not back.carries_items


def test_a_report_sends_nothing_and_says_why() -> None:
    entry = OutboxEntry.report(Entity.LINE_ITEMS, 9, "update", "unsupported", "no API for it",
                               ["quantity"], {"quantity": 3}, "k-9")
    assert (entry.method, entry.path) == (NO_REQUEST, NO_REQUEST)
    assert entry.to_row()["status"] == "unsupported"
    assert entry.to_row()["last_error"] == "no API for it"
    assert entry.to_row()["body"] is None
    assert entry.fields == ["quantity"]


def test_replanned_sends_the_new_request_and_keeps_the_rest() -> None:
    entry = OutboxEntry.from_row(stored(OutboxEntry(REQUEST, row_id=3, key="k-3")))
    fresh = WriteRequest("PATCH", "/quotes/7", "update", Entity.PROPOSALS, json={"title": "Barn"},
                         fields=("title",))
    again = entry.replanned(fresh, {"title": "Barn"})
    assert again.request == fresh and again.values == {"title": "Barn"}
    assert (again.id, again.key, again.row_id, again.attempts) == (41, "k-3", 3, 2)
    assert entry.request == REQUEST  # frozen: the original is unchanged
