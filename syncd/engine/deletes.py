"""The guard against false mass deletion, and the deletions it holds back.

A complete scan marks the records it did not see deleted (`pull._delete_unseen`). A vendor
having a bad day can answer an empty or truncated list with 200; taken at its word, that
would mark a whole account deleted. So a complete scan that would mark more than the
account's `max_delete_fraction` (default 0.1) of an entity's live rows deleted marks none
of them: it records them in `pending_deletes` (shown by the pull summary, `syncd status`
and `/metrics`), and they are applied only by `syncd deletes confirm --account NAME` or,
with `confirm_deletes = "second_sweep"`, by the next full sweep that finds the same
records missing again. A complete scan that lists them again clears them.

Small numbers are always allowed: the guard holds a scan's deletions only when more than
`GUARD_FLOOR` rows would go, so a 3-row account can still lose one (or all three).
Every deletion, held or not, is applied through the one writer operation
(`MirrorWriter.delete_rows`), dependants included.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from syncd.db.tables import CANONICAL_TABLES, fingerprints, pending_deletes
from syncd.engine.store import MirrorWriter, chunks, deletion_columns, in_list
from syncd.engine.values import norm
from syncd.settings import AccountSettings

log = logging.getLogger("syncd.deletes")
GUARD_FLOOR = 3  # at most this many deletions per entity and scan are never held


def too_many(doomed: int, live: int, fraction: float) -> bool:
    """Whether a scan's `doomed` deletions out of `live` rows look like a false mass
    deletion (and are held).
    """
    return doomed > GUARD_FLOOR and doomed > fraction * live


def sweep_deletions(
    conn: Connection, writer: MirrorWriter, settings: AccountSettings, entity: str,
    stream: str, rows: Sequence[Any], *, sweep: bool = True,
) -> int:
    """Apply (or hold) the deletions of one complete scan of `stream`: `rows` are the live
    rows (`deletion_columns`) the scan did not see. Returns the rows marked deleted.

    With `confirm_deletes = "second_sweep"` only a full sweep (`sweep`) confirms what an
    earlier scan held: for a vendor whose every pull reads the whole list, "the next
    complete scan" would be minutes later, inside the same bad day.
    """
    table = CANONICAL_TABLES[entity]
    account = writer.account
    before = {
        r.remote_id: r for r in conn.execute(select(pending_deletes).where(
            pending_deletes.c.account == account, pending_deletes.c.entity == entity,
            pending_deletes.c.stream == stream))
    }
    # what this scan saw again is not gone; what it still misses is re-held or applied below
    conn.execute(delete(pending_deletes).where(
        pending_deletes.c.account == account, pending_deletes.c.entity == entity,
        pending_deletes.c.stream == stream))
    confirmed = [r for r in rows if r.remote_id in before] \
        if settings.confirm_deletes == "second_sweep" and sweep else []
    confirmed_ids = {r.remote_id for r in confirmed}
    rest = [r for r in rows if r.remote_id not in confirmed_ids]
    apply = list(confirmed)
    if rest:
        live = conn.execute(select(func.count()).select_from(table).where(
            table.c.account == account, table.c.remote_id.is_not(None),
            table.c.deleted_at.is_(None))).scalar_one()
        if too_many(len(rest), live, settings.max_delete_fraction):
            log.warning("account=%s stream=%s: %d of %d live %s missing from a complete scan; "
                        "held, not deleted (run `syncd deletes confirm --account %s`)",
                        account, stream, len(rest), live, entity, account,
                        extra={"account": account, "stream": stream})
            conn.execute(insert(pending_deletes), [
                {"account": account, "entity": entity, "remote_id": r.remote_id,
                 "stream": stream, "row_id": r.id,
                 "first_missing_at": (before[r.remote_id].first_missing_at
                                      if r.remote_id in before else writer.now),
                 "last_missing_at": writer.now,
                 "sweeps": (before[r.remote_id].sweeps + 1 if r.remote_id in before else 1)}
                for r in rest])
        else:
            apply += rest
    forget_fingerprints(conn, account, [r.remote_id for r in apply])
    return writer.delete_rows(conn, entity, apply)


def forget_fingerprints(conn: Connection, account: str, remote_ids: Sequence[str]) -> None:
    """A record deleted because a scan missed it is read in full if a later scan lists it
    again: an unchanged list fingerprint would skip it and leave it deleted. Every stream
    of the account forgets it (Happyoffer's line items come from a second list keyed by
    the offer id); another entity's record with the same id is merely re-read once.
    """
    for part in chunks(list(remote_ids)):
        conn.execute(delete(fingerprints).where(
            fingerprints.c.account == account, in_list(conn, fingerprints.c.remote_id, part)))


def confirm(conn: Connection, writer: MirrorWriter, entities: Sequence[str] | None = None
            ) -> dict[str, int]:
    """`syncd deletes confirm`: apply the account's held deletions through the one writer
    operation; returns rows marked deleted per entity. A row the engine wrote after the
    scan that missed it (a later pull or webhook fetch saw the record again) is not
    deleted: the vendor still has it.
    """
    done: dict[str, int] = {}
    query = select(pending_deletes).where(pending_deletes.c.account == writer.account)
    if entities:
        query = query.where(pending_deletes.c.entity.in_(list(entities)))
    held = conn.execute(query).all()
    by_entity: dict[str, list[Any]] = {}
    for row in held:
        by_entity.setdefault(row.entity, []).append(row)
    for entity, items in by_entity.items():
        table = CANONICAL_TABLES[entity]
        missing_at = {i.remote_id: norm(i.last_missing_at) for i in items}
        rows = conn.execute(select(*deletion_columns(table), table.c.synced_at).where(
            table.c.account == writer.account,
            in_list(conn, table.c.remote_id, list(missing_at)))).all()
        gone = [r for r in rows if r.synced_at is None or missing_at[r.remote_id] is None
                or norm(r.synced_at) <= missing_at[r.remote_id]]
        done[entity] = writer.delete_rows(conn, entity, gone)
        forget_fingerprints(conn, writer.account, [r.remote_id for r in gone])
        conn.execute(delete(pending_deletes).where(
            pending_deletes.c.account == writer.account, pending_deletes.c.entity == entity))
    return done


def pending_counts(conn: Connection, account: str | None = None) -> dict[str, dict[str, int]]:
    """Held deletions: account -> entity -> count."""
    query = select(pending_deletes.c.account, pending_deletes.c.entity, func.count()).group_by(
        pending_deletes.c.account, pending_deletes.c.entity).order_by(
        pending_deletes.c.account, pending_deletes.c.entity)
    if account is not None:
        query = query.where(pending_deletes.c.account == account)
    out: dict[str, dict[str, int]] = {}
    for name, entity, count in conn.execute(query):
        out.setdefault(name, {})[entity] = int(count)
    return out


def pending_list(conn: Connection, accounts: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """`syncd deletes list`: every held deletion, oldest first."""
    query = select(pending_deletes).order_by(pending_deletes.c.account, pending_deletes.c.entity,
                                             pending_deletes.c.remote_id)
    if accounts:
        query = query.where(pending_deletes.c.account.in_(list(accounts)))
    return [{"account": r.account, "entity": r.entity, "remote_id": r.remote_id,
             "stream": r.stream, "row_id": r.row_id, "sweeps": r.sweeps,
             "first_missing_at": norm(r.first_missing_at),
             "last_missing_at": norm(r.last_missing_at)}
            for r in conn.execute(query)]

