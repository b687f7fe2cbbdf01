"""Push: send outbox entries to the vendor, exactly once in effect.

An entry is written (by reconcile) before it is sent, claimed before sending (`FOR UPDATE
SKIP LOCKED` on PostgreSQL, so two workers never take the same entry), and settled after
the answer in one transaction with the mirror's base update:

* success: base := the values sent (so the pull sees no change — no echo); a create fills
  `remote_id`;
* 4xx: `refused` with the vendor's message, never retried;
* 5xx / timeout / reset: retried later with backoff; after `MAX_ATTEMPTS` it is `failed`.

A create whose answer was lost (the connection dropped after the vendor processed it, or a
crash between request and commit) is looked up by its marker before it is sent again, so
the vendor never gets a duplicate. Where the vendor has no field for a marker (Offorte
companies and people), the connector searches for records holding every value sent and
the first one no mirror row holds is adopted.

A write is *in doubt* when its answer was lost (a create retrying after a transient error)
or when a killed process left it `sending`. `resolve_before_pull` settles those before an
account is pulled, whatever their backoff or claim expiry says (creates by marker, a
lookup that finds nothing sends the create again with the same marker; updates are sent
again, after a re-read where the vendor's update replaces the whole record) — but takes
another process's `sending` claim only when no other live process may hold it (the
account's lease on PostgreSQL, the daemon's lock file on SQLite).
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Connection, insert, or_, select, update

from syncd.canonical import FIELDS, REFERENCES, Entity
from syncd.db.tables import CANONICAL_TABLES, conflicts, leases, outbox, runs
from syncd.engine.adopt import AdoptingWriter, link_created, retire_placeholders
from syncd.engine.deletes import forget_fingerprints
from syncd.engine.lease import SqliteSingleton
from syncd.engine.outbox import OutboxEntry
from syncd.engine.reconcile import Reconciler
from syncd.engine.runtime import AccountRuntime, Runtime
from syncd.engine.store import MirrorWriter
from syncd.engine.values import norm
from syncd.errors import (
    BadRecord,
    Outcome,
    TransientVendorError,
    VendorError,
    VendorUnsupported,
    outcome_of,
)
from syncd.http.budget import Priority
from syncd.http.client import priority

log = logging.getLogger("syncd.push")
MAX_ATTEMPTS = 8
CLAIM_SECONDS = 300.0
def worker_id() -> str:
    """This process's name on the claims it takes, read when asked: a process forked from
    one that imported syncd (a fork server, a pre-forking supervisor) has a pid of its own,
    and a name fixed at import would let it take a dead sibling's claim for its own live one
    (found by the convergence soak: the in-doubt write of a killed sync was never resolved).
    """
    return f"{socket.gethostname()}:{os.getpid()}"
# what sending one entry may raise: the error class says what becomes of the entry
SENDING_ERRORS = (VendorError, BadRecord)


@dataclass
class PushResult:
    """What one push of an account did."""

    account: str
    planned: list[OutboxEntry] = field(default_factory=list)
    sent: int = 0
    done: int = 0
    refused: list[str] = field(default_factory=list)
    retrying: int = 0

    @property
    def ok(self) -> bool:
        """Whether the vendor accepted everything pushed (a refusal needs a person)."""
        return not self.refused


class Pusher:
    """Reconciles and pushes one account."""

    def __init__(self, runtime: Runtime, account: AccountRuntime, worker: str | None = None):
        self.runtime = runtime
        self.account = account
        self.db = runtime.db
        self.clock = runtime.clock
        self.name = account.name
        self.worker = worker or worker_id()

    def reconcile(self) -> list[OutboxEntry]:
        """Plan outbox entries for the local edits made since the last run, so push sends every change."""
        with self.db.begin() as conn:
            return Reconciler(self.account, self.clock.now()).run(conn)

    def plan_only(self) -> list[OutboxEntry]:
        """What a push would send, without writing or sending anything (`--dry-run`)."""
        conn = self.db.engine.connect()
        trans = conn.begin()
        try:
            reconciler = Reconciler(self.account, self.clock.now())
            new = reconciler.preview(conn)
            rows = conn.execute(select(outbox).where(
                outbox.c.account == self.name, outbox.c.status == "pending",
                outbox.c.idempotency_key.not_in([p.key for p in new] or ["-"]))).mappings().all()
            pending = [reconciler.previewed(conn, replace(OutboxEntry.from_row(dict(r)), reason=None))
                       for r in rows]
        finally:
            trans.rollback()
            conn.close()
        return pending + new

    def run(self, *, reconcile: bool = True, in_doubt: bool = False) -> PushResult:
        """Reconcile (unless told not to) and send every due outbox entry.

        `reconcile=False` only settles what is already in the outbox (a create whose answer
        was lost, retries): `syncd sync` does that before its pull, so the pull cannot
        mirror such a record twice, and reconciles only after the pull, so a field the
        vendor changed meanwhile becomes a conflict instead of being overwritten.
        `in_doubt=True` first settles the in-doubt writes whatever their backoff or claim
        says (`resolve_in_doubt`; the claims of a live daemon are left to it).
        """
        result = PushResult(self.name)
        started = self.clock.now()
        if in_doubt:
            doubt = self.resolve_in_doubt(owner=owns_account(self.runtime, self.name,
                                                             self.worker))
            result.sent, result.done, result.retrying = doubt.sent, doubt.done, doubt.retrying
            result.refused += doubt.refused
        result.planned = self.reconcile() if reconcile else []
        # a local change the vendor cannot take fails this run once, when it is found (the
        # outbox keeps the report; later reconciles do not plan it again)
        result.refused += [f"{p.entity} {p.row_id} {p.kind}: {p.reason}" for p in result.planned
                           if p.status in ("refused", "unsupported")]
        with priority(Priority.PUSH):
            while not self.runtime.stop.is_set():
                entry = self._claim()
                if entry is None:
                    break
                self._send(entry, result)
        if result.planned or result.sent or result.done:  # idle cycles leave no trace
            self._record_run(result, started)
        return result

    def _record_run(self, result: PushResult, started: Any) -> None:
        """One `runs` row for a push that did something."""
        with self.db.begin() as conn:
            conn.execute(insert(runs).values(
                run_id=self.worker[:40], account=self.name, kind="push", started_at=started,
                finished_at=self.clock.now(), status="ok" if result.ok else "failed",
                records=result.done, requests=result.sent,
                error="; ".join(result.refused)[:2000] or None))

    def resolve_in_doubt(self, *, owner: bool) -> PushResult:
        """Settle this account's in-doubt writes now, whatever their backoff or claim
        expiry says: creates whose answer was lost (retrying) and writes another process
        left `sending`. `owner`: no other live process may hold this account's claims
        (else only expired claims are taken, as the push loop does).
        """
        result = PushResult(self.name)
        now = self.clock.time()
        sending = (outbox.c.status == "sending") & or_(
            outbox.c.claimed_by.is_(None), outbox.c.claimed_by != self.worker)
        if not owner:
            sending = sending & (outbox.c.claimed_until < now)
        lost = ((outbox.c.status == "pending") & (outbox.c.kind == "create")
                & (outbox.c.attempts > 0))
        with self.db.begin() as conn:
            ids = list(conn.execute(select(outbox.c.id).where(
                outbox.c.account == self.name, or_(sending, lost)).order_by(outbox.c.id))
                .scalars())
        with priority(Priority.PUSH):
            for entry_id in ids:
                if self.runtime.stop.is_set():
                    break
                entry = self._claim(only=entry_id, owner=owner)
                if entry is not None:
                    self._send(entry, result)
        return result

    # ---- claiming -------------------------------------------------------------------------
    def _claim(self, only: int | None = None, owner: bool = False) -> OutboxEntry | None:
        """Take the next due entry (or entry `only`, due or not: an in-doubt write).

        The take is a compare-and-set on the status and attempt count read, so two
        processes (or a daemon's push and pull jobs) never both send one entry.
        """
        for _ in range(8):
            now = self.clock.time()
            with self.db.begin() as conn:
                stmt = (select(outbox).where(outbox.c.account == self.name,
                                             *self._claimable(now, only, owner))
                        .order_by(outbox.c.id).limit(1))
                if conn.dialect.name == "postgresql":
                    stmt = stmt.with_for_update(skip_locked=True)
                row = conn.execute(stmt).mappings().first()
                if row is None:
                    return None
                entry = OutboxEntry.from_row(dict(row))  # `uncertain`: a crash mid-send
                taken = conn.execute(update(outbox).where(
                    outbox.c.id == entry.id, outbox.c.status == entry.status,
                    outbox.c.attempts == entry.attempts).values(
                    status="sending", claimed_by=self.worker, claimed_until=now + CLAIM_SECONDS,
                    attempts=entry.attempts + 1, updated_at=self.clock.now())).rowcount
            if taken:
                return entry
            if only is not None:
                return None
        return None

    def _claimable(self, now: float, only: int | None, owner: bool) -> list[Any]:
        """Which entries a claim may take: due ones, or entry `only` whatever its backoff
        (another process's live claim only when `owner`).
        """
        if only is None:
            return [or_(outbox.c.status == "pending",
                        (outbox.c.status == "sending") & (outbox.c.claimed_until < now)),
                    or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now)]
        others = or_(outbox.c.claimed_by.is_(None), outbox.c.claimed_by != self.worker)
        if not owner:
            others = others & (outbox.c.claimed_until < now)
        return [outbox.c.id == only,
                or_(outbox.c.status == "pending", (outbox.c.status == "sending") & others)]

    # ---- sending --------------------------------------------------------------------------
    def _send(self, entry: OutboxEntry, result: PushResult) -> None:
        """Send one claimed entry and settle it; an error settles it as its class says."""
        held = self._held_by_conflict(entry)
        if held:
            self._fail(entry, "held", f"open conflict on {', '.join(held)}: settle it with "
                                      "`syncd conflicts resolve` first")
            return
        try:
            ready = self._prepared(entry, result)
            if ready is not None:
                self._deliver(ready, result)
        except SENDING_ERRORS as exc:
            self._settle_error(entry, exc, result)

    def _prepared(self, entry: OutboxEntry, result: PushResult) -> OutboxEntry | None:
        """The entry as it must be sent now, or None when it is settled without a request:
        a full-replacement update is planned from a fresh read; an update in doubt that
        already landed (or lost to a remote edit) and a create in doubt whose record is
        found are settled as they are.
        """
        connector = self.account.connector
        if entry.kind in ("update", "status"):
            verdict = self._mirror_verdict(entry)
            if verdict == "landed":
                self._settle(entry)
                result.done += 1
                return None
            if verdict == "superseded":
                self._fail(entry, verdict, "the mirror no longer holds these values (a later "
                                           "edit or a merge of the vendor's replaced them)")
                return None
        if entry.kind == "update" and connector.refresh_before_update:
            read = None
            if entry.attempts > 0 or entry.uncertain:
                verdict, read = self._set_back_before_refresh(entry)
                if verdict == "landed":
                    # the earlier attempt arrived: the base moves to it first, so a local
                    # edit made since is planned against it instead of merged away
                    with self.db.begin() as conn:
                        self._base_update(conn, entry)
                elif verdict != "send":
                    self._fail(entry, verdict, "the vendor's user set these fields back since "
                                               "this write was sent: merged as a pull merges")
                    return None
            fresh = self._refreshed(entry, read)
            if fresh is None:
                result.done += 1
            return fresh
        in_doubt = entry.attempts > 0 or entry.uncertain
        if entry.kind in ("update", "status") and not connector.refresh_before_update \
                and in_doubt:
            verdict = self._verify_in_doubt(entry)
            if verdict == "landed":
                self._settle(entry)
                result.done += 1
            elif verdict != "send":
                self._fail(entry, verdict, "the vendor changed these fields after this "
                                           "write was planned: merged as a pull merges")
            return entry if verdict == "send" else None
        if entry.kind == "create" and in_doubt:
            found = self._created_before(entry)
            if found:
                self._settle_create(entry, found)
                result.done += 1
                return None
        return entry

    def _created_before(self, entry: OutboxEntry) -> str | None:
        """The record an earlier attempt of this create made: by its marker, else the
        first lookalike no mirror row holds.
        """
        connector, client = self.account.connector, self.account.client
        return connector.find_by_marker(client, entry.entity, entry.key) or \
            self._unmirrored(entry.entity, connector.find_lookalikes(
                client, entry.entity, entry.path, entry.body))

    def _deliver(self, entry: OutboxEntry, result: PushResult) -> None:
        """Send the entry's request and settle the success."""
        connector, client = self.account.connector, self.account.client
        result.sent += 1
        response = client.request(
            entry.method, entry.path, json=entry.body, params=entry.request.params,
            retry=entry.method in ("GET", "PUT", "PATCH", "DELETE"),
        )
        body = client.decode(response) if response.content else None
        if entry.kind == "create":
            self._settle_create(entry, connector.created_id(entry.entity, body))
        else:
            self._settle(entry)
        result.done += 1

    def _settle_error(self, entry: OutboxEntry, error: VendorError | BadRecord,
                      result: PushResult) -> None:
        """Apply what the error's class says becomes of the entry (`outcome_of`)."""
        outcome = outcome_of(error, entry.kind)
        if outcome is Outcome.DONE:  # e.g. a delete whose record is already gone
            self._settle(entry)
            result.done += 1
        elif outcome is Outcome.RETRY:
            self._retry_later(entry, str(error),
                              unanswered=isinstance(error, TransientVendorError)
                              and error.unanswered)
            result.retrying += 1
        else:
            self._fail(entry, outcome, str(error))
            result.refused.append(str(error))

    def _mirror_verdict(self, entry: OutboxEntry) -> str | None:
        """What the mirror already says of an update, without a request: "landed" when its
        base holds every value sent (a pull saw the vendor hold them: the write, or one
        in doubt, arrived), "superseded" when the entry was never sent and no field's local
        value is the one it would send any more (a later local edit has its own entry; a
        merge kept the vendor's value), else None. An entry in doubt from a killed run is
        otherwise sent again over a remote edit the mirror has merged since (found by the
        convergence soak).
        """
        sent = entry.values
        fields = [f for f in (entry.fields or sent) if f in sent]
        table = CANONICAL_TABLES[entry.entity]
        references = REFERENCES.get(entry.entity, {})
        if entry.row_id is None or not fields or any(
                f in references or f not in table.c for f in fields):
            return None
        with self.db.begin() as conn:
            row = conn.execute(select(table).where(table.c.id == entry.row_id)).mappings().first()
        if row is None:
            return None
        base = row["base"] or {}
        if all(f in base and norm(base[f]) == norm(sent[f]) for f in fields):
            return "landed"
        # only an entry never sent is superseded here: one in doubt may have arrived, and
        # the vendor may hold it although the mirror's base says otherwise (re-read first)
        if not (entry.attempts > 0 or entry.uncertain) and all(
                norm(row[f]) != norm(sent[f]) for f in fields):
            return "superseded"
        return None

    def _verify_in_doubt(self, entry: OutboxEntry) -> str:
        """An update whose earlier attempt may have reached the vendor (answer lost, or a
        process killed mid-send) is not sent blindly: a remote edit made since then would be
        overwritten without a conflict. The record is re-read (one request): "landed" when
        the vendor holds what was sent, "send" when it still holds the base (or it cannot
        be told), else the vendor's record goes through the pull's three-way merge and the
        entry becomes "held" (an open conflict holds the field), "superseded" (the policy
        took the vendor's values) or is sent (the mirror still holds other values).
        """
        sent = entry.values
        fields = [f for f in (entry.fields or sent) if f in sent]
        references = REFERENCES.get(entry.entity, {})
        if entry.row_id is None or not fields or any(f in references for f in fields):
            return "send"
        found = self._remote_copy(entry)
        if found is None:
            return "send"
        row, bundle, remote = found
        if any(f not in remote for f in fields):
            return "send"
        if all(norm(remote[f]) == norm(sent[f]) for f in fields):
            return "landed"
        if all(norm(row[f]) == norm(remote[f]) for f in fields if f in row):
            return "superseded"  # the mirror holds what the vendor holds: nothing to send
        base = row["base"] or {}
        if all(norm(remote[f]) == norm(base.get(f)) for f in fields):
            return self._set_back(entry.entity, row["id"], remote, fields) \
                if self._touched(entry, remote, base) else "send"
        return self._merged_verdict(entry, bundle, remote, fields)

    def _touched(self, entry: OutboxEntry, remote: dict[str, Any], base: dict[str, Any]) -> bool:
        """Whether the vendor's record changed since the base was read (`touched_since`) or
        in or after the second of this entry's previous attempt: vendors stamp to the second, so
        a write that landed and was set back within the second of the base's stamp looks
        untouched (found by the convergence soak, StrawBlond). A record edited by someone
        else in the second before the send becomes a conflict: the safe side. A record with
        no stamp at all counts as touched when the write may have arrived (found by the
        convergence soak, Quick Quote, seed 14 batch 20: a write killed mid-send landed,
        the merchant set the field back, and the write was sent again over that edit).
        """
        if touched_since(remote, base):
            return True
        incoming, claimed = remote.get("updated_at"), entry.touched_at
        if incoming is None and base.get("updated_at") is None:
            # a vendor that stamps nothing (Quick Quote): a set-back cannot be told from a
            # write that never arrived, so an attempt that may have arrived counts as set
            # back (a change on both sides: the safe side); one answered 5xx or 429 did not
            return entry.may_have_arrived
        if incoming is None or claimed is None:
            return False
        return bool(norm(incoming) >= norm(claimed.replace(microsecond=0)))

    def _remote_copy(self, entry: OutboxEntry) -> tuple[Any, Any, dict[str, Any]] | None:
        """The entry's mirror row, the vendor's bundle for it and its record there (one
        request); None when it cannot be read.
        """
        connector, entity = self.account.connector, entry.entity
        table = CANONICAL_TABLES[entity]
        with self.db.begin() as conn:
            row = conn.execute(select(table).where(table.c.id == entry.row_id)).mappings().first()
        if row is None or row["remote_id"] is None:
            return None
        try:
            bundle = connector.fetch_one(self.account.client, entity, row["remote_id"])
        except (VendorUnsupported, BadRecord):
            return None
        remote = next((r for r in (bundle.rows(entity) if bundle else [])
                       if r.get("remote_id") == row["remote_id"]), None)
        return None if remote is None else (row, bundle, remote)

    def _merged_verdict(self, entry: OutboxEntry, bundle: Any, remote: dict[str, Any],
                        fields: list[str]) -> str:
        """Merge the vendor's record as a pull would; then "held", "superseded" or "send"."""
        connector, entity = self.account.connector, entry.entity
        table = CANONICAL_TABLES[entity]
        with self.db.begin() as conn:
            AdoptingWriter(self.name, connector, self.runtime.settings.sync.conflict_policy,
                           self.clock.now()).apply(conn, bundle, connector.stream_for(entity))
        if self._held_by_conflict(entry):
            return "held"
        with self.db.begin() as conn:
            local = conn.execute(select(table).where(table.c.id == entry.row_id)).mappings().first()
        # the policy took the vendor's values: nothing left to send; else send what is local
        settled = local is not None and all(norm(local[f]) == norm(remote[f]) for f in fields)
        return "superseded" if settled else "send"

    def _set_back_before_refresh(self, entry: OutboxEntry) -> tuple[str, Any]:
        """A full-replacement vendor re-reads before every Put anyway; for an in-doubt one
        that read first tells whether the vendor's user set the fields back since (see
        `_set_back`). Returns the verdict and the bundle read, which the refresh reuses.
        """
        sent = entry.values
        fields = [f for f in (entry.fields or sent) if f in sent]
        if entry.row_id is None or not fields:
            return "send", None
        found = self._remote_copy(entry)
        if found is None:
            return "send", None
        row, bundle, remote = found
        base = row["base"] or {}
        if all(f in remote and norm(remote[f]) == norm(sent[f]) for f in fields) and \
                any(norm(remote[f]) != norm(base.get(f)) for f in fields):
            return "landed", bundle
        if all(f in remote and norm(remote[f]) == norm(base.get(f)) for f in fields) and \
                self._touched(entry, remote, base):
            return self._set_back(entry.entity, row["id"], remote, fields), bundle
        return "send", bundle

    def _set_back(self, entity: Entity, row_id: int, remote: dict[str, Any],
                  fields: list[str]) -> str:
        """The vendor holds the base values of an in-doubt write again, but its record
        changed since that base was read: the write may have landed and the vendor's user
        set the fields back (A -> B -> A, found by the convergence soak), which comparing
        values cannot tell from a write that never arrived. Sending it again would
        overwrite that edit, so each field is settled as changed on both sides, by the
        conflict policy: "held" (an open conflict), "superseded" (the vendor's values
        kept) or "send" (the local values win).
        """
        table = CANONICAL_TABLES[entity]
        writer = MirrorWriter(self.name, self.runtime.settings.sync.conflict_policy,
                              self.clock.now())
        with self.db.begin() as conn:
            current = dict(conn.execute(select(table).where(table.c.id == row_id))
                           .mappings().one())
            if all(norm(current[f]) == norm(remote[f]) for f in fields):
                return "superseded"  # the mirror holds the vendor's values: nothing to send
            base = dict(current.get("base") or {})
            winners = {f: writer.settle_both_changed(conn, entity.value, current, f,
                                                     norm(base.get(f)), norm(current[f]),
                                                     norm(remote[f]), remote)
                       for f in fields}
            taken = {f: remote[f] for f, winner in winners.items() if winner == "remote"}
            base.update({f: norm(remote[f]) for f in taken})
            base["updated_at"] = norm(remote.get("updated_at"))
            conn.execute(update(table).where(table.c.id == row_id).values(
                **taken, base=base, sync_rev=current["sync_rev"] + 1))
        if "manual" in winners.values():
            return "held"
        return "superseded" if len(taken) == len(fields) else "send"

    def _unmirrored(self, entity: Entity, candidates: list[str]) -> str | None:
        """The first candidate that no mirror row holds yet: a lookalike another row already
        mirrors is that row's record, not the one a lost create made.
        """
        if not candidates:
            return None
        table = CANONICAL_TABLES[entity]
        with self.db.begin() as conn:
            held = set(conn.execute(select(table.c.remote_id).where(
                table.c.account == self.name, table.c.remote_id.in_(candidates))).scalars())
        return next((c for c in candidates if c not in held), None)

    def _held_by_conflict(self, entry: OutboxEntry) -> list[str]:
        """Fields of this entry that an open conflict holds: never sent over the vendor."""
        if entry.kind != "update" or entry.row_id is None:
            return []
        with self.db.begin() as conn:
            open_fields = {f for (f,) in conn.execute(select(conflicts.c.field).where(
                conflicts.c.entity == entry.entity, conflicts.c.row_id == entry.row_id,
                conflicts.c.status == "open"))}
        return sorted(open_fields & set(entry.fields))

    def _refreshed(self, entry: OutboxEntry, read: Any = None) -> OutboxEntry | None:
        """Full-replacement vendors (Automa's Put): re-read the record, merge it, and plan
        the update once, from what the vendor holds now plus the local changes
        (`Reconciler.plan_replacement`). None when nothing is left to send (the entry is
        then done).
        """
        self._merge_fresh_read(entry, read)
        now = self.clock.now()
        with self.db.begin() as conn:
            fresh = Reconciler(self.account, now).plan_replacement(conn, entry)
            if fresh is None:
                conn.execute(update(outbox).where(outbox.c.id == entry.id).values(
                    status="done", last_error="vendor already holds these values",
                    updated_at=now))
                return None
            stored = fresh.to_row()
            conn.execute(update(outbox).where(outbox.c.id == entry.id).values(
                **{k: stored[k] for k in ("method", "path", "body", "params", "fields",
                                          "values")}, updated_at=now))
        return fresh

    def _merge_fresh_read(self, entry: OutboxEntry, read: Any = None) -> None:
        """Re-read the entry's record (one request, unless `read` is that record just read)
        and merge it into the mirror.
        """
        connector, entity = self.account.connector, entry.entity
        table = CANONICAL_TABLES[entity]
        with self.db.begin() as conn:
            remote_id = conn.execute(select(table.c.remote_id).where(
                table.c.id == entry.row_id)).scalar()
        try:
            bundle = read if read is not None else connector.fetch_one(
                self.account.client, entity, remote_id) if remote_id else None
            if bundle is None:
                return
            with self.db.begin() as conn:
                MirrorWriter(self.name, self.runtime.settings.sync.conflict_policy,
                             self.clock.now(), currency=self.account.settings.currency,
                             ).apply(conn, bundle, connector.stream_for(entity))
        except BadRecord as exc:
            # the re-read came back unusable: the body cannot be rebuilt safely, so this
            # entry fails with the reason (shown by `syncd status`), is not retried forever,
            # and the run goes on
            raise BadRecord(f"re-read before the update failed: {exc}", exc.raw) from exc

    def _settle(self, entry: OutboxEntry) -> None:
        """Success: base := values sent, so the next pull sees no change (no echo)."""
        with self.db.begin() as conn:
            self._base_update(conn, entry)
            forget_fingerprints(conn, self.name, self._written_records(conn, entry))
            if entry.kind == "delete" and entry.row_id is not None:
                # gone at the vendor: the one deletion path settles the row and its dependants
                MirrorWriter(self.name, self.runtime.settings.sync.conflict_policy,
                             self.clock.now()).delete_ids(conn, entry.entity, [entry.row_id])
            if entry.entity == Entity.PROPOSALS and entry.carries_items \
                    and entry.row_id is not None:
                self._retire_placeholders(conn, entry.row_id)
            conn.execute(update(outbox).where(outbox.c.id == entry.id).values(
                status="done", last_error=None, updated_at=self.clock.now()))

    @staticmethod
    def _written_records(conn: Connection, entry: OutboxEntry) -> list[str]:
        """Remote ids of the record a write changed and of the record that lists it (a line
        item's proposal, a person's company). Their stored list fingerprints describe the
        vendor record before this write: were it to return to exactly that state later (a
        remote A -> B -> A), a pull would skip it as unchanged and mirror and vendor would
        disagree. Forgotten, the next pull reads them once more (a detail request where the
        vendor has them, none where the list holds the record) and finds base == remote.
        """
        if entry.row_id is None:
            return []
        table = CANONICAL_TABLES[entry.entity]
        row = conn.execute(select(table).where(table.c.id == entry.row_id)).mappings().first()
        if row is None:
            return []
        found = [row["remote_id"]]
        for column, parent in (("proposal_id", Entity.PROPOSALS), ("company_id", Entity.COMPANIES)):
            if column in row and row[column] is not None:
                owner = CANONICAL_TABLES[parent]
                found.append(conn.execute(select(owner.c.remote_id).where(
                    owner.c.id == row[column])).scalar())
        return [str(r) for r in found if r is not None]

    def _settle_create(self, entry: OutboxEntry, remote_id: str) -> None:
        """The create is done: link the row to its record (the pull's marker adoption
        settles through the same `link_created`).
        """
        now = self.clock.now()
        with self.db.begin() as conn:
            link_created(conn, entry, remote_id, now, MirrorWriter(
                self.name, self.runtime.settings.sync.conflict_policy, now))

    def _retire_placeholders(self, conn: Connection, proposal_id: int) -> None:
        """Line items sent inside a create come back from the vendor with their own ids."""
        retire_placeholders(conn, proposal_id, self.clock.now())

    def _base_update(self, conn: Connection, entry: OutboxEntry) -> None:
        table = CANONICAL_TABLES[entry.entity]
        if entry.row_id is None:
            return
        row = conn.execute(select(table.c.id, table.c.base, table.c.sync_rev)
                           .where(table.c.id == entry.row_id)).first()
        if row is None:
            return
        base = dict(row.base or {})
        for name, value in entry.values.items():
            if name in FIELDS[entry.entity] or name == "deleted_at":
                base[name] = value
        conn.execute(update(table).where(table.c.id == row.id).values(
            base=base, sync_rev=row.sync_rev + 1, synced_at=self.clock.now()))

    def _fail(self, entry: OutboxEntry, status: str, reason: str) -> None:
        log.warning("account=%s outbox=%s %s: %s", self.name, entry.id, status, reason)
        with self.db.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == entry.id).values(
                status=status, last_error=reason[:2000], updated_at=self.clock.now()))

    def _retry_later(self, entry: OutboxEntry, reason: str, *, unanswered: bool = False) -> None:
        """Back off; an unanswered attempt is remembered for good (it may have landed)."""
        attempts = entry.attempts + 1
        status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
        delay = min(3600.0, 5.0 * 2 ** attempts)
        with self.db.begin() as conn:
            conn.execute(update(outbox).where(outbox.c.id == entry.id).values(
                status=status, last_error=reason[:2000], next_attempt_at=self.clock.time() + delay,
                claimed_until=None, updated_at=self.clock.now(),
                unanswered=entry.unanswered or unanswered))


def push_accounts(runtime: Runtime, names: list[str]) -> list[PushResult]:
    """Push each named account once, as `syncd push` does."""
    return [Pusher(runtime, runtime.account(n)).run() for n in names]


def daemon_running(db_url: str) -> bool:
    """SQLite: whether a `syncd run` holds the database's lock file (its push may be
    sending an entry this very moment).
    """
    path = SqliteSingleton(db_url).path
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a lock taken here
    return False


def owns_account(runtime: Runtime, name: str, worker: str | None = None) -> bool:
    """Whether no other live process may hold claims of account `name`: PostgreSQL, the
    account's lease is ours, free or expired; SQLite, no daemon holds the lock file.
    """
    if runtime.db.is_sqlite:
        return not daemon_running(runtime.db.url)
    with runtime.db.begin() as conn:
        lease = conn.execute(select(leases.c.owner, leases.c.expires_at).where(
            leases.c.account == name)).first()
    return (lease is None or not lease.owner or lease.owner == (worker or worker_id())
            or lease.expires_at < runtime.clock.time())


def resolve_before_pull(runtime: Runtime, name: str, worker: str | None = None,
                        owner: bool | None = None) -> PushResult:
    """Settle account `name`'s in-doubt writes before it is pulled (`syncd sync`,
    `backfill`, each daemon pull): a pull must never meet the record of a lost create
    while its row still waits. `owner` None: found out (`owns_account`).
    """
    if owner is None:
        owner = owns_account(runtime, name, worker)
    return Pusher(runtime, runtime.account(name), worker).resolve_in_doubt(owner=owner)


def touched_since(remote: dict[str, Any], base: dict[str, Any]) -> bool:
    """Whether the vendor's record carries a newer modification time than the one the
    mirror's base was read with (False when either side has none: then values decide).
    """
    incoming, known = remote.get("updated_at"), base.get("updated_at")
    return incoming is not None and bool(known) and bool(norm(incoming) > known)
