"""Reconcile: turn local edits (found through the change log) into outbox entries.

Only rows named in `change_log` are looked at, so a cycle with no local change costs one
indexed query whatever the table size. For each changed row the local values are compared
with the base (last synced values); the differing fields, minus those held by an open
conflict, are planned by the connector into vendor requests and written to the outbox in
the same transaction that consumes the change-log entries. Nothing is sent here.

What the vendor cannot take (a field it does not store, a locked record, an operation it
has no API for) becomes an outbox row with status `unsupported`/`refused`/`skipped` and its
reason, shown by `syncd status`: reported, never silently dropped, never retried.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, select, update

from syncd.canonical import FIELDS, READ_ONLY_FIELDS, REFERENCES, Entity
from syncd.db.bulk import dialect_insert
from syncd.db.tables import CANONICAL_TABLES, change_log, conflicts, outbox
from syncd.engine.pull import stale_view
from syncd.engine.runtime import AccountRuntime
from syncd.engine.store import chunks
from syncd.engine.values import norm
from syncd.errors import VendorRefused, VendorUnsupported
from syncd.vendors.base import Op, WriteRequest

PARENT_OF = {Entity.LINE_ITEMS: ("proposal_id", Entity.PROPOSALS),
             Entity.CONTACTS: ("company_id", Entity.COMPANIES)}


@dataclass
class Planned:
    """One outbox entry as planned (also what `push --dry-run` prints)."""

    entity: str
    row_id: int
    kind: str
    method: str
    path: str
    body: Any
    fields: list[str]
    status: str = "pending"
    reason: str | None = None
    key: str = ""
    values: dict[str, Any] = field(default_factory=dict)


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

    def run(self, conn: Connection) -> list[Planned]:
        """Consume this account's change-log entries; returns what was planned."""
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
        planned: list[Planned] = []
        deferred: set[int] = set()
        stale = stale_view(conn, self.name) if changed else False
        for entity in (Entity.COMPANIES, Entity.CONTACTS, Entity.PROPOSALS, Entity.LINE_ITEMS):
            for row_id in sorted(changed.get(entity, ())):
                if stale and self._linked(conn, entity, row_id):
                    # a write to an existing record waits for a view as new as one pull
                    deferred.add(row_id)
                    continue
                plans = self._row(conn, entity, row_id)
                if plans is None:
                    deferred.add(row_id)
                    continue
                planned.extend(plans)
        keep = set()
        if deferred:
            keep = {i for i, r in self._log_rows(conn, log_ids) if r in deferred}
        done = [i for i in log_ids if i not in keep]
        for part in chunks(done):
            conn.execute(delete(change_log).where(change_log.c.id.in_(part)))
        self._write(conn, planned)
        return planned

    @staticmethod
    def _linked(conn: Connection, entity: str, row_id: int) -> bool:
        """Whether the row names a remote record (an update or delete, not a create)."""
        table = CANONICAL_TABLES[entity]
        return conn.execute(select(table.c.remote_id).where(
            table.c.id == row_id)).scalar() is not None

    # ---- one row --------------------------------------------------------------------------
    def plan_row(self, conn: Connection, entity: str, row_id: int) -> list[Planned] | None:
        """What one row's local changes need now (None: waiting on its parent's create)."""
        return self._row(conn, entity, row_id)

    def plan_items_rewrite(self, conn: Connection, proposal_id: int) -> list[Planned]:
        """The whole-proposal rewrite that carries its current line items (Automa)."""
        return self._parent_rewrite(conn, {"proposal_id": proposal_id, "id": proposal_id})

    def _row(self, conn: Connection, entity: str, row_id: int) -> list[Planned] | None:
        table = CANONICAL_TABLES[entity]
        row = conn.execute(select(table).where(table.c.id == row_id)).mappings().first()
        if row is None:
            return []
        row = dict(row)
        base = dict(row.get("base") or {})
        plain = self._plain(conn, entity, row)
        if row["remote_id"] is None:
            if row["deleted_at"] is not None:
                return []  # created and deleted locally before it was ever pushed
            return self._create(conn, entity, row, plain)
        if row["deleted_at"] is not None and base.get("deleted_at") is None:
            return self._delete(entity, row, plain)
        held = {f for (f,) in conn.execute(
            select(conflicts.c.field).where(conflicts.c.entity == entity,
                                            conflicts.c.row_id == row_id,
                                            conflicts.c.status == "open"))}
        changes = {
            f: row.get(f) for f in FIELDS[entity]
            if norm(row.get(f)) != base.get(f) and f not in held  # unmapped field: base None
        }
        # a reference that moved is sent as the remote id of its new target
        for ref in REFERENCES.get(entity, {}):
            if ref in changes:
                changes[ref] = plain.get(ref.replace("_id", "_remote_id"))
        if not changes:
            return []
        read_only = sorted(f for f in changes if f in READ_ONLY_FIELDS)
        plans: list[Planned] = []
        if read_only:
            plans.append(self._report(entity, row, "update", "unsupported",
                                      f"read-only fields set by the vendor: {', '.join(read_only)}",
                                      read_only, changes))
            changes = {f: v for f, v in changes.items() if f not in read_only}
            if not changes:
                return plans
        if entity == Entity.LINE_ITEMS and self.connector.line_items_via_parent:
            return plans + self._parent_rewrite(conn, row)
        children = self._children(conn, entity, row)
        try:
            requests = self.connector.plan_update(
                Entity(entity), row["remote_id"], changes, plain,
                primary_raw(row.get("raw")), children)
        except (VendorUnsupported, VendorRefused) as exc:
            status = "refused" if isinstance(exc, VendorRefused) else "unsupported"
            return [*plans, self._report(entity, row, "update", status, str(exc),
                                         sorted(changes), changes)]
        return plans + [self._plan(entity, row, wr, changes) for wr in requests]

    def _create(self, conn: Connection, entity: str, row: dict[str, Any],
                plain: dict[str, Any]) -> list[Planned] | None:
        parent = PARENT_OF.get(Entity(entity))
        if entity == Entity.LINE_ITEMS:
            if plain.get("proposal_remote_id") is None:
                return None  # wait until the proposal exists at the vendor
            if self.connector.line_items_via_parent:
                return self._parent_rewrite(conn, row)
        elif parent and plain.get(parent[0].replace("_id", "_remote_id")) is None and row.get(parent[0]):
            return None
        already = conn.execute(
            select(outbox.c.id).where(outbox.c.account == self.name, outbox.c.entity == entity,
                                      outbox.c.row_id == row["id"], outbox.c.kind == "create",
                                      outbox.c.status.in_(("pending", "sending", "done")))
        ).first()
        if already is not None:
            return []  # one create per row; later edits are diffed once it has a remote id
        reason = self.connector.capability(Entity(entity), Op.CREATE)
        values = {f: row.get(f) for f in FIELDS[entity]}
        if reason:
            return [self._report(entity, row, "create", "unsupported", reason, [], values)]
        marker = f"syncd-{uuid.uuid4().hex[:20]}"
        children = self._children(conn, entity, row)
        try:
            requests = self.connector.plan_create(Entity(entity), plain, children, marker)
        except (VendorUnsupported, VendorRefused) as exc:
            status = "refused" if isinstance(exc, VendorRefused) else "unsupported"
            return [self._report(entity, row, "create", status, str(exc), [], values)]
        plans = [self._plan(entity, row, wr, values) for wr in requests]
        if plans:
            plans[0].key = marker
        return plans

    def _delete(self, entity: str, row: dict[str, Any], plain: dict[str, Any]) -> list[Planned]:
        values = {"deleted_at": row["deleted_at"]}
        if not self.account.settings.allow_delete:
            return [self._report(entity, row, "delete", "skipped",
                                 "allow_delete is false for this account", ["deleted_at"], values)]
        try:
            requests = self.connector.plan_delete(Entity(entity), row["remote_id"], plain)
        except (VendorUnsupported, VendorRefused) as exc:
            status = "refused" if isinstance(exc, VendorRefused) else "unsupported"
            return [self._report(entity, row, "delete", status, str(exc), ["deleted_at"], values)]
        return [self._plan(entity, row, wr, values) for wr in requests]

    def _parent_rewrite(self, conn: Connection, item: dict[str, Any]) -> list[Planned]:
        """Vendors that take line items only as part of a whole-proposal rewrite (Automa)."""
        table = CANONICAL_TABLES[Entity.PROPOSALS]
        parent = conn.execute(select(table).where(table.c.id == item["proposal_id"])).mappings().first()
        if parent is None or parent["remote_id"] is None:
            return []
        parent = dict(parent)
        plain = self._plain(conn, Entity.PROPOSALS, parent)
        children = self._children(conn, Entity.PROPOSALS, parent)
        try:
            requests = self.connector.plan_update(
                Entity.PROPOSALS, parent["remote_id"], {"line_items": children}, plain,
                primary_raw(parent.get("raw")), children)
        except (VendorUnsupported, VendorRefused) as exc:
            status = "refused" if isinstance(exc, VendorRefused) else "unsupported"
            return [self._report(Entity.LINE_ITEMS, item, "update", status, str(exc), [], {})]
        return [self._plan(Entity.PROPOSALS, parent, wr, {"line_items": len(children)})
                for wr in requests]

    # ---- helpers --------------------------------------------------------------------------
    def _plain(self, conn: Connection, entity: str, row: dict[str, Any]) -> dict[str, Any]:
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
        # the referenced company/contact itself, for vendors whose writes embed it
        for column, target in REFERENCES.get(entity, {}).items():
            if row.get(column) is not None:
                t = CANONICAL_TABLES[target]
                ref = conn.execute(select(t).where(t.c.id == row[column])).mappings().first()
                if ref is not None:
                    plain[column.removesuffix("_id")] = {
                        **{f: ref.get(f) for f in FIELDS[target]},
                        "remote_id": ref["remote_id"], "raw": primary_raw(ref.get("raw"))}
        return plain

    def _children(self, conn: Connection, entity: str, row: dict[str, Any]) -> list[dict[str, Any]]:
        if entity != Entity.PROPOSALS:
            return []
        table = CANONICAL_TABLES[Entity.LINE_ITEMS]
        items = conn.execute(
            select(table).where(table.c.proposal_id == row["id"], table.c.deleted_at.is_(None))
            .order_by(table.c.position, table.c.id)
        ).mappings()
        return [{**{f: i.get(f) for f in FIELDS[Entity.LINE_ITEMS]}, "remote_id": i["remote_id"],
                 "id": i["id"], "raw": primary_raw(i.get("raw"))} for i in items]

    def _plan(self, entity: str, row: dict[str, Any], wr: WriteRequest,
              values: dict[str, Any]) -> Planned:
        sent = {f: norm(values.get(f)) for f in wr.fields if f in values}
        # the key names one intended write: the row's `sync_rev` (bumped by every engine
        # write, so by the settlement of each earlier push) tells A -> B -> A's third edit
        # from its first, whose key is already done; a replan of the same edit after a
        # crash (nothing settled in between) keeps its key
        digest = hashlib.sha1(
            json.dumps([entity, row["id"], row.get("sync_rev"), wr.method, wr.path, wr.json,
                        sent], default=str, sort_keys=True).encode()).hexdigest()[:24]
        return Planned(entity=str(wr.entity or entity), row_id=row["id"], kind=wr.kind,
                       method=wr.method, path=wr.path, body=_jsonable(wr.json),
                       fields=list(wr.fields), key=f"{self.name}:{digest}", values=sent)

    def _report(self, entity: str, row: dict[str, Any], kind: str, status: str, reason: str,
                fields: list[str], values: dict[str, Any]) -> Planned:
        sent = {f: norm(values.get(f)) for f in fields}
        digest = hashlib.sha1(json.dumps([entity, row["id"], kind, status, sent], default=str,
                                         sort_keys=True).encode()).hexdigest()[:24]
        return Planned(entity=entity, row_id=row["id"], kind=kind, method="-", path="-",
                       body=None, fields=fields, status=status, reason=reason,
                       key=f"{self.name}:{digest}", values=sent)

    @staticmethod
    def _log_rows(conn: Connection, ids: list[int]) -> list[tuple[int, int]]:
        out: list[tuple[int, int]] = []
        for part in chunks(ids):
            out.extend(tuple(r) for r in conn.execute(
                select(change_log.c.id, change_log.c.row_id).where(change_log.c.id.in_(part))))
        return out

    def _write(self, conn: Connection, planned: list[Planned]) -> None:
        for plan in planned:
            if plan.status == "pending" and plan.kind == "update":
                # a newer edit of the same fields supersedes an unsent older one
                stale = conn.execute(
                    select(outbox.c.id, outbox.c.fields).where(
                        outbox.c.account == self.name, outbox.c.entity == plan.entity,
                        outbox.c.row_id == plan.row_id, outbox.c.status == "pending",
                        outbox.c.kind == "update", outbox.c.idempotency_key != plan.key))
                for old_id, old_fields in stale:
                    if set(old_fields or []) <= set(plan.fields):
                        conn.execute(update(outbox).where(outbox.c.id == old_id)
                                     .values(status="superseded", updated_at=self.now))
            stmt = dialect_insert(conn, outbox).values(
                account=self.name, entity=plan.entity, row_id=plan.row_id, kind=plan.kind,
                method=plan.method, path=plan.path, body=plan.body, fields=plan.fields,
                values=plan.values, idempotency_key=plan.key, status=plan.status,
                last_error=plan.reason, created_at=self.now, updated_at=self.now,
            ).on_conflict_do_nothing(index_elements=["idempotency_key"])
            conn.execute(stmt)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=lambda v: norm(v)))


__all__ = ["Planned", "Reconciler", "primary_raw"]
