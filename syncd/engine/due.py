"""Which accounts have work waiting: the daemon's one cheap look for all of its accounts.

A worker serving hundreds of accounts cannot poll each one for pushes and webhook fetches
every couple of seconds: 200 accounts meant a hundred jobs a second, each a transaction,
and the worker spent its two cores on finding nothing (the scale benchmark's one-worker
run stalled, its lease renewals skipped). Instead one job asks the database, in three
queries whatever the number of accounts, which accounts have a local change not yet
reconciled, an outbox entry due, or a webhook's fetch queued, and starts only their jobs.
Each account's own push and fetch jobs still run, rarely, as a safety net.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, or_, select, union

from syncd.db.tables import CANONICAL_TABLES, change_log, outbox, pending_fetches


@dataclass
class DueWork:
    """Accounts whose push, and whose webhook fetches, have something to do now."""

    push: set[str] = field(default_factory=set)
    fetch: set[str] = field(default_factory=set)


def due_work(conn: Connection, now: float) -> DueWork:
    """The accounts with a change-log row (a local edit to reconcile), a due outbox entry
    (pending and past its backoff, or `sending` under an expired claim), or a queued fetch.
    """
    changed = union(*[
        select(table.c.account).join(change_log, change_log.c.row_id == table.c.id)
        .where(change_log.c.table_name == str(entity))
        for entity, table in CANONICAL_TABLES.items()])
    due = select(outbox.c.account).where(
        or_(outbox.c.status == "pending",
            (outbox.c.status == "sending") & (outbox.c.claimed_until < now)),
        or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now)).distinct()
    push = set(conn.execute(changed).scalars()) | set(conn.execute(due).scalars())
    fetch = set(conn.execute(select(pending_fetches.c.account).distinct()).scalars())
    return DueWork(push, fetch)
