"""Engine set-up and migrations for SQLite (embedded) and PostgreSQL (production).

SQLite runs in WAL mode with a busy timeout so the daemon's threads and a user's SQL
client can share the file; PostgreSQL uses psycopg 3.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event

from syncd.db.gate import WriteGate
from syncd.db.json_columns import dump_json

# PostgreSQL connections one process opens at most ([database] pool_size): four workers of
# the former 30 each, plus their LISTEN connections, went past a stock server's
# max_connections = 100, and every connection after that failed ("too many clients")
DEFAULT_POOL_SIZE = 20
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def normalise_url(url: str) -> str:
    """Accept `postgresql://` and `postgres://` and pick psycopg 3 for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, pool_size: int = DEFAULT_POOL_SIZE) -> Engine:
    """A SQLAlchemy engine with the pragmas syncd relies on; on PostgreSQL, at most
    `pool_size` connections (half kept open, half opened when busy).
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, json_serializer=dump_json,
                               connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # checkpoint every 8,000 pages (32 MB) instead of 1,000: a backfill page writes
            # about a megabyte, and each checkpoint rewrites the same index pages again
            cursor.execute("PRAGMA wal_autocheckpoint=8000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=60000")
            cursor.close()
            # pysqlite's own transaction handling defers BEGIN; make writers take the lock
            # at BEGIN so read-then-write transactions never fail on a stale snapshot.
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # No server-side prepared statements: psycopg prepares a query after five runs and
    # PostgreSQL then keeps the plan it chose while a table was empty (a full scan per
    # `IN (...)` lookup once the table has grown).
    kept = max(1, pool_size // 2)
    return create_engine(url, pool_pre_ping=True, pool_size=kept, max_overflow=pool_size - kept,
                         json_serializer=dump_json, connect_args={"prepare_threshold": None})


class Database:
    """The mirror: one engine, transactions, and `upgrade()` to the latest migration."""

    def __init__(self, url: str, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, pool_size)
        # SQLite has one writer, and every transaction takes it at BEGIN; PostgreSQL has
        # a pool smaller than a worker's threads: queue them here, urgent ones first
        # (syncd/db/gate.py)
        self.gate = WriteGate(1 if self.is_sqlite else pool_size)

    @property
    def dialect(self) -> str:
        """The dialect's name, for the few statements SQLite and PostgreSQL spell differently."""
        return self.engine.dialect.name

    @property
    def is_sqlite(self) -> bool:
        """Whether this is SQLite, whose NUMERIC columns hand amounts back as floats."""
        return self.dialect == "sqlite"

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction; committed on success, rolled back on any exception."""
        with self.gate.held(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """This thread's transactions inside the block jump the queue (pushes and webhook
        fetches, whose latency a user sees).
        """
        with self.gate.urgent():
            yield

    @contextmanager
    def first(self) -> Iterator[None]:
        """This thread's transactions inside the block go before every other (lease
        renewal: late, it would hand the worker's accounts to another).
        """
        with self.gate.first():
            yield

    def upgrade(self) -> None:
        """Apply every Alembic migration (idempotent)."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def dispose(self) -> None:
        """Close the pooled connections, so a test or a command leaves no file open."""
        self.engine.dispose()
