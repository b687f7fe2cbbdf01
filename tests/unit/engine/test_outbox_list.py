"""syncd.engine.outbox_list: every planned write with what became of it and, for one that
will not go out, the vendor's own words (redacted)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import insert

from syncd.db.session import Database
from syncd.db.tables import outbox
from syncd.engine.outbox_list import outbox_entries, refusal_text


@pytest.mark.parametrize(("status", "last_error", "refusal"), [
    ("refused", "PUT /quotes/7: HTTP 422: title is too long", "title is too long"),
    # a connector's message may repeat the status: the text after the last one
    ("refused", "POST /offers: HTTP 400: HTTP 400: missing template", "missing template"),
    ("unsupported", "Quick Quote has no API to change a line item's tax",
     "Quick Quote has no API to change a line item's tax"),
    ("skipped", "deletion needs allow_delete = true", "deletion needs allow_delete = true"),
    ("failed", "GET /quotes/7: HTTP 503: down", "down"),
    ("refused", None, None),
    ("pending", "GET /quotes/7: HTTP 503: down", None),  # will still be sent: no refusal
    ("done", None, None),
])
def test_refusal_text(status: str, last_error: str | None, refusal: str | None) -> None:
    assert refusal_text(status, last_error) == refusal


@pytest.fixture
def db(mirror_url: str) -> Iterator[Database]:
    database = Database(mirror_url)
    with database.begin() as conn:
        conn.execute(insert(outbox), [
            {"account": account, "entity": "proposals", "row_id": row_id, "kind": "update",
             "method": "PUT", "path": f"/quotes/{row_id}", "fields": ["title"],
             "idempotency_key": f"k{row_id}", "status": status, "last_error": error}
            for account, row_id, status, error in [
                ("a", 1, "done", None),
                ("a", 2, "refused", "PUT /quotes/2?api_key=tok-1234: HTTP 422: bad tok-1234"),
                ("b", 3, "pending", None)]])
    yield database
    database.dispose()


def test_entries_are_listed_oldest_first_with_the_refusal_redacted(db: Database) -> None:
    with db.begin() as conn:
        entries = outbox_entries(conn, redact=lambda text: text.replace("tok-1234", "***"))
    assert [(e["account"], e["row_id"], e["status"]) for e in entries] == [
        ("a", 1, "done"), ("a", 2, "refused"), ("b", 3, "pending")]
    refused = entries[1]
    assert refused["last_error"] == "PUT /quotes/2?api_key=***: HTTP 422: bad ***"
    assert refused["refusal"] == "bad ***"
    assert refused["fields"] == ["title"]
    assert entries[0]["refusal"] is None and entries[0]["last_error"] is None


def test_entries_filter_by_account_and_status(db: Database) -> None:
    with db.begin() as conn:
        assert [e["row_id"] for e in outbox_entries(conn, accounts=["a"])] == [1, 2]
        assert [e["row_id"] for e in outbox_entries(conn, status="pending")] == [3]
        assert outbox_entries(conn, accounts=["b"], status="done") == []
