"""How a running daemon learns of local edits at once, not at the next push interval.

A user's UPDATE or INSERT of the mirror fires the change-log trigger (syncd/db/triggers.py).
On PostgreSQL the trigger also NOTIFYs `syncd_change` with the row's account, and the
watcher LISTENs on its own connection: the daemon pushes that account within moments. On
SQLite, which has no notifications, the watcher reads the newest change-log id twice a
second (a primary-key lookup, never a table scan) and nudges every account when it grew;
a push with nothing to plan sends nothing. The ids are never reused (AUTOINCREMENT,
migration 0008): reconcile deletes the rows it consumed, and a reused id would not grow.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from syncd.db.session import Database
from syncd.db.tables import change_log
from syncd.db.triggers import NOTIFY_CHANNEL

log = logging.getLogger("syncd.daemon")
SQLITE_CHECK_SECONDS = 0.5

OnChange = Callable[[str | None], None]  # the account edited, or None: "some account"


def watch(db: Database, on_change: OnChange, stop: threading.Event) -> threading.Thread:
    """Start the watcher thread for `db`; it ends when `stop` is set."""
    target = _listen if not db.is_sqlite else _poll
    thread = threading.Thread(target=target, args=(db, on_change, stop),
                              name="syncd-local-changes", daemon=True)
    thread.start()
    return thread


def newest_change(db: Database) -> int:
    """The change log's newest id (0 when empty); urgent, a push waits for it."""
    with db.urgent(), db.begin() as conn:
        return int(conn.execute(select(func.max(change_log.c.id))).scalar() or 0)


def _poll(db: Database, on_change: OnChange, stop: threading.Event) -> None:
    seen = newest_change(db)
    while not stop.wait(SQLITE_CHECK_SECONDS):
        try:
            newest = newest_change(db)
        except Exception:  # a locked or briefly unavailable database: try again soon
            log.debug("local-change check failed", exc_info=True)
            continue
        if newest > seen:
            seen = newest
            on_change(None)


def conninfo(url: str) -> str:
    """A psycopg connection string for the SQLAlchemy URL (its driver suffix dropped)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _listen(db: Database, on_change: OnChange, stop: threading.Event) -> None:
    pause = 1.0
    while not stop.is_set():
        try:
            with psycopg.connect(conninfo(db.url), autocommit=True) as conn:
                conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                pause = 1.0
                on_change(None)  # what was edited while no one listened
                while not stop.is_set():
                    for note in conn.notifies(timeout=0.5):
                        on_change(note.payload or None)
        except psycopg.Error as exc:
            # the server restarted or is unreachable: the scheduled pushes still run, and
            # listening starts again, less and less often while it keeps failing
            log.warning("listening for local changes failed (%s); again in %.0f s",
                        type(exc).__name__, pause)
            stop.wait(pause)
            pause = min(pause * 2, 60.0)
