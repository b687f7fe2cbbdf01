"""The generic pull: page through each stream, validate, map, merge, checkpoint.

For every page the puller
  1. gets the stream's next page from the account's client (`AccountClient.paginate`: the
     stream's paginator says which, one budget slot each), less the records the stream
     declares to skip;
  2. skips records whose list fingerprint is unchanged since the last pull (no detail
     request, no write), fetches details only for the others;
  3. validates each record with the stream's pydantic model — a record that fails is
     quarantined with its raw payload and error, and the page goes on;
  4. merges the canonical rows into the mirror and commits them together with the page
     position, so a killed backfill resumes at the next page (records whose details were
     committed before the kill are skipped by their fingerprints, so at most the page in
     flight is fetched again).
A record missing from a list is marked deleted only when a complete scan of the stream
finished without error (never after a partial one).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, and_, delete, exists, func, insert, select, update

from syncd import drift
from syncd.canonical import Bundle
from syncd.db.bulk import dialect_insert, insert_rows
from syncd.db.json_columns import EncodedRecord
from syncd.db.tables import (
    CANONICAL_TABLES,
    fingerprints,
    quarantine,
    runs,
    scan_seen,
    stream_state,
)
from syncd.engine import covering, unverified
from syncd.engine.adopt import AdoptingWriter
from syncd.engine.collector import relaxed_collector
from syncd.engine.deletes import sweep_deletions
from syncd.engine.drift_log import DriftTally, DriftWriter
from syncd.engine.runtime import AccountRuntime, Runtime
from syncd.engine.store import MirrorWriter, WriteStats, chunks, deletion_columns, in_list
from syncd.engine.values import norm
from syncd.errors import SyncdError, VendorError
from syncd.http.budget import Priority
from syncd.http.client import MalformedResponse, NotFound, priority
from syncd.http.paginators import Paginator, dig
from syncd.vendors.base import StreamSpec, canonical_json, default_fingerprint, hash_text

# Records written per transaction when one answer holds more (Happyoffer's lists have no
# pagination: one answer is every offer). Memory then follows the slice, not the account:
# staged rows, fingerprints and insert parameters of ten thousand offers held for one
# commit took 690 MB; a crash mid-answer re-reads it and skips the slices already written
# by their fingerprints.
RECORDS_PER_COMMIT = 1_000
ANALYZE_FIRST = 2_000  # rows written before the first statistics refresh (PostgreSQL)
ANALYZE_LOCK = 0x73796E63  # the advisory lock one refresh at a time holds ("sync")
log = logging.getLogger("syncd.pull")
Progress = Callable[..., None]  # (account, stream, records, requests, pages_left)


@dataclass
class StreamResult:
    """What one stream run did."""

    stream: str
    pages: int = 0
    records: int = 0
    details: int = 0
    skipped_unchanged: int = 0
    quarantined: int = 0
    deleted: int = 0
    complete: bool = False
    error: str | None = None
    covered_by: str | None = None  # not read: that stream's scan of this run held its records
    writes: WriteStats = field(default_factory=WriteStats)
    drift: Counter[str] = field(default_factory=Counter)  # drift notes by kind
    quarantined_ids: list[str] = field(default_factory=list)


@dataclass
class PullResult:
    """What one pull of an account did."""

    account: str
    streams: list[StreamResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every stream finished without an error."""
        return all(s.error is None for s in self.streams)

    @property
    def errors(self) -> list[str]:
        """Each failed stream's error, for the command's exit and the log."""
        return [f"{s.stream}: {s.error}" for s in self.streams if s.error]

    def total(self, attr: str) -> int:
        """One counter summed over the streams, for the run's summary."""
        return sum(int(getattr(s, attr)) for s in self.streams)

    def drift(self) -> Counter[str]:
        """Drift notes of this pull, by kind."""
        counts: Counter[str] = Counter()
        for stream in self.streams:
            counts.update(stream.drift)
        return counts


class Puller:
    """Runs the streams of one account."""

    def __init__(self, runtime: Runtime, account: AccountRuntime,
                 progress: Progress | None = None) -> None:
        self.runtime = runtime
        self.account = account
        self.db = runtime.db
        self.clock = runtime.clock
        self.progress = progress
        self.name = account.name
        self.run_id = "-"
        self._rows_written = 0  # rows this pull inserted (mirror, fingerprints, seen ids)
        self._analyze_at = ANALYZE_FIRST

    # ---- entry point ----------------------------------------------------------------------
    def run(self, *, sweep: bool, kind: str = "pull") -> PullResult:
        """Pull every active stream; `sweep` = full scan of everything (backfill, sweep)."""
        result = PullResult(self.name)
        run_id = self.run_id = uuid.uuid4().hex[:12]
        with self.db.begin() as conn:
            key = conn.execute(
                insert(runs).values(run_id=run_id, account=self.name, kind=kind,
                                    started_at=self.clock.now(), status="running")
            ).inserted_primary_key
            if key is None:  # pragma: no cover - an INSERT into `runs` always has its id
                raise RuntimeError("the runs insert returned no primary key")
            run_pk = key[0]
        sent_before = self.account.client.transport.requests_sent
        rank = Priority.SWEEP if sweep and kind == "sweep" else Priority.PULL
        finished = self._finished_by_interrupted_run(run_pk, kind) if sweep else set()
        with priority(rank), relaxed_collector():
            for stream in self.account.connector.active_streams(sweep):
                if self.runtime.stop.is_set():
                    break
                if stream.name in finished:
                    result.streams.append(StreamResult(stream.name, complete=True))
                    continue
                cover = covering.covered(stream, self.account.connector.streams,
                                         result.streams, self._load_state) if sweep else None
                if cover is not None:
                    result.streams.append(StreamResult(stream.name, complete=True,
                                                       covered_by=cover))
                    continue
                result.streams.append(self.run_stream(stream, sweep=sweep))
        with self.db.begin() as conn:
            conn.execute(
                update(runs).where(runs.c.id == run_pk).values(
                    finished_at=self.clock.now(),
                    status="ok" if result.ok and not self.runtime.stop.is_set() else (
                        "interrupted" if result.ok else "failed"),
                    records=result.total("records"),
                    requests=self.account.client.transport.requests_sent - sent_before,
                    error="; ".join(result.errors)[:2000] or None,
                )
            )
        return result

    # ---- one stream -----------------------------------------------------------------------
    def run_stream(self, stream: StreamSpec, *, sweep: bool,
                   reread: int | None = None) -> StreamResult:
        """One scan of a stream (resuming one in progress). `reread`: a new scan of only
        the first partitions, re-reading what an earlier run read of a resumed scan.
        """
        result = StreamResult(stream.name)
        state, resumed = self._begin_scan(stream, sweep, reread)
        try:
            if state.get("staged"):  # details a killed run had still to fetch
                self._run_staged(stream, state, result)
            if not self._scan_partitions(stream, state, result):
                return result  # stopped: the scan stays in progress
            self._finish(stream, state, result)
        except (SyncdError, TypeError) as exc:
            self._fail(stream, result, exc)
            return result
        if resumed and not sweep and not self.runtime.stop.is_set():
            # what the earlier run read may be stale: an incremental pull reads those
            # partitions again (unchanged records cost no detail request) so that pushes
            # planned after it start from a view as new as this run
            _add_result(result, self.run_stream(
                stream, sweep=sweep, reread=int(state.get("resumed_from", 0)) + 1))
        return result

    def _begin_scan(self, stream: StreamSpec, sweep: bool,
                    reread: int | None) -> tuple[dict[str, Any], bool]:
        """The stream's state to go on from, and whether it resumes a scan another run
        began (what that run read is older than this run's reads).
        """
        state = self._load_state(stream)
        resumed = bool(state.get("in_progress") and state.get("read_any"))
        if resumed:
            state["resumed"] = True
            state["resumed_from"] = state.get("partition", 0)  # partitions before: stale
        if not state.get("in_progress"):
            state = self._start_scan(stream, state, sweep, reread)
        return state, resumed

    def _start_scan(self, stream: StreamSpec, old: dict[str, Any], sweep: bool,
                    reread: int | None) -> dict[str, Any]:
        """A new scan from the stream's first partition, its seen ids cleared (committed
        before the first request).
        """
        state = self._fresh_state(stream, old, sweep)
        if reread is not None:
            # only part of the stream: never a reason to mark unseen records deleted
            state.update(limit=reread, early_stop=True)
        with self.db.begin() as conn:
            conn.execute(delete(scan_seen).where(scan_seen.c.account == self.name,
                                                 scan_seen.c.stream == stream.name))
            self._save_state(conn, stream, state)
        return state

    def _scan_partitions(self, stream: StreamSpec, state: dict[str, Any],
                         result: StreamResult) -> bool:
        """Page through the partitions still to read; False when the run was stopped
        before the scan ended.
        """
        page_size = self.account.settings.page_size or stream.page_size
        partitions = stream.partitions or ("",)
        while state["partition"] < min(len(partitions), state.get("limit") or 1 << 30):
            part = partitions[state["partition"]]
            if not self._scan_partition(stream, state, result, part, page_size):
                return False
        return True

    def _scan_partition(self, stream: StreamSpec, state: dict[str, Any],
                        result: StreamResult, part: str, page_size: int) -> bool:
        """Every page of one partition from the stored position (the client pages, one
        budgeted request each); False when the run was stopped before its end.
        """
        paginator = stream.paginator(page_size, state.get("page"))
        stop_at = self._stop_mark(stream, state, part)
        path = self.account.settings.path(stream.name, stream.path).format(partition=part)
        for page in self.account.client.paginate(
                path, paginator, records_path=stream.records_path, params=stream.params,
                until=self.runtime.stop, label=stream.name):
            result.pages += 1
            state["read_any"] = True
            records = kept_records(stream, page.records)
            if stream.detail is not None:
                self._detail_page(stream, paginator, records, result, state, part, stop_at)
            else:
                self._list_page(stream, paginator, records, result, state, part, stop_at)
        return not paginator.has_next

    @staticmethod
    def _stop_mark(stream: StreamSpec, state: dict[str, Any], part: str) -> Any:
        """The high-water mark an incremental run of a newest-first list stops at (None:
        read to the end).
        """
        marks = state.setdefault("marks", {})
        return marks.get(part) if (stream.high_water and not state["sweep"]) else None

    def _list_page(self, stream: StreamSpec, paginator: Paginator, records: Sequence[Any],
                   result: StreamResult, state: dict[str, Any], part: str,
                   stop_at: Any) -> None:
        """A page of a stream without detail requests: its records validated, mapped and
        committed with the position after the page, a slice of `RECORDS_PER_COMMIT` at a
        time when one answer holds more (the position then stays on this answer until
        its last slice).
        """
        ids, last = page_ids(stream, records)
        work, reached_mark = _PageWork(), False  # an empty page commits its position
        for start in range(0, len(records), RECORDS_PER_COMMIT):
            stop = start + RECORDS_PER_COMMIT
            work, reached = self._page(stream, records[start:stop], ids[start:stop], start,
                                       last, result, state, part, stop_at)
            reached_mark = reached or reached_mark
            if stop < len(records):  # the position stays on this answer
                self._commit_page(stream, work, result, state)
        if reached_mark:
            _stop_early(paginator, state)
        _advance(stream, paginator, state, part)
        # the page's (last) rows and the position after it: one transaction
        self._commit_page(stream, work, result, state)
        self._report_progress(stream, result, paginator)

    def _fail(self, stream: StreamSpec, result: StreamResult, exc: Exception) -> None:
        """A failed scan: the error goes to the result and the log; the scan stays in
        progress, resumed by the next run.
        """
        result.error = str(exc)
        log.warning("account=%s stream=%s failed: %s", self.name, stream.name, exc,
                    extra={"account": self.name, "stream": stream.name, "run_id": self.run_id})

    def _report_progress(self, stream: StreamSpec, result: StreamResult,
                         paginator: Paginator) -> None:
        if self.progress:
            self.progress(self.name, stream.name, result.records,
                          self.account.client.transport.requests_sent, paginator.remaining)

    def _detail_page(self, stream: StreamSpec, paginator: Paginator, records: Sequence[Any],
                     result: StreamResult, state: dict[str, Any], part: str,
                     stop_at: Any) -> None:
        """A page of a stream with detail requests, resumable at the request.

        The page is sorted out without a request first; its position, seen ids, records
        without id and the records still to detail (staged in the stream state) commit in
        one transaction before the first detail request, and each detailed record commits
        with its fingerprint before the next. A kill at any instant then repeats at most
        the one request in flight: a resumed run neither re-reads the list page nor
        re-fetches a detail already committed.
        """
        ids, last = page_ids(stream, records)
        work = _PageWork()
        changed, reached = self._triage(stream, records, ids, 0, last, result, state, part,
                                        stop_at, work)
        staged = [[rid, rec, fp] for rid, rec, fp in changed]
        if reached:
            _stop_early(paginator, state)
        _advance(stream, paginator, state, part)
        state["staged"] = staged
        self._commit_page(stream, work, result, state)
        self._run_staged(stream, state, result)
        self._report_progress(stream, result, paginator)

    def _run_staged(self, stream: StreamSpec, state: dict[str, Any],
                    result: StreamResult) -> None:
        """Detail the staged records of a page; each commits at once (`_single`), a record
        found gone commits its deletion before the next request.
        """
        staged = list(state.get("staged") or [])
        known = self._fingerprints(stream, [str(s[0]) for s in staged])
        for position, (rid, rec, fp) in enumerate(staged):
            if self.runtime.stop.is_set():
                return
            if known.get(rid) == fp:
                continue  # committed before the kill
            work = _PageWork()
            self._record(stream, rid, rec, fp, work, result)
            if work.gone or work.bundle or work.bad:
                state["staged"] = staged[position + 1:]
                self._commit_page(stream, work, result, state)
        state["staged"] = []
        with self.db.begin() as conn:
            self._save_state(conn, stream, state)

    def _finished_by_interrupted_run(self, run_pk: int, kind: str) -> set[str]:
        """Streams that the killed or stopped runs of this kind just before this one
        finished: a resumed backfill or sweep goes on where they stopped instead of
        reading those streams again.
        """
        with self.db.begin() as conn:
            earlier = conn.execute(
                select(runs.c.started_at, runs.c.finished_at, runs.c.status).where(
                    runs.c.account == self.name, runs.c.kind == kind, runs.c.id < run_pk)
                .order_by(runs.c.id.desc()).limit(50)).all()
            since = None
            for started_at, finished_at, status in earlier:
                if finished_at is not None and status != "interrupted":
                    break
                since = started_at
            if since is None:
                return set()
            rows = conn.execute(select(stream_state.c.stream, stream_state.c.state).where(
                stream_state.c.account == self.name,
                stream_state.c.last_complete_at >= since)).all()
        return {name for name, value in rows if not (value or {}).get("in_progress")}

    def _page(
        self, stream: StreamSpec, records: Sequence[Any], ids: list[str | None], offset: int,
        last: dict[str, int], result: StreamResult, state: dict[str, Any], part: str,
        stop_at: Any,
    ) -> tuple[_PageWork, bool]:
        """Process records `offset`… of one answer (`last`: each id's last index in it):
        what they will commit, and whether an incremental high-water mark was reached.
        """
        work = _PageWork()
        changed, reached = self._triage(stream, records, ids, offset, last, result, state,
                                        part, stop_at, work)
        for rid, rec, fp in changed:
            self._record(stream, rid, rec, fp, work, result)
        return work, reached

    def _triage(
        self, stream: StreamSpec, records: Sequence[Any], ids: list[str | None], offset: int,
        last: dict[str, int], result: StreamResult, state: dict[str, Any], part: str,
        stop_at: Any, work: _PageWork,
    ) -> tuple[list[tuple[str, Any, str]], bool]:
        """Sort records `offset`… of one answer without a request: repeats (only a record's
        last entry counts), records without id, trashed and unchanged ones go to `work`;
        returns the changed ones with their fingerprints, and whether the high-water mark
        of an incremental run was reached.
        """
        known = self._fingerprints(stream, [i for i in ids if i])
        changed: list[tuple[str, Any, str]] = []
        reached = False
        for index, (rid, rec) in enumerate(zip(ids, records, strict=True), start=offset):
            result.records += 1
            if rid is not None and last[rid] != index:
                result.skipped_unchanged += 1
                continue
            reached = _note_high_water(stream, rec, state, part, stop_at) or reached
            if rid is None:
                work.bad.append((None, rec, f"{stream.name}: record without a usable id"))
                continue
            work.seen.append(rid)
            if stream.is_deleted is not None and stream.is_deleted(rec):
                covering.note_record(stream, state, trashed=True)
                work.gone.append(rid)
                continue
            covering.note_record(stream, state)
            fp, rec = _fingerprint(stream, rec)
            if known.get(rid) == fp:
                result.skipped_unchanged += 1
                continue
            changed.append((rid, rec, fp))
        return changed, reached

    def _record(self, stream: StreamSpec, rid: str, rec: Any, fp: str, work: _PageWork,
                result: StreamResult) -> None:
        """One changed record: detail (if the stream has one), validate, map, stage or commit."""
        merged: Any = rec
        if stream.detail is not None:
            if self._snapshot(stream, rid, rec, fp, result):
                return  # written (or older than the mirror) without a request
            merged = self._detail(stream, rid, rec, fp, work, result)
            if merged is None:
                return
        try:
            bundle, notes = map_record(self.account.connector, stream, merged)
        except (ValidationError, ValueError, KeyError, TypeError, AttributeError) as exc:
            problem = (rid, merged, f"{type(exc).__name__}: {exc}")
            if stream.detail is not None:
                self._single(stream, rid, None, fp, problem, result)
            else:
                work.bad.append(problem)
                work.fingerprints[rid] = fp
            return
        if stream.detail is not None:
            # committed at once: a kill loses at most this record's detail call
            tally = DriftTally()
            tally.add(rid, notes)
            self._single(stream, rid, bundle, fp, None, result, tally)
        else:
            work.bundle.extend(bundle)
            work.fingerprints[rid] = fp
            work.drift.add(rid, notes)

    def _snapshot(self, stream: StreamSpec, rid: str, rec: Any, fp: str,
                  result: StreamResult) -> bool:
        """A list record carrying the whole record (`DetailSpec.snapshot`): written at once
        and marked unverified when it is newer than what the mirror holds, passed over
        when it is not; True then. False (fetch it as usual) when it carries none, when
        what it carries would not map (what a pull would quarantine), or when its version
        cannot be compared with the mirror's.
        """
        detail = stream.detail
        found = detail.snapshot(rec) if detail is not None and detail.snapshot else None
        if detail is None or found is None:
            return False
        merged = detail.merge(rec, found)
        try:
            bundle, notes = map_record(self.account.connector, stream, merged)
        except (ValidationError, ValueError, KeyError, TypeError, AttributeError):
            return False
        order = self._snapshot_order(stream, rid, bundle)
        if order is None:
            return False
        if order == "older":
            result.writes.stale += 1
            with self.db.begin() as conn:
                self._store_fingerprints(conn, stream, {rid: fp})
            return True
        tally = DriftTally()
        tally.add(rid, notes)
        self._single(stream, rid, bundle, fp, None, result, tally, snapshot=True)
        return True

    def _snapshot_order(self, stream: StreamSpec, rid: str, bundle: Bundle) -> str | None:
        """"newer" or "older" than the mirror's row by the vendor's `updated_at` (a row
        not yet mirrored: "newer"); None when either side has no modification time or
        both have the same one: a change that leaves `updated_at` as it was (an opening
        tracked, say) cannot be told from a replay, so the record is read instead.
        """
        table = CANONICAL_TABLES.get(str(stream.entity))
        if table is None:
            return "newer"
        row = next((r for r in bundle.rows(str(stream.entity)) if r.get("remote_id") == rid),
                   None)
        with self.db.begin() as conn:
            base = conn.execute(select(table.c.base).where(
                table.c.account == self.name, table.c.remote_id == rid)).first()
        if base is None:
            return "newer"
        incoming, known = (row or {}).get("updated_at"), (base[0] or {}).get("updated_at")
        if incoming is None or not known:
            return None
        mine = str(norm(incoming))
        return None if mine == str(known) else ("newer" if mine > str(known) else "older")

    def _detail(self, stream: StreamSpec, rid: str, rec: Any, fp: str, work: _PageWork,
                result: StreamResult) -> Any | None:
        """The record completed by its detail request; None when it is gone or unreadable."""
        detail = stream.detail
        assert detail is not None
        path = self.account.settings.path(f"{stream.name}.{detail.name}", detail.path)
        result.details += 1
        try:
            body = self.account.client.get_json(path.format(id=detail.id_of(rec)))
        except NotFound:
            work.gone.append(rid)
            return None
        except MalformedResponse as exc:
            self._single(stream, rid, None, fp, (rid, exc.body, str(exc)), result)
            return None
        return detail.merge(rec, dig(body, detail.records_path))

    def _commit_page(self, stream: StreamSpec, work: _PageWork, result: StreamResult,
                     state: dict[str, Any]) -> None:
        """The page's rows, fingerprints, quarantine, seen ids, deletions and the stream's
        position after the page: one transaction (a kill re-reads the page or none of it).
        """
        inserted_before = result.writes.inserted
        with self.db.begin() as conn:
            self._save_state(conn, stream, state)
            result.writes.add(self._writer().apply(conn, work.bundle, stream.name))
            self._store_fingerprints(conn, stream, work.fingerprints)
            failed = {b[0] for b in work.bad}
            self._resolve_quarantine(conn, stream, [r for r in work.fingerprints if r not in failed])
            for problem in work.bad:
                self._quarantine(conn, stream, *problem)
            result.quarantined += len(work.bad)
            result.quarantined_ids.extend(str(b[0]) for b in work.bad)
            self._note_drift(conn, stream, work.drift, result)
            if covering.tracks_seen(stream) and stream.entity in CANONICAL_TABLES:
                self._mark_seen(conn, stream, work.seen)
            if work.gone:
                result.deleted += self._delete_remote_ids(conn, str(stream.entity), work.gone)
            self._rows_written += result.writes.inserted - inserted_before + 2 * len(work.seen)
            self._refresh_statistics(conn)

    def _refresh_statistics(self, conn: Connection) -> None:
        """PostgreSQL: ANALYZE the tables a pull fills each time it has doubled what it wrote.

        A backfill writes faster than autovacuum refreshes the planner's statistics; with
        a table believed empty, key lookups scan every row of the account and the final
        unseen-rows query anti-joins scan_seen by nested loop (quadratic over the backfill).
        Doubling keeps it to a handful of ANALYZEs per backfill.

        The statistics are the tables', not the account's: while another pull (of any
        account, in any process) refreshes them, this one does not queue behind it. Two
        ANALYZEs of a table exclude each other until commit, and 50 accounts backfilling
        together reached their thresholds together: every page commit, and with them the
        pool's connections, waited in line (bench/latency.py: pushes waited seconds).
        """
        if conn.dialect.name != "postgresql" or self._rows_written < self._analyze_at:
            return
        self._analyze_at = 2 * self._rows_written
        if not conn.execute(select(func.pg_try_advisory_xact_lock(ANALYZE_LOCK))).scalar():
            return  # another pull is refreshing them now
        tables = ", ".join([fingerprints.name, scan_seen.name, *CANONICAL_TABLES])
        conn.exec_driver_sql(f"ANALYZE {tables}")

    def _single(
        self, stream: StreamSpec, rid: str, bundle: Bundle | None, fp: str,
        problem: tuple[str | None, Any, str] | None, result: StreamResult,
        tally: DriftTally | None = None, *, snapshot: bool = False,
    ) -> None:
        """Commit one detailed record (or its quarantine) with its fingerprint; written
        from a `snapshot`, it is marked unverified, else read from the vendor itself (any
        mark it had goes).
        """
        with self.db.begin() as conn:
            if stream.detail is not None and stream.detail.snapshot is not None:
                entity = str(stream.entity)
                if snapshot:
                    unverified.mark(conn, self.name, entity, stream.name, [rid], self.clock.now())
                else:
                    unverified.clear(conn, self.name, entity, [rid])
            if bundle is not None:
                written = self._writer().apply(conn, bundle, stream.name)
                result.writes.add(written)
                self._resolve_quarantine(conn, stream, [rid])
                self._note_drift(conn, stream, tally or DriftTally(), result)
                self._rows_written += written.inserted + 1
                self._refresh_statistics(conn)
            if problem is not None:
                self._quarantine(conn, stream, *problem)
                result.quarantined += 1
                result.quarantined_ids.append(str(problem[0]))
            self._store_fingerprints(conn, stream, {rid: fp})

    def _finish(self, stream: StreamSpec, state: dict[str, Any], result: StreamResult) -> None:
        """End of a scan: deletions (complete scans only), marks, next start position."""
        complete = not state.get("early_stop")
        with self.db.begin() as conn:
            if complete and covering.deletes_unseen(stream, state) and (
                    stream.entity in CANONICAL_TABLES):
                result.deleted += self._delete_unseen(conn, stream,
                                                      sweep=bool(state.get("sweep")))
            conn.execute(delete(scan_seen).where(scan_seen.c.account == self.name,
                                                 scan_seen.c.stream == stream.name))
            marks = dict(state.get("marks", {}))
            marks.update(state.get("new_marks", {}))
            next_state = {"in_progress": False, "marks": marks, "kept": state.get("kept", {}),
                          "stale_view": bool(state.get("resumed")),  # see STALE_VIEW
                          **(covering.verdict(self.name, stream, state) if complete else {})}
            self._save_state(conn, stream, next_state, complete=True, sweep=state.get("sweep"))
        result.complete = complete

    # ---- state ----------------------------------------------------------------------------
    def _fresh_state(self, stream: StreamSpec, old: dict[str, Any], sweep: bool) -> dict[str, Any]:
        kept = old.get("kept", {}) if stream.keep_cursor else {}
        first = (stream.partitions or ("",))[0]
        return {
            "in_progress": True, "partition": 0, "page": kept.get(first), "sweep": sweep,
            "marks": old.get("marks", {}), "kept": kept, "scan": uuid.uuid4().hex[:12],
            "stale_view": bool(old.get("stale_view")),
            # the last complete scan's verdict, until this scan gives its own
            **({covering.COVERS: old[covering.COVERS]} if covering.COVERS in old else {}),
        }

    def _load_state(self, stream: StreamSpec) -> dict[str, Any]:
        with self.db.begin() as conn:
            value = conn.execute(
                select(stream_state.c.state).where(stream_state.c.account == self.name,
                                                   stream_state.c.stream == stream.name)
            ).scalar()
        return dict(value) if value else {}

    def _save_state(
        self, conn: Connection, stream: StreamSpec, state: dict[str, Any],
        complete: bool = False, sweep: bool | None = None,
    ) -> None:
        # the next partition of a keep_cursor stream starts from its kept position
        partitions = stream.partitions or ("",)
        if state.get("in_progress") and state.get("page") is None and stream.keep_cursor:
            idx = state.get("partition", 0)
            if idx < len(partitions):
                state["page"] = state.get("kept", {}).get(partitions[idx])
        now = self.clock.now()
        values: dict[str, Any] = {"state": json.loads(json.dumps(state, default=str)),
                                  "updated_at": now}
        if complete:
            values["last_complete_at"] = now
            if sweep:
                values["last_sweep_at"] = now
        stmt = dialect_insert(conn, stream_state).values(
            account=self.name, stream=stream.name, **values)
        conn.execute(stmt.on_conflict_do_update(index_elements=["account", "stream"], set_=values))

    # ---- bookkeeping ----------------------------------------------------------------------
    def _writer(self) -> MirrorWriter:
        # a pulled record carrying the marker of a row still waiting for its create is
        # linked to that row before the bundle is merged (syncd/engine/adopt.py)
        return AdoptingWriter(self.name, self.account.connector,
                              self.runtime.settings.sync.conflict_policy, self.clock.now())

    def _fingerprints(self, stream: StreamSpec, rids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self.db.begin() as conn:
            for part in chunks(rids):
                for rid, fp in conn.execute(
                    select(fingerprints.c.remote_id, fingerprints.c.fingerprint).where(
                        fingerprints.c.account == self.name,
                        fingerprints.c.stream == stream.name,
                        in_list(conn, fingerprints.c.remote_id, part),
                    )
                ):
                    found[rid] = fp
        return found

    def _store_fingerprints(self, conn: Connection, stream: StreamSpec, fps: dict[str, str]) -> None:
        insert_rows(conn, fingerprints,
                    [{"account": self.name, "stream": stream.name, "remote_id": r,
                      "fingerprint": f} for r, f in fps.items()],
                    ("account", "stream", "remote_id"), update=("fingerprint",))

    def _mark_seen(self, conn: Connection, stream: StreamSpec, rids: list[str]) -> None:
        insert_rows(conn, scan_seen, [{"account": self.name, "stream": stream.name,
                                       "remote_id": r} for r in set(rids)],
                    ("account", "stream", "remote_id"))

    def _note_drift(self, conn: Connection, stream: StreamSpec, tally: DriftTally,
                    result: StreamResult) -> None:
        if tally:
            DriftWriter(self.account.settings, self.clock.now()).add(conn, stream.name, tally)
            result.drift.update(tally.by_kind())

    def _quarantine(self, conn: Connection, stream: StreamSpec, rid: str | None, raw: Any,
                    error: str) -> None:
        text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
        log.warning("account=%s stream=%s quarantined %s: %s", self.name, stream.name, rid, error,
                    extra={"account": self.name, "stream": stream.name, "run_id": self.run_id})
        conn.execute(
            update(quarantine)
            .where(quarantine.c.account == self.name, quarantine.c.stream == stream.name,
                   quarantine.c.remote_id == rid, quarantine.c.resolved_at.is_(None))
            .values(resolved_at=self.clock.now())
        )
        conn.execute(insert(quarantine).values(
            account=self.name, stream=stream.name, remote_id=rid, error=error[:4000], raw=text,
            created_at=self.clock.now()))

    def _resolve_quarantine(self, conn: Connection, stream: StreamSpec, rids: list[str]) -> None:
        for part in chunks(rids):
            conn.execute(
                update(quarantine)
                .where(quarantine.c.account == self.name, quarantine.c.stream == stream.name,
                       quarantine.c.remote_id.in_(part), quarantine.c.resolved_at.is_(None))
                .values(resolved_at=self.clock.now())
            )

    def _delete_unseen(self, conn: Connection, stream: StreamSpec, *, sweep: bool = True) -> int:
        """A complete scan's deletions: the live rows it did not see, through the guard
        against false mass deletion (held as pending when too many go at once; `sweep`:
        this scan is a full sweep, which may confirm what an earlier one held).
        """
        table = CANONICAL_TABLES[str(stream.entity)]
        unseen = ~exists().where(and_(
            scan_seen.c.account == self.name, scan_seen.c.stream == stream.name,
            scan_seen.c.remote_id == table.c.remote_id))
        rows = conn.execute(
            select(*deletion_columns(table)).where(
                table.c.account == self.name, table.c.remote_id.is_not(None),
                table.c.deleted_at.is_(None), unseen)
        ).all()
        return sweep_deletions(conn, self._writer(), self.account.settings,
                               str(stream.entity), covering.guard_key(stream), rows, sweep=sweep)

    def _delete_remote_ids(self, conn: Connection, entity: str, rids: list[str]) -> int:
        """Records the vendor says are gone (trashed in a list, 404/410 on their detail)."""
        if entity not in CANONICAL_TABLES:
            return 0
        return self._writer().delete_remote_ids(conn, entity, rids)

    def _delete_rows(self, conn: Connection, entity: str, rows: list[Any]) -> int:
        """Mark rows deleted, with the rows that exist only through them (the one path)."""
        return self._writer().delete_rows(conn, entity, rows)


@dataclass
class _PageWork:
    """What one page will commit: staged rows, new fingerprints, ids seen, gone and bad."""

    bundle: Bundle = field(default_factory=Bundle)
    fingerprints: dict[str, str] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    bad: list[tuple[str | None, Any, str]] = field(default_factory=list)
    drift: DriftTally = field(default_factory=DriftTally)


def _add_result(into: StreamResult, more: StreamResult) -> None:
    """Fold a second scan of the same stream (the re-read after a resume) into the first."""
    for name in ("pages", "records", "details", "skipped_unchanged", "quarantined", "deleted"):
        setattr(into, name, getattr(into, name) + getattr(more, name))
    into.error = more.error
    into.writes.add(more.writes)
    into.drift.update(more.drift)
    into.quarantined_ids.extend(more.quarantined_ids)


def stale_view(conn: Connection, account: str) -> bool:
    """STALE_VIEW: whether this account's remote view is not as new as one pull.

    A scan that a later run resumed (after a kill or a failed request) holds parts read by
    the earlier run, possibly long before: a remote edit made in between, in a part already
    read, is not in the mirror. Until a scan of every stream runs from its start in one run,
    reconcile plans no write to an existing record from that view (an incremental pull
    re-reads a resumed stream at once; a resumed backfill or sweep leaves that to the next
    pull).
    """
    for (value,) in conn.execute(select(stream_state.c.state).where(
            stream_state.c.account == account)):
        value = value or {}
        if value.get("stale_view") or (value.get("in_progress") and value.get("resumed")):
            return True
    return False


def map_record(connector: Any, stream: StreamSpec, record: Any) -> tuple[Bundle, list[Any]]:
    """Validate and map one (merged) record, with the drift notes it gave: the one path
    shared by pulls, webhook fetches and `syncd remap`. Raises what quarantines it.
    """
    with drift.collecting() as notes:
        model = stream.model.model_validate(record)
        bundle = stream.map(connector, model, record)
        drift.unknown_fields(stream.model, record)
    return bundle, notes


def kept_records(stream: StreamSpec, records: Sequence[Any]) -> Sequence[Any]:
    """A page's records without those the stream declares to skip (`StreamSpec.skip`),
    in their order; the page itself when the stream skips none.
    """
    if stream.skip is None:
        return records
    skip = stream.skip
    return [rec for rec in records if not skip(rec)]


def page_ids(stream: StreamSpec, records: Sequence[Any]
             ) -> tuple[list[str | None], dict[str, int]]:
    """Each record's id (None: unusable) and each id's last index on the page: a log may
    name one record twice, and only its last entry counts (over `LazyRecords` this first
    pass decodes each record and drops it).
    """
    ids = [_record_id(stream, rec) for rec in records]
    return ids, {rid: i for i, rid in enumerate(ids) if rid}


def _stop_early(paginator: Paginator, state: dict[str, Any]) -> None:
    """The high-water mark was reached: no further page, and the scan is not complete
    (no deletions are inferred from it).
    """
    paginator.stop()
    state["early_stop"] = True


def _advance(stream: StreamSpec, paginator: Paginator, state: dict[str, Any],
             part: str) -> None:
    """The position after a page: the paginator's next page, or the next partition (a
    `keep_cursor` stream keeps the end position of this one for its next scan).
    """
    state["page"] = paginator.state if paginator.has_next else None
    if not paginator.has_next:
        state["partition"] += 1
        if stream.keep_cursor:
            state.setdefault("kept", {})[part] = paginator.state


def _record_id(stream: StreamSpec, rec: Any) -> str | None:
    try:
        return stream.id_of(rec)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _fingerprint(stream: StreamSpec, rec: Any) -> tuple[str, Any]:
    """The record's fingerprint, and the record to go on with: with the default fingerprint
    and no detail call, an `EncodedRecord` whose raw column is written from the text the
    fingerprint hashed (the record is encoded once, not twice).
    """
    if stream.fingerprint is default_fingerprint and type(rec) is dict:
        text = canonical_json(rec)
        return hash_text(text), rec if stream.detail is not None else EncodedRecord(rec, text)
    fp = stream.fingerprint(rec)
    # the column holds 64 characters; a hash of a longer key is as good
    return (default_fingerprint(fp) if len(fp) > 64 else fp), rec


def _note_high_water(stream: StreamSpec, rec: Any, state: dict[str, Any], part: str,
                     stop_at: Any) -> bool:
    """Track the newest modification key seen; True once a record is not newer than the
    mark of the previous run (lists sorted newest first can stop there).
    """
    if not stream.high_water or not isinstance(rec, dict):
        return False
    try:
        mark = stream.high_water(rec)
    except (KeyError, TypeError, ValueError):
        return False
    if mark is None:
        return False
    best = state.setdefault("new_marks", {}).get(part)
    if best is None or str(mark) > str(best):
        state["new_marks"][part] = mark
    return stop_at is not None and str(mark) <= str(stop_at)


def pull_accounts(
    runtime: Runtime, names: list[str], *, sweep: bool, kind: str = "pull",
    progress: Progress | None = None,
) -> list[PullResult]:
    """Pull several accounts one after the other (the daemon runs them concurrently)."""
    results = []
    for name in names:
        account = runtime.account(name)
        try:
            results.append(Puller(runtime, account, progress).run(sweep=sweep, kind=kind))
        except VendorError as exc:  # pragma: no cover - run() already catches per stream
            failed = PullResult(name, [StreamResult("*", error=str(exc))])
            results.append(failed)
    return results
