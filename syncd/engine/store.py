"""Writing vendor data into the mirror: bulk upserts that are also the three-way merge.

For each incoming canonical row the writer compares, field by field, the vendor's value
(remote), the mirror's value (local) and the last synced value (base, in the `base` column):

    remote == base            nothing changed remotely: keep local (maybe an unpushed edit)
    local == base             only the vendor changed it: take remote
    local == remote           both agree: just move base
    otherwise                 conflict, settled by `conflict_policy`

So a pull never overwrites an unpushed local change, and a pushed value (base == local ==
remote after the push) never comes back as a change. Rows the writer touches get
`sync_rev + 1`, which keeps the change-log triggers quiet. Unchanged rows are not written.
Older data never overwrites newer: a row whose vendor `updated_at` is older than the one in
base is skipped.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    String,
    Table,
    and_,
    any_,
    bindparam,
    cast,
    func,
    insert,
    literal_column,
    select,
    update,
)

from syncd.canonical import DEPENDANTS, FIELDS, REFERENCES, Bundle, Entity
from syncd.db.bulk import dialect_insert, insert_rows
from syncd.db.tables import CANONICAL_TABLES, change_log, conflicts, outbox, vendor_records
from syncd.engine.values import DECIMAL_FIELDS, denorm, norm, remembered_by_text

MERGE_EXTRA = ("deleted_at",)
CHUNK = 500


@dataclass
class WriteStats:
    """What one bundle did to the mirror."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    stale: int = 0
    deleted: int = 0
    conflicts: int = 0
    by_table: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, other: WriteStats) -> None:
        """Add another stream's counts, for the run's totals."""
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.stale += other.stale
        self.deleted += other.deleted
        self.conflicts += other.conflicts
        for key, value in other.by_table.items():
            self.by_table[key] += value

    @property
    def written(self) -> int:
        """How many rows the write changed."""
        return self.inserted + self.updated + self.deleted


_SCALE = Decimal("0.0001")
_EXACT = 10**11  # below this a 4-decimal amount survives the float SQLite keeps


def storable(name: str, value: Any, sqlite_real: bool) -> Any:
    """A value as the column will hand it back, so base and mirror compare equal.

    NUMERIC columns keep 4 decimals; SQLite stores NUMERIC as a REAL, so there the value is
    also passed through the float it will become (exact for amounts below ~10^11).
    """
    if name not in DECIMAL_FIELDS or value is None or isinstance(value, bool):
        return value
    return _amount_forms(_as_decimal(value), sqlite_real)[0]


def stored_forms(name: str, value: Any, sqlite_real: bool) -> tuple[Any, Any]:
    """`storable(name, value)` and its `norm` (what base holds and the merge compares).

    Together because an amount's two forms come from one remembered rounding: a backfill
    handles hundreds of thousands of amounts drawn from a few thousand distinct values.
    """
    if value is None or (type(value) is str and name not in DECIMAL_FIELDS):
        return value, value
    if name not in DECIMAL_FIELDS or isinstance(value, bool):
        return value, norm(value)
    return _amount_forms(_as_decimal(value), sqlite_real)


def _as_decimal(value: Any) -> Decimal:
    if type(value) is Decimal:  # what every mapping hands over
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


@remembered_by_text
def _amount_forms(value: Decimal, sqlite_real: bool) -> tuple[Decimal, str]:
    """`value` at the column's 4 decimals, and that amount's normalised text."""
    amount = value.quantize(_SCALE, rounding=ROUND_HALF_EVEN)
    if sqlite_real and not -_EXACT < amount < _EXACT:  # below, the float round trip is exact
        amount = Decimal(f"{float(amount):.4f}")
    return amount, norm(amount)


def merge_fields(entity: str) -> tuple[str, ...]:
    """Columns the merge compares: the canonical fields, deletion, and an item's parent."""
    extra = ("proposal_id",) if entity == Entity.LINE_ITEMS else ()
    return FIELDS[entity] + MERGE_EXTRA + extra


_EMPTY = {str(e): dict.fromkeys(merge_fields(e)) for e in Entity}
_FIELD_SETS = {str(e): frozenset(merge_fields(e)) for e in Entity}


def with_currency(row: dict[str, Any], currency: str) -> dict[str, Any]:
    """A proposal row with the account's default currency when the vendor gave none.

    Applied here, where every connector's rows enter the mirror, rather than in each
    connector: the vendors without a currency (StrawBlond, Quick Quote) are not special,
    they just leave the field empty, and the merge then treats the value as the vendor's.
    """
    return row if row.get("currency") else {**row, "currency": currency}


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    """Slices of at most `size` items, to keep statements under the database's parameter limit."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def in_list(conn: Connection, column: Any, values: Sequence[Any]) -> Any:
    """`column IN (values)` for the engine's key lookups, as one statement text whatever
    the number of values: the list travels as one JSON text parameter, read by `json_each`
    on SQLite and turned into an array for `= ANY (…)` on PostgreSQL.

    An expanding `IN (?, ?, …)` makes SQLAlchemy re-render the statement on every call,
    and a PostgreSQL array parameter is quoted element by element in Python: milliseconds
    per page in a backfill. The JSON text keeps the compiled statement cached and the
    lookups on the (account, remote_id) or primary-key index (`= ANY` of an array computed
    once, not a join the planner could misjudge on a freshly filled table).
    """
    keys = bindparam(None, json.dumps(list(values)), type_=String)
    if conn.dialect.name == "postgresql":
        elements = func.json_array_elements_text(cast(keys, JSON))
        return column == any_(func.array(select(cast(elements, column.type)).scalar_subquery()))
    return column.in_(select(literal_column("value")).select_from(func.json_each(keys)))


def insert_new(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> dict[str, int]:
    """INSERT … ON CONFLICT (account, remote_id) DO NOTHING; remote_id -> id of the rows
    inserted where the database returns them in the same round trip (PostgreSQL).
    """
    inserted = insert_rows(conn, table, rows, ("account", "remote_id"),
                           returning=("remote_id", "id"))
    return {rid: local for rid, local in inserted or ()}


class MirrorWriter:
    """Applies bundles for one account inside the caller's transaction."""

    def __init__(self, account: str, policy: str, now: datetime, *,
                 currency: str | None = None) -> None:
        self.account = account
        self.policy = policy
        self.now = now
        # the account's `currency` setting: given to proposals the vendor sends without one
        self.currency = currency
        # remote ids of rows this writer inserted: such a parent has no older children to
        # look for (a backfill then never reads back the items it has just written)
        self._inserted: dict[str, set[str]] = defaultdict(set)

    # ---- public ---------------------------------------------------------------------------
    def apply(self, conn: Connection, bundle: Bundle, stream: str) -> WriteStats:
        """Write one page's bundle into the mirror, parents first so children find their ids."""
        stats = WriteStats()
        ids: dict[str, dict[str, int]] = {}
        for entity in (Entity.COMPANIES, Entity.CONTACTS, Entity.PROPOSALS):
            rows = self._resolve(conn, entity, bundle.rows(entity), ids)
            ids[entity] = self.upsert(conn, entity, rows, stream, stats)
        items = self._resolve_items(conn, bundle.line_items, ids)
        self.upsert(conn, Entity.LINE_ITEMS, items, stream, stats)
        if bundle.complete_line_items:
            self._delete_missing_children(
                conn, Entity.LINE_ITEMS, "proposal_id", Entity.PROPOSALS,
                bundle.complete_line_items, bundle.line_items, ids, stats,
            )
        if bundle.complete_contacts_of:
            self._delete_missing_children(
                conn, Entity.CONTACTS, "company_id", Entity.COMPANIES,
                bundle.complete_contacts_of, bundle.contacts, ids, stats,
            )
        if bundle.extras:
            self._extras(conn, bundle.extras)
        return stats

    def upsert(
        self, conn: Connection, entity: str, rows: list[dict[str, Any]], stream: str,
        stats: WriteStats,
    ) -> dict[str, int]:
        """Insert new rows, merge existing ones; returns remote_id -> local id."""
        table = CANONICAL_TABLES[entity]
        if not rows:
            return {}
        incoming: dict[str, dict[str, Any]] = {}
        if entity == Entity.PROPOSALS and self.currency:
            rows = [with_currency(row, self.currency) for row in rows]
        for row in rows:
            rid = row["remote_id"]
            if rid in incoming:  # the same record twice in one bundle: merge the dicts
                incoming[rid] = {**incoming[rid], **row}
            else:
                incoming[rid] = row
        existing = self._existing(conn, table, list(incoming))
        open_conflicts = self._open_conflicts(conn, entity, [r["id"] for r in existing.values()])
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        sqlite_real = conn.dialect.name == "sqlite"
        field_set = _FIELD_SETS[entity]
        for rid, row in incoming.items():
            remote: dict[str, Any] = {}
            normal: dict[str, Any] = {}
            for name, value in row.items():
                if name not in field_set:
                    continue
                if value is None or (type(value) is str and name not in DECIMAL_FIELDS):
                    remote[name] = normal[name] = value  # most fields: nothing to convert
                else:
                    remote[name], normal[name] = stored_forms(name, value, sqlite_real)
            if "deleted_at" not in remote:
                remote["deleted_at"] = normal["deleted_at"] = None
            current = existing.get(rid)
            if current is None:
                inserts.append(self._new_row(entity, rid, remote, normal, row.get("raw"),
                                             stream))
                continue
            change = self._merge(conn, entity, current, remote, normal, row.get("raw"),
                                 stream, open_conflicts, stats)
            if change is None:
                stats.unchanged += 1
            elif isinstance(change, str):  # "stale"
                stats.stale += 1
            else:
                updates.append(change)
        known = {rid: current["id"] for rid, current in existing.items()}
        if inserts:
            known.update(insert_new(conn, table, inserts))
            self._inserted[entity].update(r["remote_id"] for r in inserts)
            stats.inserted += len(inserts)
            stats.by_table[entity] += len(inserts)
        self._bulk_update(conn, table, updates)
        stats.updated += len(updates)
        stats.by_table[entity] += len(updates)
        if entity == Entity.LINE_ITEMS:
            return {}
        missing = [rid for rid in incoming if rid not in known]
        if missing:
            known.update(self._ids(conn, table, missing))
        return known

    # ---- merge ----------------------------------------------------------------------------
    def _new_row(
        self, entity: str, rid: str, remote: dict[str, Any], normal: dict[str, Any], raw: Any,
        stream: str,
    ) -> dict[str, Any]:
        row = dict(_EMPTY[entity])
        row.update(remote)
        row["account"] = self.account
        row["remote_id"] = rid
        row["raw"] = {stream: raw} if raw is not None else {}
        row["base"] = normal
        row["sync_rev"] = 1
        row["synced_at"] = self.now
        return row

    def _merge(
        self, conn: Connection, entity: str, current: dict[str, Any], remote: dict[str, Any],
        normal: dict[str, Any], raw: Any, stream: str, open_conflicts: set[tuple[int, str]],
        stats: WriteStats,
    ) -> dict[str, Any] | str | None:
        base = dict(current.get("base") or {})
        if self._is_stale(remote, base):
            return "stale"
        values: dict[str, Any] = {}
        base_changed = False
        for name, value in remote.items():
            r, loc = normal[name], norm(current.get(name))
            b = base.get(name, loc) if name in base else loc
            if (current["id"], name) in open_conflicts and (r == b or loc == r):
                # an open conflict always shows the vendor's value of now: resolving it
                # "keep remote" must not write a value the vendor has moved on from
                if self._conflict_moved(conn, entity, current["id"], name, loc, r,
                                        open_conflicts) == "converged":
                    base[name] = r
                    base_changed = True
                continue
            if r == b:
                continue
            if loc == b:
                values[name] = value
                base[name] = r
                base_changed = True
            elif loc == r:
                base[name] = r
                base_changed = True
            else:
                winner = self._conflict(conn, entity, current, name, b, loc, r, remote,
                                        open_conflicts, stats)
                if winner == "remote":
                    values[name] = value
                    base[name] = r
                    base_changed = True
                elif winner == "local":
                    base[name] = r
                    base_changed = True
        new_raw = dict(current.get("raw") or {})
        raw_changed = False
        if raw is not None and new_raw.get(stream) != raw:
            new_raw[stream] = raw
            raw_changed = True
        if not values and not base_changed and not raw_changed:
            return None
        return {
            "_id": current["id"], **values, "base": base, "raw": new_raw,
            "sync_rev": current["sync_rev"] + 1, "synced_at": self.now,
        }

    @staticmethod
    def _is_stale(remote: dict[str, Any], base: dict[str, Any]) -> bool:
        incoming, known = remote.get("updated_at"), base.get("updated_at")
        if incoming is None or not known:
            return False
        return bool(norm(incoming) < known)

    def settle_both_changed(
        self, conn: Connection, entity: str, current: dict[str, Any], name: str, b: Any,
        loc: Any, r: Any, remote: dict[str, Any],
    ) -> str:
        """A field changed on both sides, found outside a bundle (the push's check of an
        in-doubt write): settled by the policy as a merge would; "remote", "local" or
        "manual" (an open conflict, made or updated).
        """
        open_ = {(current["id"], f) for (f,) in conn.execute(select(conflicts.c.field).where(
            conflicts.c.entity == entity, conflicts.c.row_id == current["id"],
            conflicts.c.status == "open"))}
        return self._conflict(conn, entity, current, name, b, loc, r, remote, open_,
                              WriteStats())

    def _conflict(
        self, conn: Connection, entity: str, current: dict[str, Any], name: str, b: Any, loc: Any,
        r: Any, remote: dict[str, Any], open_conflicts: set[tuple[int, str]], stats: WriteStats,
    ) -> str:
        """Settle a field changed on both sides; returns "remote", "local" or "manual"."""
        policy = self.policy
        if name in ("updated_at", "created_at"):
            return "remote"
        if policy == "newest_wins":
            local_at = conn.execute(
                select(func.max(change_log.c.changed_at)).where(
                    change_log.c.table_name == entity, change_log.c.row_id == current["id"]
                )
            ).scalar()
            remote_at = remote.get("updated_at")
            if remote_at is None or local_at is None:
                policy = "remote_wins"
            else:
                policy = "remote_wins" if norm(remote_at) >= norm(local_at) else "local_wins"
        if policy == "remote_wins":
            return "remote"
        if policy == "local_wins":
            return "local"
        key = (current["id"], name)
        if key in open_conflicts:
            conn.execute(
                update(conflicts)
                .where(conflicts.c.entity == entity, conflicts.c.row_id == current["id"],
                       conflicts.c.field == name, conflicts.c.status == "open")
                .values(remote_value=r, local_value=loc)
            )
        else:
            conn.execute(
                insert(conflicts).values(
                    account=self.account, entity=entity, row_id=current["id"],
                    remote_id=current.get("remote_id"), field=name, base_value=b,
                    local_value=loc, remote_value=r, status="open", created_at=self.now,
                )
            )
            open_conflicts.add(key)
            stats.conflicts += 1
        return "manual"

    # ---- references -----------------------------------------------------------------------
    def _resolve(
        self, conn: Connection, entity: str, rows: list[dict[str, Any]],
        ids: dict[str, dict[str, int]],
    ) -> list[dict[str, Any]]:
        """Replace remote ids in reference fields by local ids (creating stubs if unknown)."""
        refs = REFERENCES.get(entity, {})
        if not refs or not rows:
            return rows
        resolved = [dict(r) for r in rows]
        for column, target in refs.items():
            wanted = {r[column] for r in resolved if r.get(column) is not None}
            known = dict(ids.get(target, {}))
            missing = [w for w in wanted if w not in known]
            if missing:
                known.update(self._ids(conn, CANONICAL_TABLES[target], missing))
                stubs = [m for m in missing if m not in known]
                if stubs:
                    table = CANONICAL_TABLES[target]
                    conn.execute(
                        dialect_insert(conn, table).on_conflict_do_nothing(
                            index_elements=["account", "remote_id"]
                        ),
                        [{"account": self.account, "remote_id": s, "raw": {}, "base": {},
                          "sync_rev": 1, "synced_at": self.now} for s in stubs],
                    )
                    known.update(self._ids(conn, table, stubs))
            ids.setdefault(target, {}).update(known)
            for r in resolved:
                if r.get(column) is not None:
                    r[column] = known[r[column]]
        return resolved

    def _resolve_items(
        self, conn: Connection, items: list[dict[str, Any]], ids: dict[str, dict[str, int]]
    ) -> list[dict[str, Any]]:
        if not items:
            return []
        known = dict(ids.get(Entity.PROPOSALS, {}))
        wanted = {i["proposal_remote_id"] for i in items} - set(known)
        if wanted:
            known.update(self._ids(conn, CANONICAL_TABLES[Entity.PROPOSALS], list(wanted)))
        out = []
        for item in items:
            pid = known.get(item["proposal_remote_id"])
            if pid is None:
                continue
            row = item.copy()
            del row["proposal_remote_id"]
            row["proposal_id"] = pid
            out.append(row)
        return out

    def _delete_missing_children(
        self, conn: Connection, entity: str, parent_column: str, parent_entity: str,
        complete: set[str], present: list[dict[str, Any]], ids: dict[str, dict[str, int]],
        stats: WriteStats,
    ) -> None:
        """Children of a complete parent that the vendor no longer lists are deleted."""
        table = CANONICAL_TABLES[entity]
        fresh = self._inserted.get(parent_entity, set())
        known = ids.get(parent_entity, {})
        parent_ids = [known[p] for p in complete if p in known and p not in fresh]
        if not parent_ids:
            return
        keep = {r["remote_id"] for r in present}
        for part in chunks(parent_ids):
            # by parent only: with `account` in the WHERE, SQLite picks the (account,
            # remote_id) index and scans every row of the account for each page
            listed = conn.execute(
                select(table.c.id, table.c.remote_id, table.c.account).where(
                    in_list(conn, table.c[parent_column], part), table.c.deleted_at.is_(None))
            ).all()
            doomed_ids = [g.id for g in listed if g.remote_id is not None
                          and g.account == self.account and g.remote_id not in keep]
            if not doomed_ids:
                continue
            doomed = conn.execute(
                select(*deletion_columns(table)).where(in_list(conn, table.c.id, doomed_ids))
            ).all()
            stats.deleted += self.delete_rows(conn, entity, doomed)

    # ---- deletion: the one path -----------------------------------------------------------
    def delete_rows(self, conn: Connection, entity: str, rows: Sequence[Any]) -> int:
        """The one deletion operation, whichever path saw the record go (a complete pull
        or sweep, a webhook, a 404/410 on a fetch, a trashed flag, a pushed delete): mark
        `rows` deleted and, with them, the rows that exist only through them
        (`canonical.DEPENDANTS`: a proposal's line items, a company's people), `deleted_at`
        set in each row *and* in its base, so reconcile plans nothing and a later pull
        neither echoes nor resurrects them (unless the vendor lists them again).

        `rows` carry `deletion_columns`. A row the user already deleted locally keeps its
        own `deleted_at`; only its base learns it (the vendor no longer holds it either
        way, so no DELETE is planned for it). Returns the rows of `entity` written
        (dependants not counted).
        """
        if not rows:
            return 0
        table = CANONICAL_TABLES[entity]
        live = [r for r in rows if getattr(r, "deleted_at", None) is None]
        self.mark_deleted(conn, table, live)
        settled = []
        for row in rows:
            base = dict(row.base or {})
            if getattr(row, "deleted_at", None) is None or base.get("deleted_at") is not None:
                continue
            base["deleted_at"] = norm(row.deleted_at)
            settled.append({"_id": row.id, "base": base, "sync_rev": row.sync_rev + 1,
                            "synced_at": self.now})
        self._bulk_update(conn, table, settled)
        for child, column in DEPENDANTS.get(entity, ()):
            kids_table = CANONICAL_TABLES[child]
            for part in chunks([r.id for r in rows]):
                kids = conn.execute(
                    select(*deletion_columns(kids_table)).where(
                        in_list(conn, kids_table.c[column], part),
                        kids_table.c.deleted_at.is_(None), kids_table.c.remote_id.is_not(None))
                ).all()
                self.delete_rows(conn, child, kids)
        return len(live) + len(settled)

    def delete_remote_ids(self, conn: Connection, entity: str, remote_ids: Sequence[str]) -> int:
        """`delete_rows` for this account's rows of `entity` with these remote ids."""
        table = CANONICAL_TABLES[entity]
        total = 0
        for part in chunks(list(remote_ids)):
            rows = conn.execute(select(*deletion_columns(table)).where(
                table.c.account == self.account, in_list(conn, table.c.remote_id, part))).all()
            total += self.delete_rows(conn, entity, rows)
        return total

    def delete_ids(self, conn: Connection, entity: str, ids: Sequence[int]) -> int:
        """`delete_rows` for rows of `entity` by local id (a pushed delete: the row is
        already deleted locally, its dependants are not yet).
        """
        table = CANONICAL_TABLES[entity]
        total = 0
        for part in chunks(list(ids)):
            rows = conn.execute(select(*deletion_columns(table)).where(
                in_list(conn, table.c.id, part))).all()
            total += self.delete_rows(conn, entity, rows)
        return total

    def mark_deleted(self, conn: Connection, table: Table, rows: Sequence[Any]) -> None:
        """Engine-side deletion of live rows: `deleted_at` set in the row and in its base
        (the low-level step of `delete_rows`, which also takes the dependants).
        """
        if not rows:
            return
        updates = []
        for row in rows:
            base = dict(row.base or {})
            base["deleted_at"] = norm(self.now)
            updates.append({"_id": row.id, "deleted_at": self.now, "base": base,
                            "sync_rev": row.sync_rev + 1, "synced_at": self.now})
        self._bulk_update(conn, table, updates)

    def _extras(self, conn: Connection, extras: list[tuple[str, str, Any]]) -> None:
        rows = {(k, r): raw for k, r, raw in extras}
        stmt = dialect_insert(conn, vendor_records)
        stmt = stmt.on_conflict_do_update(
            index_elements=["account", "kind", "remote_id"],
            set_={"raw": stmt.excluded.raw, "updated_at": stmt.excluded.updated_at},
        )
        conn.execute(stmt, [{"account": self.account, "kind": k, "remote_id": r, "raw": raw,
                             "updated_at": self.now} for (k, r), raw in rows.items()])

    # ---- SQL helpers ----------------------------------------------------------------------
    def _existing(self, conn: Connection, table: Table, rids: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for part in chunks(rids):
            stmt = select(table).where(table.c.account == self.account,
                                       in_list(conn, table.c.remote_id, part))
            if conn.dialect.name == "postgresql":
                stmt = stmt.with_for_update()
            for row in conn.execute(stmt).mappings():
                found[row["remote_id"]] = dict(row)
        return found

    def _ids(self, conn: Connection, table: Table, rids: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for part in chunks(rids):
            for rid, local in conn.execute(
                select(table.c.remote_id, table.c.id).where(
                    table.c.account == self.account, in_list(conn, table.c.remote_id, part)
                )
            ):
                found[rid] = local
        return found

    def _conflict_moved(self, conn: Connection, entity: str, row_id: int, name: str,
                        loc: Any, r: Any, open_conflicts: set[tuple[int, str]]) -> str:
        """A record read again while a conflict holds one of its fields: the vendor's value
        went back to the base or became the local one. "converged" (both sides hold the
        same value: the conflict closes itself, and writes it held go on, to be settled
        without a request) or "open" (the conflict now shows the vendor's current value).
        Found by the convergence soak (Automa, seed 1014): a conflict kept the remote value
        of when it opened, and resolving it "keep remote" wrote that stale value into the
        mirror while the vendor held another; Automa re-reads a quote only on a new event.
        """
        where = and_(conflicts.c.entity == entity, conflicts.c.row_id == row_id,
                     conflicts.c.field == name, conflicts.c.status == "open")
        if loc != r:
            conn.execute(update(conflicts).where(where).values(remote_value=r, local_value=loc))
            return "open"
        conn.execute(update(conflicts).where(where).values(
            status="resolved", resolution="converged", resolved_at=self.now,
            remote_value=r, local_value=loc))
        open_conflicts.discard((row_id, name))
        if not any(key[0] == row_id for key in open_conflicts):
            conn.execute(update(outbox).where(
                outbox.c.entity == entity, outbox.c.row_id == row_id,
                outbox.c.status == "held").values(status="pending", last_error=None))
        return "converged"

    @staticmethod
    def _open_conflicts(conn: Connection, entity: str, row_ids: list[int]) -> set[tuple[int, str]]:
        out: set[tuple[int, str]] = set()
        for part in chunks(row_ids):
            for row_id, name in conn.execute(
                select(conflicts.c.row_id, conflicts.c.field).where(
                    and_(conflicts.c.entity == entity, conflicts.c.status == "open",
                         in_list(conn, conflicts.c.row_id, part))
                )
            ):
                out.add((row_id, name))
        return out

    @staticmethod
    def _bulk_update(conn: Connection, table: Table, updates: list[dict[str, Any]]) -> None:
        """One executemany UPDATE ... WHERE id = :_id, grouped by the set of columns changed."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for row in updates:
            groups[tuple(sorted(k for k in row if k != "_id"))].append(row)
        for columns, rows in groups.items():
            del columns  # the SET clause takes the keys of the parameter dicts
            conn.execute(update(table).where(table.c.id == bindparam("_id")), rows)


def deletion_columns(table: Table) -> tuple[Any, ...]:
    """The columns `MirrorWriter.delete_rows` needs of each row."""
    return (table.c.id, table.c.remote_id, table.c.base, table.c.sync_rev, table.c.deleted_at)


def row_values(entity: str, row: dict[str, Any]) -> dict[str, Any]:
    """Canonical field values of a mirror row, typed."""
    return {f: denorm(f, norm(row.get(f))) for f in FIELDS[entity]}
