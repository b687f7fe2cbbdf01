"""syncd.db.session: URLs pick psycopg 3, SQLite runs with the pragmas syncd relies on, a
transaction commits on success and rolls back on an error, and upgrade is idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from syncd.db.session import Database, normalise_url
from syncd.db.tables import companies


@pytest.mark.parametrize(("url", "normal"), [
    ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:///mirror.db", "sqlite:///mirror.db"),
])
def test_normalise_url(url: str, normal: str) -> None:
    assert normalise_url(url) == normal


def test_a_sqlite_mirror_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path}/mirror.db")
    try:
        with db.begin() as conn:
            pragmas = {name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                       for name in ("journal_mode", "foreign_keys", "busy_timeout")}
        assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 60000}
        assert db.is_sqlite and db.dialect == "sqlite"
    finally:
        db.dispose()


def test_begin_commits_on_success_and_rolls_back_on_an_error(mirror_url: str) -> None:
    db = Database(mirror_url)
    try:
        with db.begin() as conn:
            conn.execute(insert(companies).values(account="a", remote_id="kept"))
        with pytest.raises(RuntimeError), db.begin() as conn:
            conn.execute(insert(companies).values(account="a", remote_id="lost"))
            raise RuntimeError("midway")
        with db.begin() as conn:
            assert list(conn.execute(select(companies.c.remote_id)).scalars()) == ["kept"]
        db.upgrade()  # already at head: nothing changes
        with db.begin() as conn:
            assert conn.execute(select(func.count()).select_from(companies)).scalar() == 1
    finally:
        db.dispose()


def test_pool_size_caps_a_postgresql_process_connections() -> None:
    """Four workers of 30 connections each went past a stock server's 100 ("too many
    clients"); `[database] pool_size` bounds the pool and the gate in front of it."""
    db = Database("postgresql://u@127.0.0.1:9/none", pool_size=7)
    try:
        pool = db.engine.pool
        assert pool.size() + pool._max_overflow == 7  # type: ignore[attr-defined]
        assert db.gate.capacity == 7
    finally:
        db.dispose()
