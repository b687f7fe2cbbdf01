"""`syncd remap`: re-derive the mirror from the vendor JSON it already holds, sending nothing.

Every canonical row keeps what the vendor said under `raw[stream]`. Once a word is mapped
(`status_map`, `line_item_types`) or a connector learned a new spelling, a remap runs
each stored record through the same `map_record` a pull uses, with the current code and
settings, and writes the bundles through the same three-way merge (`MirrorWriter`):

* an unpushed local edit is not overwritten, base snapshots move exactly as a pull moves
  them (no false local change, no echo), older data never overwrites newer;
* a row pushed since its raw was read (a `done` outbox entry at or after the row's last
  engine write) is left as it is: its raw is older than its base, the next pull refreshes
  both; its drift notes still count;
* fingerprints are not touched, so the next pull still skips unchanged records;
* unresolved quarantined records are retried from `quarantine.raw` (released when they
  now map, their error updated when they still fail);
* the drift of every stream it re-read completely is replaced by what it found.

A row is remapped only when `raw[stream]` is the record the stream validated: its id by
the stream's own `id_of` must be the row's remote id, and the mapped bundle must hold that
row; any other row is counted as `skipped`, and the stream's drift is left as the pulls
wrote it. A stream whose rows store something else declares `remap_record(stored) ->
record` (Automa.Net's call log rebuilds its record from the fetched quote). Without a
detail call, the stored raw is also checked against the fingerprint stored for it; a row
whose raw differs (a connector storing part of its record: Offorte v1 companies without
their people) is remapped, but the stream's drift is not replaced (`unverified`).
A stored record that no longer maps is quarantined, as a pull would; the row stays.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Table, func, select, update

from syncd.canonical import Bundle, Entity
from syncd.db.tables import CANONICAL_TABLES, fingerprints, outbox, quarantine
from syncd.engine.collector import relaxed_collector
from syncd.engine.drift_log import DriftTally, DriftWriter
from syncd.engine.pull import map_record
from syncd.engine.quarantine_ops import hold
from syncd.engine.runtime import Runtime
from syncd.engine.store import CHUNK, MirrorWriter, WriteStats, chunks, in_list
from syncd.errors import SettingsError
from syncd.settings import AccountSettings
from syncd.vendors import connector_class
from syncd.vendors.base import Connector, StreamSpec, default_fingerprint

MAPPING_ERRORS = (ValidationError, ValueError, KeyError, TypeError, AttributeError)
ACTIONS = ("inserted", "updated", "deleted")


@dataclass
class RemapResult:
    """What a remap (or a quarantine retry) of one account did, or would do (`dry_run`)."""

    account: str
    dry_run: bool = False
    records: int = 0  # stored records re-mapped
    tables: dict[str, dict[str, int]] = field(
        default_factory=lambda: {t: dict.fromkeys(ACTIONS, 0) for t in CANONICAL_TABLES})
    conflicts: int = 0
    released: list[dict[str, Any]] = field(default_factory=list)  # quarantine entries now mapped
    held: list[dict[str, Any]] = field(default_factory=list)  # quarantine entries still failing
    quarantined: list[dict[str, Any]] = field(default_factory=list)  # stored, no longer maps
    skipped: Counter[str] = field(default_factory=Counter)  # raw is not the stream's record
    unverified: Counter[str] = field(default_factory=Counter)  # raw differs from the last read
    kept_pushed: int = 0  # rows left as they are: pushed since their raw was read
    drift: Counter[str] = field(default_factory=Counter)  # notes of what it mapped, by kind

    def changed(self) -> dict[str, int]:
        """Rows written per table (inserted + updated + deleted)."""
        return {t: sum(c.values()) for t, c in self.tables.items()}

    def as_json(self) -> dict[str, Any]:
        """The stable JSON form (`syncd remap --format json`)."""
        return {
            "account": self.account, "dry_run": self.dry_run, "records": self.records,
            "changed": self.changed(), "tables": self.tables, "conflicts": self.conflicts,
            "released": self.released, "held": self.held, "quarantined": self.quarantined,
            "skipped": dict(self.skipped), "unverified": dict(self.unverified),
            "kept_pushed": self.kept_pushed, "drift": dict(self.drift),
        }


class _CountingWriter(MirrorWriter):
    """The pull's writer, counting what it did per table (deletions included)."""

    def __init__(self, account: str, policy: str, now: datetime, result: RemapResult,
                 currency: str | None = None) -> None:
        super().__init__(account, policy, now, currency=currency)
        self.result = result

    def upsert(self, conn: Connection, entity: str, rows: list[dict[str, Any]], stream: str,
               stats: WriteStats) -> dict[str, int]:
        inserted, updated = stats.inserted, stats.updated
        known = super().upsert(conn, entity, rows, stream, stats)
        counts = self.result.tables[str(entity)]
        counts["inserted"] += stats.inserted - inserted
        counts["updated"] += stats.updated - updated
        return known

    def mark_deleted(self, conn: Connection, table: Table, rows: Sequence[Any]) -> None:
        super().mark_deleted(conn, table, rows)
        self.result.tables[table.name]["deleted"] += len(rows)


def remap_accounts(runtime: Runtime, names: Sequence[str] | None = None, *,
                   dry_run: bool = False) -> list[RemapResult]:
    """Remap the named accounts (default: all), one transaction each; no request is sent."""
    chosen = runtime.settings.selected(list(names) if names else None)
    return [_Remap(runtime, account).run(dry_run=dry_run, streams=True) for account in chosen]


def retry_quarantined(runtime: Runtime, ids: Sequence[int] | None = None, *,
                      dry_run: bool = False) -> list[RemapResult]:
    """A remap of exactly these quarantined records (default: every unresolved one of the
    configured accounts). An id that is not an unresolved entry is a usage error.
    """
    wanted = sorted(set(ids or ()))
    with runtime.db.begin() as conn:
        query = select(quarantine.c.id, quarantine.c.account).where(
            quarantine.c.resolved_at.is_(None))
        if wanted:
            query = query.where(quarantine.c.id.in_(wanted))
        found = dict(conn.execute(query).all())
    missing = [i for i in wanted if i not in found]
    if missing:
        raise SettingsError("ID", "no unresolved quarantined record with id "
                            + ", ".join(map(str, missing)))
    configured = {a.name for a in runtime.settings.accounts}
    unknown = sorted({a for a in found.values() if a not in configured})
    if wanted and unknown:
        raise SettingsError("accounts", f"no account named {unknown[0]!r} in the settings")
    by_account: dict[str, list[int]] = defaultdict(list)
    for record_id, account in found.items():
        if account in configured:
            by_account[account].append(record_id)
    return [_Remap(runtime, runtime.settings.account(name)).run(
        dry_run=dry_run, streams=False, quarantine_ids=by_account[name])
        for name in sorted(by_account)]


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _same_id(found: Any, remote_id: str) -> bool:
    """Whether an id read from a record names the row (7, "7" and 7.0 are one id)."""
    if found is None:
        return False
    if isinstance(found, float) and found.is_integer():
        found = int(found)
    return str(found).strip() == remote_id


def _fingerprint(stream: StreamSpec, record: Any) -> str | None:
    """The fingerprint a pull stores for `record` (a long key hashed, as the pull does)."""
    try:
        found = stream.fingerprint(record)
    except MAPPING_ERRORS:
        return None
    return default_fingerprint(found) if len(found) > 64 else found


def _rebuilt(rebuild: Callable[[Any], Any], stored: Any) -> Any:
    """The stream's record rebuilt from what a row stores; None when it cannot be."""
    try:
        return rebuild(stored)
    except MAPPING_ERRORS:
        return None


def _record_id(stream: StreamSpec, record: Any) -> str | None:
    try:
        return stream.id_of(record)
    except MAPPING_ERRORS:
        return None


class _Remap:
    """One account's remap inside one transaction (rolled back for a dry run)."""

    def __init__(self, runtime: Runtime, account: AccountSettings) -> None:
        self.runtime = runtime
        self.account = account
        self.name = account.name
        self.now = runtime.clock.now()
        # a connector of its own: the current settings, and no client (nothing is sent)
        self.connector: Connector = connector_class(account.vendor)(account)
        self.result = RemapResult(self.name)
        self.writer = _CountingWriter(self.name, runtime.settings.sync.conflict_policy,
                                      self.now, self.result, account.currency)
        self.tallies: dict[str, DriftTally] = {}  # streams re-read completely: replaced
        self.extra: dict[str, DriftTally] = defaultdict(DriftTally)  # released, others: added
        self.pushed: dict[tuple[str, int], datetime] = {}
        self.last_entry = 0  # the newest quarantine entry when the remap began

    def run(self, *, dry_run: bool, streams: bool,
            quarantine_ids: Sequence[int] | None = None) -> RemapResult:
        self.result.dry_run = dry_run
        with self.runtime.db.engine.connect() as conn, relaxed_collector():
            transaction = conn.begin()
            try:
                self.pushed = self._pushed(conn)
                self.last_entry = conn.execute(select(func.coalesce(
                    func.max(quarantine.c.id), 0))).scalar_one()
                if streams:
                    for stream in self.connector.streams:
                        if stream.entity in CANONICAL_TABLES:
                            self._stream(conn, stream)
                self._quarantined(conn, quarantine_ids)
                self._drift(conn)
            except BaseException:
                transaction.rollback()
                raise
            if dry_run:
                transaction.rollback()
            else:
                transaction.commit()
        return self.result

    # ---- stored records -------------------------------------------------------------------
    def _stream(self, conn: Connection, stream: StreamSpec) -> None:
        """Every live row of the stream's table that holds a record of this stream."""
        table = CANONICAL_TABLES[str(stream.entity)]
        tally = DriftTally()
        complete = True
        rebuild = stream.remap_record
        # without a detail call, the fingerprint stored is the one of the record validated
        verify = stream.detail is None and rebuild is None
        last = 0
        while True:
            rows = conn.execute(
                select(table.c.id, table.c.remote_id, table.c.raw).where(
                    table.c.account == self.name, table.c.id > last,
                    table.c.remote_id.is_not(None), table.c.deleted_at.is_(None))
                .order_by(table.c.id).limit(CHUNK)).all()
            if not rows:
                break
            last = rows[-1].id
            complete = self._chunk(conn, stream, rows, tally, verify, rebuild) and complete
        self.result.drift.update(tally.by_kind())
        if complete:
            self.tallies[stream.name] = tally

    def _chunk(self, conn: Connection, stream: StreamSpec, rows: Sequence[Any],
               tally: DriftTally, verify: bool, rebuild: Callable[[Any], Any] | None) -> bool:
        """Map one chunk of rows and write it; False when a row could not be re-read."""
        held = [r for r in rows if isinstance(r.raw, dict) and stream.name in r.raw]
        known = self._fingerprints(conn, stream, [r.remote_id for r in held]) if verify else {}
        bundle = Bundle()
        complete = True
        for row in held:
            record = row.raw[stream.name]
            if rebuild is not None:
                record = _rebuilt(rebuild, record)
            if record is None or (rebuild is None and not _same_id(
                    _record_id(stream, record), row.remote_id)):
                self.result.skipped[stream.name] += 1
                complete = False
                continue
            if verify and known.get(row.remote_id) != _fingerprint(stream, record):
                self.result.unverified[stream.name] += 1
                complete = False
            try:
                mapped, notes = map_record(self.connector, stream, record)
            except MAPPING_ERRORS as exc:
                error = f"{type(exc).__name__}: {exc}"
                hold(conn, self.name, stream.name, row.remote_id, record, error, self.now)
                self.result.quarantined.append(
                    {"stream": stream.name, "remote_id": row.remote_id, "error": error})
                continue
            if not any(r.get("remote_id") == row.remote_id
                       for r in mapped.rows(str(stream.entity))):
                self.result.skipped[stream.name] += 1
                complete = False
                continue
            self.result.records += 1
            tally.add(row.remote_id, notes)
            bundle.extend(mapped)
        self._write(conn, bundle, stream.name)
        return complete

    def _fingerprints(self, conn: Connection, stream: StreamSpec,
                      rids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for part in chunks(rids):
            found.update(conn.execute(
                select(fingerprints.c.remote_id, fingerprints.c.fingerprint).where(
                    fingerprints.c.account == self.name, fingerprints.c.stream == stream.name,
                    in_list(conn, fingerprints.c.remote_id, part))).all())
        return found

    def _write(self, conn: Connection, bundle: Bundle, stream: str) -> None:
        if not len(bundle) and not bundle.complete_line_items:
            return
        self.result.kept_pushed += self._drop_pushed(conn, bundle)
        stats = self.writer.apply(conn, bundle, stream)
        self.result.conflicts += stats.conflicts

    # ---- rows pushed since their raw was read ----------------------------------------------
    def _pushed(self, conn: Connection) -> dict[tuple[str, int], datetime]:
        """(entity, row id) -> time of the latest push the vendor accepted for that row."""
        found: dict[tuple[str, int], datetime] = {}
        for entity, row_id, at in conn.execute(
            select(outbox.c.entity, outbox.c.row_id, func.max(outbox.c.updated_at)).where(
                outbox.c.account == self.name, outbox.c.status == "done",
                outbox.c.row_id.is_not(None)).group_by(outbox.c.entity, outbox.c.row_id)
        ):
            stamp = _aware(at)
            if stamp is not None:
                found[(str(entity), int(row_id))] = stamp
        return found

    def _drop_pushed(self, conn: Connection, bundle: Bundle) -> int:
        """Take out of the bundle the rows whose raw is older than their base: pushed at or
        after the row's last engine write. A proposal taken out takes its line items; a
        parent with a child taken out no longer has its complete set of children.
        """
        if not self.pushed:
            return 0
        entities = {e for e, _ in self.pushed}
        dropped = 0
        gone: dict[str, set[str]] = {str(e): set() for e in Entity}
        for entity in (Entity.COMPANIES, Entity.CONTACTS, Entity.PROPOSALS, Entity.LINE_ITEMS):
            rows = bundle.rows(entity)
            stale = self._stale(conn, entity, rows) if entity in entities else set()
            if entity == Entity.LINE_ITEMS:
                parents = gone[Entity.PROPOSALS]
                stale |= {r["remote_id"] for r in rows if r["proposal_remote_id"] in parents}
                bundle.complete_line_items -= parents | {
                    r["proposal_remote_id"] for r in rows if r["remote_id"] in stale}
            if entity == Entity.CONTACTS:
                bundle.complete_contacts_of -= {
                    r.get("company_id") for r in rows if r["remote_id"] in stale}
            if stale:
                kept = [r for r in rows if r["remote_id"] not in stale]
                dropped += len(rows) - len(kept)
                rows[:] = kept
                gone[entity] |= stale
        return dropped

    def _stale(self, conn: Connection, entity: str, rows: list[dict[str, Any]]) -> set[str]:
        table = CANONICAL_TABLES[entity]
        stale: set[str] = set()
        for part in chunks(list({r["remote_id"] for r in rows})):
            for rid, row_id, synced_at in conn.execute(
                select(table.c.remote_id, table.c.id, table.c.synced_at).where(
                    table.c.account == self.name, in_list(conn, table.c.remote_id, part))
            ):
                pushed_at = self.pushed.get((entity, row_id))
                synced = _aware(synced_at)
                if pushed_at is not None and (synced is None or pushed_at >= synced):
                    stale.add(rid)
        return stale

    # ---- quarantined records ----------------------------------------------------------------
    def _quarantined(self, conn: Connection, ids: Sequence[int] | None) -> None:
        """Retry unresolved quarantined records (all of the account, or `ids`); entries this
        remap made itself (stored records that no longer map) are not retried again.
        """
        query = select(quarantine).where(quarantine.c.account == self.name,
                                         quarantine.c.resolved_at.is_(None),
                                         quarantine.c.id <= self.last_entry)
        if ids is not None:
            if not ids:
                return
            query = query.where(quarantine.c.id.in_(list(ids)))
        entries = [dict(r) for r in conn.execute(query.order_by(quarantine.c.id)).mappings()]
        streams = {s.name: s for s in self.connector.streams}
        bundles: dict[str, Bundle] = defaultdict(Bundle)
        for entry in entries:
            named = {"id": entry["id"], "stream": entry["stream"],
                     "remote_id": entry["remote_id"]}
            stream = streams.get(entry["stream"])
            outcome = self._retry(entry, stream)
            if isinstance(outcome, str):
                self.result.held.append({**named, "error": outcome})
                if outcome != entry["error"]:
                    conn.execute(update(quarantine).where(quarantine.c.id == entry["id"])
                                 .values(error=outcome[:4000]))
                continue
            assert stream is not None
            rid, bundle, notes = outcome
            # deleted since (the vendor no longer lists it): released, not brought back
            written = not self._deleted(conn, stream, rid)
            if written:
                bundles[stream.name].extend(bundle)
                self.extra[stream.name].add(rid, notes)
            self.result.released.append({**named, "remote_id": rid, "written": written})
            conn.execute(update(quarantine).where(quarantine.c.id == entry["id"])
                         .values(resolved_at=self.now))
        for name, bundle in bundles.items():
            self._write(conn, bundle, name)

    def _retry(self, entry: dict[str, Any],
               stream: StreamSpec | None) -> str | tuple[str, Bundle, list[Any]]:
        """(remote id, bundle, notes) when the record maps now, else why it still fails."""
        if stream is None:
            return f"{entry['stream']}: not a stream of the {self.account.vendor} connector"
        try:
            record = json.loads(entry["raw"]) if entry["raw"] is not None else None
        except ValueError:
            return str(entry["error"])  # a malformed answer: nothing to map
        rid = entry["remote_id"] or _record_id(stream, record)
        if rid is None:
            return f"{stream.name}: record without a usable id"
        try:
            bundle, notes = map_record(self.connector, stream, record)
        except MAPPING_ERRORS as exc:
            return f"{type(exc).__name__}: {exc}"
        return rid, bundle, notes

    def _deleted(self, conn: Connection, stream: StreamSpec, rid: str) -> bool:
        if stream.entity not in CANONICAL_TABLES:
            return False
        table = CANONICAL_TABLES[str(stream.entity)]
        return conn.execute(select(table.c.id).where(
            table.c.account == self.name, table.c.remote_id == rid,
            table.c.deleted_at.is_not(None))).first() is not None

    # ---- drift --------------------------------------------------------------------------------
    def _drift(self, conn: Connection) -> None:
        writer = DriftWriter(self.account, self.now)
        if self.tallies:
            writer.replace(conn, list(self.tallies), self.tallies)
        for name, tally in self.extra.items():
            if tally:
                writer.add(conn, name, tally)
        for tally in self.extra.values():
            self.result.drift.update(tally.by_kind())
