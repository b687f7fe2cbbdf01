"""Which process serves which account.

PostgreSQL: a lease row per account with an owner and an expiry. A worker takes free or
expired leases up to its fair share (accounts / live workers, from the workers' own
heartbeat rows), renews them well before expiry, and gives extras back; a dead worker's
accounts are taken over once its leases expire. The update is a single conditional
statement, so two workers can never both believe they hold one account.

SQLite: one daemon per database file, enforced by an OS file lock that dies with the
process; a second `syncd run` refuses to start with a clear message.
"""

from __future__ import annotations

import fcntl
import math
import os
from collections.abc import Callable, Collection
from typing import IO

from sqlalchemy import and_, delete, or_, select, update

from syncd.clock import Clock
from syncd.db.bulk import dialect_insert
from syncd.db.session import Database
from syncd.db.tables import leases
from syncd.errors import LeaseError

WORKER_PREFIX = "__worker__:"
CHUNK = 500  # accounts per statement (bound parameters stay well under every limit)


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[i:i + CHUNK] for i in range(0, len(items), CHUNK)]


class SqliteSingleton:
    """Holds an exclusive lock file next to the SQLite database for the process lifetime."""

    def __init__(self, db_url: str) -> None:
        path = db_url.split("///", 1)[-1] or "syncd.db"
        self.path = f"{path}.run.lock"
        self.handle: IO[str] | None = None

    def acquire(self) -> None:
        """Take the SQLite database's lock file, so a second daemon refuses to start."""
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until exit
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise LeaseError(
                f"another `syncd run` already uses this SQLite database ({self.path} is locked); "
                "SQLite supports one daemon — use PostgreSQL to run several workers"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self.handle = handle

    def release(self) -> None:
        """Give the lock file up, so the next daemon can start."""
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


class LeaseManager:
    """Account leases for one worker on a shared PostgreSQL database."""

    def __init__(self, db: Database, worker: str, clock: Clock, ttl: float = 30.0) -> None:
        self.db = db
        self.worker = worker
        self.clock = clock
        self.ttl = ttl
        self.held: set[str] = set()

    def heartbeat(self) -> int:
        """Record this worker as alive; returns the number of live workers."""
        now = self.clock.time()
        with self.db.begin() as conn:
            key = WORKER_PREFIX + self.worker
            stmt = dialect_insert(conn, leases).values(account=key, owner=self.worker,
                                                       expires_at=now + self.ttl)
            conn.execute(stmt.on_conflict_do_update(
                index_elements=["account"], set_={"expires_at": now + self.ttl}))
            live = conn.execute(select(leases.c.account).where(
                leases.c.account.like(WORKER_PREFIX + "%"), leases.c.expires_at > now)).all()
        return max(1, len(live))

    def balance(self, accounts: list[str], busy: Collection[str] = (),
                retire: Callable[[str], bool] | None = None) -> set[str]:
        """Renew held leases, take free/expired ones up to a fair share, release extras.

        An extra with a job in flight (`busy`) is kept until a later call: given back now,
        another worker would start on it while this one still pages through it (two
        workers' pulls of one account, the newer one clearing the older one's scan).
        `retire(account)`, asked just before an extra is given back, says whether it still
        has none (and lets the caller start no job on it from then on); False keeps it.

        A fixed number of statements whatever the number of accounts, each lease's expiry
        counted from the moment it is written: one transaction per account took a worker
        with 200 accounts longer than the lease TTL under load, so the leases it took first
        had expired by the time it finished, its pulls found them expired and skipped, and
        the worker sat idle (the scale benchmark's one-worker run).
        """
        workers = self.heartbeat()
        share = math.ceil(len(accounts) / workers)
        with self.db.begin() as conn:
            stmt = dialect_insert(conn, leases).on_conflict_do_nothing()
            conn.execute(stmt, [{"account": a, "owner": "", "expires_at": 0.0} for a in accounts])
        held: set[str] = set()
        mine = [a for a in accounts if a in self.held]
        for part in _chunks(mine):
            held |= self._take(part, len(part))
        for part in _chunks([a for a in accounts if a not in held]):
            if len(held) >= share:
                break
            held |= self._take(part, share - len(held))
        extras = [a for a in sorted(held, key=lambda a: (a not in busy, a))[share:]
                  if a not in busy]
        for account in extras:
            if retire is not None and not retire(account):
                continue  # a job started on it since `busy` was read: a later call
            self.release(account)
            held.discard(account)
        self.held = held
        return held

    def _take(self, candidates: list[str], limit: int) -> set[str]:
        """Of `candidates`, renew or take (ours, or expired) at most `limit`, in one
        transaction; the condition is in the UPDATE itself, so two workers never both win.
        """
        if limit <= 0 or not candidates:
            return set()
        with self.db.begin() as conn:
            now = self.clock.time()
            free = or_(leases.c.owner == self.worker, leases.c.expires_at < now)
            chosen = list(conn.execute(
                select(leases.c.account).where(leases.c.account.in_(candidates), free)
                .order_by(leases.c.account).limit(limit)
                .with_for_update(skip_locked=True)).scalars())
            if not chosen:
                return set()
            return set(conn.execute(
                update(leases).where(leases.c.account.in_(chosen), free)
                .values(owner=self.worker, expires_at=self.clock.time() + self.ttl)
                .returning(leases.c.account)).scalars())

    def holds(self, account: str) -> bool:
        """True while this worker's lease on `account` is unexpired (checked in the db)."""
        with self.db.begin() as conn:
            owner = conn.execute(select(leases.c.owner).where(
                and_(leases.c.account == account, leases.c.expires_at > self.clock.time()))
            ).scalar()
        return owner == self.worker

    def release(self, account: str) -> None:
        """Give one account's lease up, so another worker takes it at once instead of after expiry."""
        with self.db.begin() as conn:
            conn.execute(update(leases).where(leases.c.account == account,
                                              leases.c.owner == self.worker)
                         .values(owner="", expires_at=0.0))
        self.held.discard(account)

    def release_all(self) -> None:
        """Give every lease up and remove this worker's heartbeat, on a clean shutdown."""
        for account in list(self.held):
            self.release(account)
        with self.db.begin() as conn:
            conn.execute(delete(leases).where(leases.c.account == WORKER_PREFIX + self.worker))
