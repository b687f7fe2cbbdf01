"""The marks on rows written from a listed snapshot and not yet read from the record itself.

A stream whose list records may carry the whole record (`DetailSpec.snapshot`: Automa's
call log holds each quote as Automa sent it) writes that snapshot at once instead of
spending one request per record, and marks the record here. A later read of the record
(the verification in syncd/engine/verify.py, a webhook fetch, a pull that fetched it)
clears the mark. The marks are generic: an entity and a remote id per account, whatever
the vendor.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, func, select

from syncd.db.bulk import insert_rows
from syncd.db.tables import unverified
from syncd.engine.store import chunks, in_list


def mark(conn: Connection, account: str, entity: str, stream: str, remote_ids: Sequence[str],
         now: datetime) -> None:
    """Mark records as written from a snapshot (again: the newest snapshot's time)."""
    insert_rows(conn, unverified,
                [{"account": account, "entity": entity, "remote_id": rid, "stream": stream,
                  "marked_at": now} for rid in dict.fromkeys(remote_ids)],
                ("account", "entity", "remote_id"), update=("stream", "marked_at"))


def clear(conn: Connection, account: str, entity: str, remote_ids: Sequence[str]) -> None:
    """The records were read from the vendor itself: nothing left to verify."""
    for part in chunks(list(remote_ids)):
        conn.execute(delete(unverified).where(
            unverified.c.account == account, unverified.c.entity == entity,
            in_list(conn, unverified.c.remote_id, part)))


def count(conn: Connection, account: str) -> int:
    """How many of the account's records are still unverified (`syncd status`)."""
    return int(conn.execute(select(func.count()).select_from(unverified).where(
        unverified.c.account == account)).scalar_one())


def oldest(conn: Connection, account: str, limit: int) -> list[tuple[str, str]]:
    """Up to `limit` (entity, remote id) pairs to verify, the longest-waiting first."""
    return [(row.entity, row.remote_id) for row in conn.execute(
        select(unverified.c.entity, unverified.c.remote_id)
        .where(unverified.c.account == account)
        .order_by(unverified.c.marked_at, unverified.c.remote_id).limit(limit))]
