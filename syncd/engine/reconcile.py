"""Reconcile: turn local edits (found through the change log) into outbox entries.

Only rows named in `change_log` are looked at, so a cycle with no local change costs one
indexed query whatever the table size. For each changed row the local values are compared
with the base (last synced values); the differing fields, minus those held by an open
conflict, are planned by the connector into vendor requests and written to the outbox in
the same transaction that consumes the change-log entries. Nothing is sent here.

What the vendor cannot take (a field it does not store, a locked record, an operation it
has no API for) becomes an outbox row with status `unsupported`/`refused`/`skipped` and its
reason, shown by `syncd status`: reported, never silently dropped, never retried. The
connector's declarations (capability matrix, writable fields) are checked for every
operation by `Connector.plan_create`/`plan_update`/`plan_delete`; the status an error
gives the entry is the error class's own (`syncd.errors.outcome_of`).

A vendor whose update replaces the whole record (`Quirk.FULL_REPLACEMENT`, Automa's Put)
gets its update entry without a body here: push re-reads the record and plans the one
request from that fresh read (`plan_replacement`, the only place such a body is built).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, delete, select, update

from syncd.canonical import FIELDS, READ_ONLY_FIELDS, REFERENCES, Entity
from syncd.db.bulk import dialect_insert
from syncd.db.tables import CANONICAL_TABLES, change_log, conflicts, outbox
from syncd.engine.outbox import ITEMS, NO_REQUEST, OutboxEntry
from syncd.engine.pull import stale_view
from syncd.engine.runtime import AccountRuntime
from syncd.engine.store import chunks
from syncd.engine.values import norm
from syncd.errors import VendorRefused, VendorUnsupported, outcome_of
from syncd.vendors.base import Op, WriteRequest

PARENT_OF = {Entity.LINE_ITEMS: ("proposal_id", Entity.PROPOSALS),
             Entity.CONTACTS: ("company_id", Entity.COMPANIES)}
ORDER = (Entity.COMPANIES, Entity.CONTACTS, Entity.PROPOSALS, Entity.LINE_ITEMS)
# what planning may raise about one change: reported on the entry, never retried
PLANNING_ERRORS = (VendorUnsupported, VendorRefused)

Row = dict[str, Any]


def primary_raw(raw: Any) -> Any:
    """The vendor payload of a row: the one stream's JSON, or the dict by stream."""
    if isinstance(raw, dict) and len(raw) == 1:
        return next(iter(raw.values()))
    return raw or {}


class Reconciler:
    """Plans outbox entries for one account's local changes."""

    def __init__(self, account: AccountRuntime, now: Any) -> None:
        self.account = account
        self.connector = account.connector
        self.name = account.name
        self.now = now

    def run(self, conn: Connection) -> list[OutboxEntry]:
        """Consume this account's change-log entries; returns what was planned."""
        changed, log_ids = self._changed(conn)
        planned, deferred = self._plan_changed(conn, changed)
        self._consume(conn, log_ids, deferred)
        self._write(conn, planned)
        return planned

    def preview(self, conn: Connection) -> list[OutboxEntry]:
        """What `run` plans, each full-replacement update planned as push would plan it
        from the mirror's current view (push re-reads the record first): for
        `push --dry-run` and other probes that send nothing.
        """
        return [self.previewed(conn, entry) for entry in self.run(conn)]

    # ---- which rows changed ----------------------------------------------------------------
    def _changed(self, conn: Connection) -> tuple[dict[str, set[int]], list[int]]:
        """The changed row ids by entity, and the change-log entries naming them."""
        changed: dict[str, set[int]] = defaultdict(set)
        log_ids: list[int] = []
        for entity, table in CANONICAL_TABLES.items():
            rows = conn.execute(
                select(change_log.c.id, change_log.c.row_id)
                .join(table, table.c.id == change_log.c.row_id)
                .where(change_log.c.table_name == entity, table.c.account == self.name)
            ).all()
            for log_id, row_id in rows:
                log_ids.append(log_id)
                changed[entity].add(row_id)
        return changed, log_ids

    def _plan_changed(self, conn: Connection, changed: dict[str, set[int]]
                      ) -> tuple[list[OutboxEntry], set[tuple[str, int]]]:
        """Entries for the changed rows, parents first, and the rows that must wait."""
        planned: list[OutboxEntry] = []
        deferred: set[tuple[str, int]] = set()
        stale = stale_view(conn, self.name) if changed else False
        for entity in ORDER:
            for row_id in sorted(changed.get(entity, ())):
                # a write to an existing record waits for a view as new as one pull
                entries = None if stale and self._linked(conn, entity, row_id) else \
                    self._row(conn, entity, row_id)
                if entries is None:
                    deferred.add((entity, row_id))
                else:
                    planned.extend(entries)
        return planned, deferred

    def _consume(self, conn: Connection, log_ids: list[int],
                 deferred: set[tuple[str, int]]) -> None:
        """Delete the change-log entries planned now; those of waiting rows stay."""
        keep = set()
        if deferred:
            keep = {i for i, table, r in self._log_rows(conn, log_ids) if (table, r) in deferred}
        done = [i for i in log_ids if i not in keep]
        for part in chunks(done):
            conn.execute(delete(change_log).where(change_log.c.id.in_(part)))

    @staticmethod
    def _linked(conn: Connection, entity: str, row_id: int) -> bool:
        """Whether the row names a remote record (an update or delete, not a create)."""
        table = CANONICAL_TABLES[entity]
        return conn.execute(select(table.c.remote_id).where(
            table.c.id == row_id)).scalar() is not None

    # ---- one row ---------------------------------------------------------------------------
    def _row(self, conn: Connection, entity: str, row_id: int) -> list[OutboxEntry] | None:
        """What one row's local changes need now (None: waiting on its parent's create)."""
        row = self._load(conn, entity, row_id)
        if row is None:
            return []
        base = dict(row.get("base") or {})
        plain = self._plain(conn, entity, row)
        if row["remote_id"] is None:
            if row["deleted_at"] is not None:
                return []  # created and deleted locally before it was ever pushed
            return self._create(conn, entity, row, plain)
        if row["deleted_at"] is not None and base.get("deleted_at") is None:
            return self._delete(entity, row, plain)
        changes = self._changes(conn, entity, row, plain)
        return self._update(conn, entity, row, plain, changes) if changes else []

    @staticmethod
    def _load(conn: Connection, entity: str, row_id: int) -> Row | None:
        table = CANONICAL_TABLES[entity]
        row = conn.execute(select(table).where(table.c.id == row_id)).mappings().first()
        return None if row is None else dict(row)

    def _changes(self, conn: Connection, entity: str, row: Row, plain: Row) -> dict[str, Any]:
        """Fields whose local value differs from the base, minus those an open conflict
        holds; a reference that moved is given as the remote id of its new target.
        """
        held = {f for (f,) in conn.execute(
            select(conflicts.c.field).where(conflicts.c.entity == entity,
                                            conflicts.c.row_id == row["id"],
                                            conflicts.c.status == "open"))}
        base = row.get("base") or {}
        changes = {
            f: row.get(f) for f in FIELDS[entity]
            if norm(row.get(f)) != base.get(f) and f not in held  # unmapped field: base None
        }
        for ref in REFERENCES.get(entity, {}):
            if ref in changes:
                changes[ref] = plain.get(ref.replace("_id", "_remote_id"))
        return changes

    def _update(self, conn: Connection, entity: str, row: Row, plain: Row,
                changes: dict[str, Any]) -> list[OutboxEntry]:
        """Entries for a changed row that exists at the vendor."""
        read_only = sorted(f for f in changes if f in READ_ONLY_FIELDS)
        entries: list[OutboxEntry] = []
        if read_only:
            entries.append(self._report(entity, row, "update", "unsupported",
                                        f"read-only fields set by the vendor: "
                                        f"{', '.join(read_only)}", read_only, changes))
            changes = {f: v for f, v in changes.items() if f not in read_only}
            if not changes:
                return entries
        if entity == Entity.LINE_ITEMS and self.connector.line_items_via_parent:
            return entries + self._parent_rewrite(conn, row)
        if self.connector.refresh_before_update:
            return entries + self._replacement(conn, entity, row, plain, changes)
        return entries + self._planned_update(conn, entity, row, plain, changes)

    def _planned_update(self, conn: Connection, entity: str, row: Row, plain: Row,
                        changes: dict[str, Any]) -> list[OutboxEntry]:
        """The connector's requests for `changes`, or the report of why there are none."""
        try:
            requests = self.connector.plan_update(
                Entity(entity), row["remote_id"], changes, plain,
                primary_raw(row.get("raw")), self._children(conn, entity, row))
        except PLANNING_ERRORS as exc:
            return [self._refusal(entity, row, "update", exc, sorted(changes), changes)]
        return [self._plan(entity, row, wr, changes) for wr in requests]

    def _replacement(self, conn: Connection, entity: str, row: Row, plain: Row,
                     changes: dict[str, Any]) -> list[OutboxEntry]:
        """A full-replacement vendor: the content changes become one update entry that
        push plans from a fresh read; a status change is planned now (its own request).
        """
        refusal = self.connector.write_refusal(Entity(entity), Op.UPDATE, changes)
        if refusal:
            return [self._report(entity, row, "update", "unsupported", refusal,
                                 sorted(changes), changes)]
        content = {f: v for f, v in changes.items() if f != "status"}
        entries = [self._unplanned(entity, row, content)] if content else []
        if entries:
            try:  # what the mirror's view already refuses costs no request at push
                self.plan_replacement(conn, entries[0])
            except PLANNING_ERRORS as exc:
                entries = [self._refusal(entity, row, "update", exc, sorted(content), content)]
        if "status" in changes:
            entries += self._planned_update(conn, entity, row, plain,
                                            {"status": changes["status"]})
        return entries

    def _create(self, conn: Connection, entity: str, row: Row,
                plain: Row) -> list[OutboxEntry] | None:
        """The create of a row not yet at the vendor (None: its parent is not there yet)."""
        if self._waits_for_parent(entity, row, plain):
            return None
        if entity == Entity.LINE_ITEMS and self.connector.line_items_via_parent:
            return self._parent_rewrite(conn, row)
        if self._create_planned(conn, entity, row["id"]):
            return []  # one create per row; later edits are diffed once it has a remote id
        values = {f: row.get(f) for f in FIELDS[entity]}
        marker = f"syncd-{uuid.uuid4().hex[:20]}"
        try:
            requests = self.connector.plan_create(
                Entity(entity), plain, self._children(conn, entity, row), marker)
        except PLANNING_ERRORS as exc:
            return [self._refusal(entity, row, "create", exc, [], values)]
        entries = [self._plan(entity, row, wr, values) for wr in requests]
        if entries:
            entries[0] = replace(entries[0], key=marker)
        return entries

    @staticmethod
    def _waits_for_parent(entity: str, row: Row, plain: Row) -> bool:
        """A line item waits for its proposal's create, a contact for its company's."""
        if entity == Entity.LINE_ITEMS:
            return plain.get("proposal_remote_id") is None
        parent = PARENT_OF.get(Entity(entity))
        return bool(parent and row.get(parent[0])
                    and plain.get(parent[0].replace("_id", "_remote_id")) is None)

    def _create_planned(self, conn: Connection, entity: str, row_id: int) -> bool:
        """Whether this row's create is already in the outbox (planned, sending or done)."""
        return conn.execute(
            select(outbox.c.id).where(outbox.c.account == self.name, outbox.c.entity == entity,
                                      outbox.c.row_id == row_id, outbox.c.kind == "create",
                                      outbox.c.status.in_(("pending", "sending", "done")))
        ).first() is not None

    def _delete(self, entity: str, row: Row, plain: Row) -> list[OutboxEntry]:
        values = {"deleted_at": row["deleted_at"]}
        if not self.account.settings.allow_delete:
            return [self._report(entity, row, "delete", "skipped",
                                 "allow_delete is false for this account", ["deleted_at"], values)]
        try:
            requests = self.connector.plan_delete(Entity(entity), row["remote_id"], plain)
        except PLANNING_ERRORS as exc:
            return [self._refusal(entity, row, "delete", exc, ["deleted_at"], values)]
        return [self._plan(entity, row, wr, values) for wr in requests]

    def _parent_rewrite(self, conn: Connection, item: Row) -> list[OutboxEntry]:
        """Vendors that take line items only inside their proposal's update
        (`Quirk.ITEMS_VIA_PARENT`): the proposal's rewrite, carrying its current items.
        """
        parent = self._load(conn, Entity.PROPOSALS, item["proposal_id"])
        if parent is None or parent["remote_id"] is None:
            return []
        refusal = self.connector.write_refusal(Entity.PROPOSALS, Op.UPDATE)
        if refusal:
            return [self._report(Entity.LINE_ITEMS, item, "update", "unsupported", refusal,
                                 [], {})]
        count = len(self._children(conn, Entity.PROPOSALS, parent))
        entry = self._unplanned(Entity.PROPOSALS, parent, {ITEMS: count}, items=True)
        if self.connector.refresh_before_update:
            return [entry]  # planned by push, from a fresh read
        try:
            planned = self.plan_replacement(conn, entry)
        except PLANNING_ERRORS as exc:
            return [self._refusal(Entity.LINE_ITEMS, item, "update", exc, [], {})]
        return [planned] if planned is not None else []

    # ---- full-replacement updates: planned once, from the freshest view --------------------
    def plan_replacement(self, conn: Connection, entry: OutboxEntry) -> OutboxEntry | None:
        """The whole-record update `entry` stands for, planned from what the mirror holds
        now (push merges a fresh read of the record first): every writable content change
        of the row, plus its current line items when `entry` carries them. None when
        nothing is left to send. Planning errors propagate (the caller applies them).
        """
        row = self._load(conn, entry.entity, entry.row_id) if entry.row_id is not None else None
        if row is None or row["remote_id"] is None:
            return None
        entity = entry.entity
        plain = self._plain(conn, entity, row)
        writable = self.connector.writable_fields.get(entity, frozenset())
        changes = {f: v for f, v in self._changes(conn, entity, row, plain).items()
                   if f != "status" and f in writable and f not in READ_ONLY_FIELDS}
        if not changes and not entry.carries_items:
            return None
        children = self._children(conn, entity, row)
        requests = self.connector.plan_update(entity, row["remote_id"], changes, plain,
                                              primary_raw(row.get("raw")), children)
        request = next((r for r in requests if r.kind == "update"), None)
        if request is None:
            return None
        values = {f: norm(changes[f]) for f in request.fields if f in changes}
        if entry.carries_items:
            request = replace(request, fields=tuple(dict.fromkeys((*request.fields, ITEMS))))
            values[ITEMS] = len(children)
        return entry.replanned(request, values)

    def _unplanned(self, entity: str, row: Row, values: dict[str, Any],
                   items: bool = False) -> OutboxEntry:
        """An update entry whose request is planned later, from a fresh read."""
        fields = (*(f for f in values if f != ITEMS), *((ITEMS,) if items else ()))
        request = WriteRequest(NO_REQUEST, NO_REQUEST, "update", Entity(entity), fields=fields)
        return self._plan(entity, row, request, values)

    def previewed(self, conn: Connection, entry: OutboxEntry) -> OutboxEntry:
        """`entry`, with a full-replacement update planned from the mirror's view (what
        push would send if a fresh read found the vendor unchanged).
        """
        if not (self.connector.refresh_before_update and entry.status == "pending"
                and entry.kind == "update" and entry.method == NO_REQUEST):
            return entry
        try:
            return self.plan_replacement(conn, entry) or entry
        except PLANNING_ERRORS as exc:
            return replace(entry, status=outcome_of(exc, entry.kind), reason=str(exc))

    # ---- helpers ---------------------------------------------------------------------------
    def _plain(self, conn: Connection, entity: str, row: Row) -> Row:
        """The row for a connector: canonical values plus references as remote ids."""
        plain = {f: row.get(f) for f in FIELDS[entity]}
        plain["remote_id"] = row.get("remote_id")
        plain["id"] = row.get("id")
        refs = dict(REFERENCES.get(entity, {}))
        if entity == Entity.LINE_ITEMS:
            refs = {"proposal_id": Entity.PROPOSALS}
            plain["proposal_id"] = row.get("proposal_id")
        for column, target in refs.items():
            local = row.get(column)
            remote = None
            if local is not None:
                t = CANONICAL_TABLES[target]
                remote = conn.execute(select(t.c.remote_id).where(t.c.id == local)).scalar()
            plain[column.replace("_id", "_remote_id")] = remote
        plain.update(self._referenced(conn, entity, row))
        return plain

    @staticmethod
    def _referenced(conn: Connection, entity: str, row: Row) -> Row:
        """The referenced company/contact itself, for vendors whose writes embed it."""
        found: Row = {}
        for column, target in REFERENCES.get(entity, {}).items():
            if row.get(column) is not None:
                t = CANONICAL_TABLES[target]
                ref = conn.execute(select(t).where(t.c.id == row[column])).mappings().first()
                if ref is not None:
                    found[column.removesuffix("_id")] = {
                        **{f: ref.get(f) for f in FIELDS[target]},
                        "remote_id": ref["remote_id"], "raw": primary_raw(ref.get("raw"))}
        return found

    def _children(self, conn: Connection, entity: str, row: Row) -> list[Row]:
        if entity != Entity.PROPOSALS:
            return []
        table = CANONICAL_TABLES[Entity.LINE_ITEMS]
        items = conn.execute(
            select(table).where(table.c.proposal_id == row["id"], table.c.deleted_at.is_(None))
            .order_by(table.c.position, table.c.id)
        ).mappings()
        return [{**{f: i.get(f) for f in FIELDS[Entity.LINE_ITEMS]}, "remote_id": i["remote_id"],
                 "id": i["id"], "raw": primary_raw(i.get("raw"))} for i in items]

    def _plan(self, entity: str, row: Row, wr: WriteRequest, values: dict[str, Any]) -> OutboxEntry:
        sent = {f: norm(values.get(f)) for f in wr.fields if f in values}
        # the key names one intended write: the row's `sync_rev` (bumped by every engine
        # write, so by the settlement of each earlier push) tells A -> B -> A's third edit
        # from its first, whose key is already done; a replan of the same edit after a
        # crash (nothing settled in between) keeps its key
        digest = hashlib.sha1(
            json.dumps([entity, row["id"], row.get("sync_rev"), wr.method, wr.path, wr.json,
                        sent], default=str, sort_keys=True).encode()).hexdigest()[:24]
        request = replace(wr, entity=Entity(wr.entity or entity), json=_jsonable(wr.json))
        return OutboxEntry(request, row["id"], f"{self.name}:{digest}", sent)

    def _refusal(self, entity: str, row: Row, kind: str,
                 error: VendorUnsupported | VendorRefused, fields: list[str],
                 values: dict[str, Any]) -> OutboxEntry:
        """The report of a change planning refused; its status is the error's outcome."""
        return self._report(entity, row, kind, outcome_of(error, kind), str(error), fields,
                            values)

    def _report(self, entity: str, row: Row, kind: str, status: str, reason: str,
                fields: list[str], values: dict[str, Any]) -> OutboxEntry:
        sent = {f: norm(values.get(f)) for f in fields}
        digest = hashlib.sha1(json.dumps([entity, row["id"], kind, status, sent], default=str,
                                         sort_keys=True).encode()).hexdigest()[:24]
        return OutboxEntry.report(Entity(entity), row["id"], kind, status, reason, fields, sent,
                                  f"{self.name}:{digest}")

    @staticmethod
    def _log_rows(conn: Connection, ids: list[int]) -> list[tuple[int, str, int]]:
        """(id, table, row id) of these change-log entries."""
        out: list[tuple[int, str, int]] = []
        for part in chunks(ids):
            out.extend((r.id, r.table_name, r.row_id) for r in conn.execute(
                select(change_log.c.id, change_log.c.table_name, change_log.c.row_id)
                .where(change_log.c.id.in_(part))))
        return out

    def _write(self, conn: Connection, planned: list[OutboxEntry]) -> None:
        for entry in planned:
            if entry.status == "pending" and entry.kind == "update":
                self._supersede(conn, entry)
            stmt = dialect_insert(conn, outbox).values(
                account=self.name, **entry.to_row(), created_at=self.now, updated_at=self.now,
            ).on_conflict_do_nothing(index_elements=["idempotency_key"])
            conn.execute(stmt)

    def _supersede(self, conn: Connection, entry: OutboxEntry) -> None:
        """A newer edit of the same fields supersedes an unsent older one."""
        stale = conn.execute(
            select(outbox.c.id, outbox.c.fields).where(
                outbox.c.account == self.name, outbox.c.entity == entry.entity,
                outbox.c.row_id == entry.row_id, outbox.c.status == "pending",
                outbox.c.kind == "update", outbox.c.idempotency_key != entry.key))
        for old_id, old_fields in stale:
            if set(old_fields or []) <= set(entry.fields):
                conn.execute(update(outbox).where(outbox.c.id == old_id)
                             .values(status="superseded", updated_at=self.now))


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: norm(v)))


__all__ = ["Reconciler", "primary_raw"]
