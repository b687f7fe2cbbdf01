"""Creates exactly once: link a vendor record to the local row whose create made it.

A create carries a marker the vendor stores (Quick Quote tag / line-item property,
Happyoffer `external_id`, StrawBlond custom field / element remark, Automa reference
number, Offorte internal remarks). When the create's answer is lost, the record exists at
the vendor while the local row still has `remote_id` NULL. Two paths then meet it:

* the push, which looks the marker up (`Connector.find_by_marker`) before sending again;
* the pull, which may read the record first. Without this module it would insert it as a
  second row (the user's row keeps `remote_id` NULL, and a later retry that finds the
  marker collides with the pulled row). `AdoptingWriter` reads the marker out of each
  pulled record (`Connector.marker_of`: no request, the marker is in the record) and links
  it to the waiting row *before* the bundle is merged, so the merge updates that row.

Both settle through `link_created`: `remote_id` filled, base := the values the create
sent (the vendor's own values then arrive as ordinary remote changes, a local edit made
while the create was in flight is pushed as an update), the outbox entry `done`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from syncd.canonical import FIELDS, REFERENCES, Bundle, Entity
from syncd.db.tables import CANONICAL_TABLES, change_log, outbox
from syncd.engine.outbox import OutboxEntry
from syncd.engine.store import MirrorWriter, WriteStats
from syncd.engine.values import norm
from syncd.vendors.base import Connector

log = logging.getLogger("syncd.adopt")
ORDER = (Entity.COMPANIES, Entity.CONTACTS, Entity.PROPOSALS, Entity.LINE_ITEMS)


def retire_placeholders(conn: Connection, proposal_id: int, now: datetime) -> None:
    """Line items sent inside a proposal's create come back from the vendor with their
    own ids: the local rows that stood for them until then are marked deleted.
    """
    items = CANONICAL_TABLES[Entity.LINE_ITEMS]
    for item in conn.execute(select(items.c.id, items.c.sync_rev).where(
            items.c.proposal_id == proposal_id, items.c.remote_id.is_(None),
            items.c.deleted_at.is_(None))):
        conn.execute(update(items).where(items.c.id == item.id).values(
            deleted_at=now, sync_rev=item.sync_rev + 1))


def _referrers(entity: str) -> list[tuple[str, str]]:
    """(table, column) pairs that hold the local id of an `entity` row."""
    found = [(child, column) for child, refs in REFERENCES.items()
             for column, target in refs.items() if target == entity]
    if entity == Entity.PROPOSALS:
        found.append((Entity.LINE_ITEMS, "proposal_id"))
    return found


def _take_duplicate(conn: Connection, entity: str, account: str, remote_id: str,
                    keep: int, now: datetime) -> dict[str, Any] | None:
    """Free `remote_id` for row `keep` when another mirror row already holds it.

    That row was written by a pull before the marker was seen (Happyoffer's /offers list
    comes before the external offer that carries the marker; a path that does not adopt):
    the user's row is the one kept. Whatever points at the duplicate (line items, people,
    proposals) moves to the kept row; the duplicate is removed (retired as deleted when a
    local edit or an outbox entry names it). Returns the duplicate as it was, so its
    remote values can be merged into the kept row.
    """
    table = CANONICAL_TABLES[entity]
    found = conn.execute(select(table).where(
        table.c.account == account, table.c.remote_id == remote_id,
        table.c.id != keep)).mappings().first()
    if found is None:
        return None
    dup = dict(found)
    log.warning("account=%s %s %s was mirrored before its create marker was seen: row %s "
                "kept, row %s merged into it", account, entity, remote_id, keep, dup["id"])
    for child, column in _referrers(entity):
        ref = CANONICAL_TABLES[child]
        conn.execute(update(ref).where(ref.c[column] == dup["id"]).values(
            {column: keep, "sync_rev": ref.c.sync_rev + 1}))
    named = conn.execute(select(change_log.c.id).where(
        change_log.c.table_name == entity, change_log.c.row_id == dup["id"])).first() or \
        conn.execute(select(outbox.c.id).where(
            outbox.c.entity == entity, outbox.c.row_id == dup["id"])).first()
    if named is None:
        conn.execute(delete(table).where(table.c.id == dup["id"]))
    else:
        conn.execute(update(table).where(table.c.id == dup["id"]).values(
            remote_id=None, deleted_at=now, sync_rev=dup["sync_rev"] + 1, synced_at=now))
    return dup


def _merge_duplicate(conn: Connection, entity: str, dup: dict[str, Any], remote_id: str,
                     writer: MirrorWriter) -> None:
    """The duplicate's remote view (the fields its streams carried, their raw JSON) merged
    into the kept row as a pull would: its fingerprints say those records are current, so
    they would not be read again.
    """
    carried = [f for f in (dup.get("base") or {}) if f in FIELDS[entity]]
    fields = {f: dup.get(f) for f in carried}
    raws = list((dup.get("raw") or {}).items()) or [("", None)]
    stats = WriteStats()
    for index, (stream, raw) in enumerate(raws):
        row = {"remote_id": remote_id, **(fields if index == 0 else {})}
        if raw is not None:
            row["raw"] = raw
        writer.upsert(conn, entity, [row], stream, stats)


def link_created(conn: Connection, entry: OutboxEntry, remote_id: str,
                 now: datetime, writer: MirrorWriter | None = None) -> bool:
    """Settle a create in the caller's transaction: the row gets `remote_id` and base :=
    the values sent; the entry is `done`. False when the row is gone or already linked
    to another record (the entry is still settled: the vendor holds the record).
    `writer` merges a row that already mirrored the record (default: conflicts manual).
    """
    entity = entry.entity
    table = CANONICAL_TABLES[entity]
    linked = False
    row = conn.execute(select(table).where(table.c.id == entry.row_id)).mappings().first()
    if row is not None and row["remote_id"] in (None, remote_id):
        dup = _take_duplicate(conn, entity, row["account"], remote_id, row["id"], now)
        sent = dict(entry.values)
        base = {f: sent.get(f) for f in FIELDS[entity]}
        base["deleted_at"] = None
        conn.execute(update(table).where(table.c.id == row["id"]).values(
            remote_id=remote_id, base=base, sync_rev=row["sync_rev"] + 1, synced_at=now))
        if any(norm(row.get(f)) != base.get(f) for f in FIELDS[entity]):
            # edited again while the create was in flight: push that as an update
            conn.execute(insert(change_log).values(table_name=entity, row_id=row["id"],
                                                   op="update"))
        if entry.carries_items and entity == Entity.PROPOSALS:
            retire_placeholders(conn, row["id"], now)
        if dup is not None:
            _merge_duplicate(conn, entity, dup, remote_id,
                             writer or MirrorWriter(row["account"], "manual", now))
        linked = True
    conn.execute(update(outbox).where(outbox.c.id == entry.id).values(
        status="done", result_remote_id=remote_id, last_error=None, updated_at=now))
    return linked


def adopt_marked(conn: Connection, account: str, connector: Connector, bundle: Bundle,
                 now: datetime, writer: MirrorWriter | None = None) -> int:
    """Link every record of `bundle` that carries the marker of one of `account`'s
    unsettled creates to that create's row; returns how many were linked. Costs one
    indexed outbox query per entity that has marked records, and no request.
    """
    linked = 0
    for entity in ORDER:
        marked: dict[str, str] = {}
        for row in bundle.rows(entity):
            rid = row.get("remote_id")
            marker = connector.marker_of(entity, row.get("raw")) if rid is not None else None
            if marker:
                marked[marker] = str(rid)
        if not marked:
            continue
        entries = conn.execute(select(outbox).where(
            outbox.c.account == account, outbox.c.entity == str(entity),
            outbox.c.kind == "create", outbox.c.idempotency_key.in_(list(marked)),
            outbox.c.status != "done")).mappings().all()
        for entry in (OutboxEntry.from_row(dict(row)) for row in entries):
            if link_created(conn, entry, marked[entry.key], now, writer):
                linked += 1
                log.info("account=%s %s row %s linked to %s by its create marker",
                         account, entity, entry.row_id, marked[entry.key])
    return linked


class AdoptingWriter(MirrorWriter):
    """A MirrorWriter that first links marked records to their waiting local rows."""

    def __init__(self, account: str, connector: Connector, policy: str, now: datetime) -> None:
        super().__init__(account, policy, now, currency=connector.account.currency)
        self.connector = connector
        self.adopted = 0

    def apply(self, conn: Connection, bundle: Bundle, stream: str) -> WriteStats:
        """Adopt the marked records of the page before writing it, so they are not inserted twice."""
        self.adopted += adopt_marked(conn, self.account, self.connector, bundle, self.now, self)
        return super().apply(conn, bundle, stream)


__all__ = ["AdoptingWriter", "adopt_marked", "link_created", "retire_placeholders"]
