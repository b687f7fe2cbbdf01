"""syncd.engine.reconcile on its own: which outbox entries a mirror's local changes plan.

No sandbox and no request: a toy connector (declarations plus small planning hooks, not
registered) plans over a migrated mirror (SQLite, and PostgreSQL where one is available).
Rows are seeded as a pull leaves them (base == values, `sync_rev` bumped), then edited with
plain SQL the way a user does, so the change-log triggers decide what reconcile sees.
Outcomes asserted: the requests planned for each kind of local change, what waits, what
is reported instead (capability matrix, writable fields, read-only fields, refusals,
`allow_delete`), open conflicts, idempotency keys, and full-replacement updates.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, func, insert, select, text, update

from syncd.canonical import FIELDS, Entity
from syncd.db.session import Database
from syncd.db.tables import change_log, companies, conflicts, line_items, outbox, proposals
from syncd.engine.outbox import ITEMS, NO_REQUEST, OutboxEntry
from syncd.engine.reconcile import Reconciler
from syncd.engine.runtime import AccountRuntime
from syncd.engine.values import norm
from syncd.errors import VendorRefused
from syncd.settings import AccountSettings
from syncd.vendors.base import Connector, Op, Quirk, WriteRequest

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
READ_ONLY_COMPANIES = "toy companies are read-only"


class Toy(Connector):
    """A vendor taking proposal titles and statuses, line-item names and quantities."""

    vendor = "toy"
    capabilities = {
        **{(Entity.PROPOSALS, op): None for op in (Op.CREATE, Op.UPDATE, Op.DELETE, Op.STATUS)},
        **{(Entity.LINE_ITEMS, op): None for op in (Op.CREATE, Op.UPDATE, Op.DELETE)},
        **{(Entity.COMPANIES, op): READ_ONLY_COMPANIES for op in (Op.CREATE, Op.UPDATE)},
    }
    writable_fields = {Entity.PROPOSALS: frozenset({"title", "status"}),
                       Entity.LINE_ITEMS: frozenset({"name", "quantity"})}

    def create_requests(self, entity: Entity, row: dict[str, Any],
                        children: list[dict[str, Any]], marker: str) -> list[WriteRequest]:
        return [WriteRequest("POST", f"/{entity}", "create", entity,
                             json={"name": row.get("title") or row.get("name"), "ref": marker},
                             fields=("title",) if entity == Entity.PROPOSALS else ("name",))]

    def update_requests(self, entity: Entity, remote_id: str, changes: dict[str, Any],
                        row: dict[str, Any], raw: dict[str, Any],
                        children: list[dict[str, Any]]) -> list[WriteRequest]:
        if raw.get("locked"):
            raise VendorRefused(f"toy {entity} {remote_id} is locked")
        return [WriteRequest("PATCH", f"/{entity}/{remote_id}", "update", entity,
                             json=dict(changes), fields=tuple(changes))]

    def delete_requests(self, entity: Entity, remote_id: str,
                        row: dict[str, Any]) -> list[WriteRequest]:
        return [WriteRequest("DELETE", f"/{entity}/{remote_id}", "delete", entity)]


class WholeToy(Toy):
    """A vendor whose update replaces the whole proposal, line items included."""

    vendor = "wholetoy"
    quirks = frozenset({Quirk.FULL_REPLACEMENT, Quirk.ITEMS_VIA_PARENT})

    def update_requests(self, entity: Entity, remote_id: str, changes: dict[str, Any],
                        row: dict[str, Any], raw: dict[str, Any],
                        children: list[dict[str, Any]]) -> list[WriteRequest]:
        if raw.get("locked"):
            raise VendorRefused(f"toy quote {remote_id} is locked")
        content = {f: v for f, v in changes.items() if f != "status"}
        requests = []
        if content or not changes:
            body = {**raw, **content, "items": [c["name"] for c in children]}
            requests.append(WriteRequest("PUT", f"/quotes/{remote_id}", "update", entity,
                                         json=body, fields=tuple(content)))
        if "status" in changes:
            requests.append(WriteRequest("POST", f"/quotes/{remote_id}/{changes['status']}",
                                         "status", entity, fields=("status",)))
        return requests


# ---- fixtures ------------------------------------------------------------------------------
@pytest.fixture
def db(mirror_url: str) -> Iterator[Database]:
    database = Database(mirror_url)
    yield database
    database.dispose()


def account(connector: type[Connector] = Toy, **settings: Any) -> AccountRuntime:
    """The toy vendor's account (only what reconcile reads: settings and connector)."""
    config = AccountSettings(name="t", vendor="strawblond", base_url="http://127.0.0.1:9",
                             **settings)
    return AccountRuntime(config, connector(config), budget=None, client=None)  # type: ignore[arg-type]


def reconcile(db: Database, connector: type[Connector] = Toy, **settings: Any
              ) -> list[OutboxEntry]:
    with db.begin() as conn:
        return Reconciler(account(connector, **settings), NOW).run(conn)


def synced(conn: Connection, table: Any, remote_id: str, raw: Any = None,
           **values: Any) -> int:
    """A row as a pull leaves it: base == its values, `sync_rev` bumped (no change log)."""
    entity = table.name
    base = {f: norm(values.get(f)) for f in FIELDS[entity]} | {"deleted_at": None}
    row_id = conn.execute(insert(table).values(
        account="t", remote_id=remote_id, base=base, sync_rev=1,
        raw={"list": raw or {}}, **values)).inserted_primary_key[0]
    return int(row_id)


def sql(db: Database, statement: str, **params: Any) -> None:
    """What a user does in their SQL client (the triggers log it)."""
    with db.begin() as conn:
        conn.execute(text(statement), params)


def settle(db: Database, entry: OutboxEntry) -> None:
    """What a successful push does: base := values sent, `sync_rev` bumped, entry done."""
    table = {"proposals": proposals, "line_items": line_items}[entry.entity]
    with db.begin() as conn:
        row = conn.execute(select(table).where(table.c.id == entry.row_id)).mappings().one()
        conn.execute(update(table).where(table.c.id == row["id"]).values(
            base={**row["base"], **entry.values}, sync_rev=row["sync_rev"] + 1))
        conn.execute(update(outbox).where(outbox.c.idempotency_key == entry.key)
                     .values(status="done"))


def stored(db: Database) -> list[dict[str, Any]]:
    with db.begin() as conn:
        return [dict(r) for r in conn.execute(select(outbox).order_by(outbox.c.id)).mappings()]


def logged(db: Database) -> int:
    with db.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(change_log)).scalar_one())


@pytest.fixture
def quote(db: Database) -> int:
    """A synced proposal with one synced line item."""
    with db.begin() as conn:
        row_id = synced(conn, proposals, "p-1", title="Old title", status="draft")
        synced(conn, line_items, "i-1", proposal_id=row_id, position=1, name="Item",
               quantity=1)
    return row_id


# ---- what is planned for which local change ------------------------------------------------
def test_no_local_change_plans_nothing(db: Database, quote: int) -> None:
    assert reconcile(db) == [] and stored(db) == []


def test_an_update_plans_one_request_with_exactly_the_changed_field(
    db: Database, quote: int
) -> None:
    sql(db, "UPDATE proposals SET title = 'New title' WHERE id = :id", id=quote)
    (entry,) = reconcile(db)
    assert (entry.entity, entry.row_id, entry.kind, entry.status) == (
        "proposals", quote, "update", "pending")
    assert (entry.method, entry.path, entry.body) == ("PATCH", "/proposals/p-1",
                                                       {"title": "New title"})
    assert (entry.fields, entry.values) == (["title"], {"title": "New title"})
    assert logged(db) == 0, "the change-log entry is consumed with the planning"
    # the outbox stores the same entry that push reads back
    (row,) = stored(db)
    assert replace(OutboxEntry.from_row(row), id=None) == entry
    assert reconcile(db) == []


def test_a_local_insert_plans_one_create_keyed_by_its_marker(db: Database) -> None:
    sql(db, "INSERT INTO proposals (account, title) VALUES ('t', 'Made in SQL')")
    (entry,) = reconcile(db)
    assert (entry.kind, entry.method, entry.path) == ("create", "POST", "/proposals")
    assert entry.key.startswith("syncd-") and entry.body == {"name": "Made in SQL",
                                                              "ref": entry.key}
    sql(db, "UPDATE proposals SET title = 'Edited before its create was sent'")
    assert reconcile(db) == [], "one create per row; the edit follows once it is linked"


def test_a_line_item_waits_for_its_proposals_create(db: Database) -> None:
    sql(db, "INSERT INTO proposals (account, title) VALUES ('t', 'New')")
    with db.begin() as conn:
        proposal = conn.execute(select(proposals.c.id)).scalar_one()
    sql(db, "INSERT INTO line_items (account, proposal_id, name) VALUES ('t', :p, 'Line')",
        p=proposal)
    (create,) = reconcile(db)
    assert (create.entity, create.kind) == ("proposals", "create")
    assert logged(db) == 1, "the item's change-log entry stays until its proposal exists"
    with db.begin() as conn:
        conn.execute(update(proposals).values(remote_id="p-9", sync_rev=proposals.c.sync_rev + 1))
    (item,) = reconcile(db)
    assert (item.entity, item.kind, item.body["name"]) == ("line_items", "create", "Line")


def test_a_local_delete_is_skipped_unless_the_account_allows_deletes(
    db: Database, quote: int
) -> None:
    sql(db, "UPDATE proposals SET deleted_at = :now WHERE id = :id", now=NOW, id=quote)
    (skipped,) = reconcile(db)
    assert (skipped.kind, skipped.status, skipped.method) == ("delete", "skipped", NO_REQUEST)
    assert skipped.reason == "allow_delete is false for this account"
    sql(db, "UPDATE proposals SET title = 'x', deleted_at = :now WHERE id = :id", now=NOW,
        id=quote)
    (delete,) = reconcile(db, allow_delete=True)
    assert (delete.kind, delete.status, delete.method, delete.path) == (
        "delete", "pending", "DELETE", "/proposals/p-1")


def test_a_row_created_and_deleted_locally_plans_nothing(db: Database) -> None:
    sql(db, "INSERT INTO proposals (account, title, deleted_at) VALUES ('t', 'Gone', :now)",
        now=NOW)
    assert reconcile(db, allow_delete=True) == []


# ---- what the declarations refuse ---------------------------------------------------------
def test_an_operation_the_capability_matrix_refuses_is_reported_unsupported(
    db: Database
) -> None:
    with db.begin() as conn:
        company = synced(conn, companies, "c-1", name="Acme")
    sql(db, "UPDATE companies SET name = 'Acme AG' WHERE id = :id", id=company)
    sql(db, "INSERT INTO companies (account, name) VALUES ('t', 'New Co')")
    update_report, create_report = reconcile(db)
    assert (update_report.kind, update_report.status, update_report.reason) == (
        "update", "unsupported", READ_ONLY_COMPANIES)
    assert update_report.fields == ["name"]
    assert (create_report.kind, create_report.status, create_report.reason) == (
        "create", "unsupported", READ_ONLY_COMPANIES)
    assert {r["status"] for r in stored(db)} == {"unsupported"}
    assert reconcile(db) == [], "a report is not planned again"


def test_a_field_the_vendor_does_not_store_is_reported_unsupported(
    db: Database, quote: int
) -> None:
    sql(db, "UPDATE proposals SET title = 'T', currency = 'CHF' WHERE id = :id", id=quote)
    (report,) = reconcile(db)
    assert (report.status, report.method) == ("unsupported", NO_REQUEST)
    assert report.reason is not None and "currency" in report.reason
    assert report.fields == ["currency", "title"]


def test_a_read_only_field_is_reported_and_the_rest_still_planned(
    db: Database, quote: int
) -> None:
    sql(db, "UPDATE proposals SET title = 'T', url = 'https://x' WHERE id = :id", id=quote)
    report, patch = reconcile(db)
    assert (report.status, report.fields) == ("unsupported", ["url"])
    assert report.reason == "read-only fields set by the vendor: url"
    assert (patch.status, patch.fields, patch.body) == ("pending", ["title"], {"title": "T"})


def test_a_vendor_refusal_while_planning_is_reported_refused(db: Database) -> None:
    with db.begin() as conn:
        row = synced(conn, proposals, "p-2", raw={"locked": True}, title="Locked")
    sql(db, "UPDATE proposals SET title = 'T' WHERE id = :id", id=row)
    (report,) = reconcile(db)
    assert (report.status, report.reason) == ("refused", "toy proposals p-2 is locked")


def test_a_field_held_by_an_open_conflict_is_not_planned(db: Database, quote: int) -> None:
    with db.begin() as conn:
        conn.execute(insert(conflicts).values(account="t", entity="proposals", row_id=quote,
                                              field="title", status="open"))
    sql(db, "UPDATE proposals SET title = 'Mine', status = 'sent' WHERE id = :id", id=quote)
    (entry,) = reconcile(db)
    assert (entry.fields, entry.body) == (["status"], {"status": "sent"})


# ---- idempotency keys ---------------------------------------------------------------------
def test_a_replan_of_the_same_edit_keeps_its_key(db: Database, quote: int) -> None:
    sql(db, "UPDATE proposals SET title = 'Once' WHERE id = :id", id=quote)
    keys = []
    for _ in range(2):  # a reconcile whose transaction never committed (a crash)
        conn = db.engine.connect()
        trans = conn.begin()
        try:
            keys.append([e.key for e in Reconciler(account(), NOW).run(conn)])
        finally:
            trans.rollback()
            conn.close()
    assert keys[0] and keys[0] == keys[1]


def test_a_return_to_an_earlier_value_is_a_new_write_with_a_new_key(
    db: Database, quote: int
) -> None:
    keys = []
    for title in ("A", "B", "A"):
        sql(db, "UPDATE proposals SET title = :t WHERE id = :id", t=title, id=quote)
        (entry,) = reconcile(db)
        keys.append(entry.key)
        settle(db, entry)
    assert len(set(keys)) == 3
    assert [r["status"] for r in stored(db)] == ["done"] * 3


def test_a_newer_edit_of_the_same_field_supersedes_the_unsent_older_one(
    db: Database, quote: int
) -> None:
    sql(db, "UPDATE proposals SET title = 'First' WHERE id = :id", id=quote)
    reconcile(db)
    sql(db, "UPDATE proposals SET title = 'Second' WHERE id = :id", id=quote)
    reconcile(db)
    assert [(r["status"], r["body"]) for r in stored(db)] == [
        ("superseded", {"title": "First"}), ("pending", {"title": "Second"})]


# ---- full replacement: planned once, from the freshest view -------------------------------
def test_a_full_replacement_update_waits_for_push_to_plan_it_from_a_fresh_read(
    db: Database, quote: int
) -> None:
    sql(db, "UPDATE proposals SET title = 'Whole', status = 'sent' WHERE id = :id", id=quote)
    update_entry, status_entry = reconcile(db, WholeToy)
    assert (update_entry.kind, update_entry.method, update_entry.body) == (
        "update", NO_REQUEST, None)
    assert (update_entry.fields, update_entry.values) == (["title"], {"title": "Whole"})
    # a status change is a request of its own, planned at once
    assert (status_entry.kind, status_entry.path) == ("status", "/quotes/p-1/sent")
    with db.begin() as conn:
        put = Reconciler(account(WholeToy), NOW).plan_replacement(conn, update_entry)
    assert put is not None and put.key == update_entry.key
    assert (put.method, put.path, put.fields) == ("PUT", "/quotes/p-1", ["title"])
    assert put.body == {"title": "Whole", "items": ["Item"]}


def test_a_line_item_change_plans_its_proposals_rewrite_carrying_the_items(
    db: Database, quote: int
) -> None:
    sql(db, "UPDATE line_items SET quantity = 3")
    (rewrite,) = reconcile(db, WholeToy)
    assert (rewrite.entity, rewrite.row_id, rewrite.kind) == ("proposals", quote, "update")
    assert rewrite.carries_items and rewrite.fields == [ITEMS]
    with db.begin() as conn:
        put = Reconciler(account(WholeToy), NOW).plan_replacement(conn, rewrite)
    assert put is not None and put.carries_items and put.body == {"items": ["Item"]}


def test_a_full_replacement_with_nothing_left_to_send_plans_no_request(
    db: Database, quote: int
) -> None:
    sql(db, "UPDATE proposals SET title = 'Whole' WHERE id = :id", id=quote)
    (entry,) = reconcile(db, WholeToy)
    sql(db, "UPDATE proposals SET title = 'Old title' WHERE id = :id", id=quote)
    with db.begin() as conn:
        assert Reconciler(account(WholeToy), NOW).plan_replacement(conn, entry) is None


def test_a_dry_run_preview_plans_the_full_replacement_and_shows_its_refusal(
    db: Database
) -> None:
    with db.begin() as conn:
        row = synced(conn, proposals, "p-3", raw={"locked": True}, title="Locked")
        synced(conn, proposals, "p-4", title="Open")
    sql(db, "UPDATE proposals SET title = 'T'")
    conn = db.engine.connect()
    trans = conn.begin()
    try:
        refused, put = Reconciler(account(WholeToy), NOW).preview(conn)
    finally:
        trans.rollback()
        conn.close()
    assert (refused.row_id, refused.status) == (row, "refused")
    assert (put.method, put.path) == ("PUT", "/quotes/p-4")
