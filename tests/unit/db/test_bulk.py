"""Bulk writes and what keeps them fast on PostgreSQL, asserted on both dialects.

`insert_rows` must do exactly what SQLAlchemy's INSERT … ON CONFLICT would (the fast form
is a transport detail), the change-log triggers of migration 0002 must record what 0001's
recorded, and a pull that fills PostgreSQL tables refreshes the planner's statistics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import func, select, text

from syncd.clock import FakeClock
from syncd.db.bulk import insert_rows
from syncd.db.session import MIGRATIONS, Database
from syncd.db.tables import change_log, companies, fingerprints
from syncd.engine.pull import ANALYZE_FIRST, ANALYZE_LOCK, Puller
from syncd.engine.runtime import Runtime
from syncd.sandbox.base import Sandbox, ServedApp
from syncd.sandbox.quickquote import QuickQuoteSandbox
from tests.conftest import migrated_mirror

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _company(rid: str, name: str, rev: Any = 1) -> dict[str, Any]:
    return {"account": "a", "remote_id": rid, "name": name, "raw": {"s": {"id": rid, "n": [1.5]}},
            "base": {"name": name}, "sync_rev": rev, "synced_at": NOW}


def test_insert_rows_inserts_skips_clashes_and_returns_ids_where_cheap(mirror_url: str) -> None:
    db = Database(mirror_url)
    try:
        with db.begin() as conn:
            first = insert_rows(conn, companies, [_company("1", "A"), _company("2", "B")],
                                ("account", "remote_id"), returning=("remote_id", "id"))
            again = insert_rows(conn, companies, [_company("2", "B2"), _company("3", "C")],
                                ("account", "remote_id"), returning=("remote_id", "id"))
        with db.begin() as conn:
            rows = {r.remote_id: r for r in conn.execute(select(companies))}
    finally:
        db.dispose()
    assert {k: (r.name, r.raw, r.base, r.sync_rev) for k, r in rows.items()} == {
        "1": ("A", {"s": {"id": "1", "n": [1.5]}}, {"name": "A"}, 1),
        "2": ("B", {"s": {"id": "2", "n": [1.5]}}, {"name": "B"}, 1),  # clash: first one kept
        "3": ("C", {"s": {"id": "3", "n": [1.5]}}, {"name": "C"}, 1),
    }
    if db.dialect == "postgresql":  # the ids come back with the insert itself
        assert dict(first or []) == {"1": rows["1"].id, "2": rows["2"].id}
        assert dict(again or []) == {"3": rows["3"].id}
    else:
        assert first is None and again is None


def test_insert_rows_updates_on_conflict(mirror_url: str) -> None:
    db = Database(mirror_url)
    try:
        for fp in ("old", "new"):
            with db.begin() as conn:
                insert_rows(conn, fingerprints, [
                    {"account": "a", "stream": "s", "remote_id": r, "fingerprint": f"{fp}{r}"}
                    for r in ("1", "2")], ("account", "stream", "remote_id"),
                    update=("fingerprint",))
        with db.begin() as conn:
            found = dict(conn.execute(select(fingerprints.c.remote_id,
                                             fingerprints.c.fingerprint)).all())
    finally:
        db.dispose()
    assert found == {"1": "new1", "2": "new2"}


def test_a_column_mixing_python_types_still_inserts(mirror_url: str) -> None:
    """One PostgreSQL array cannot carry int and bool together: SQLAlchemy's path takes it."""
    db = Database(mirror_url)
    try:
        with db.begin() as conn:
            insert_rows(conn, companies, [_company("1", "A", 1), _company("2", "B", True)],
                        ("account", "remote_id"))
        with db.begin() as conn:
            revs = dict(conn.execute(select(companies.c.remote_id, companies.c.sync_rev)).all())
    finally:
        db.dispose()
    assert revs == {"1": 1, "2": 1}


def _alembic(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def test_migration_0002_replaces_the_triggers_and_logs_the_same(dialect: str, tmp_path: Any) -> None:
    mirror = migrated_mirror(dialect, tmp_path)
    url = next(mirror)
    db = Database(url)
    try:
        config = _alembic(db.url)
        command.downgrade(config, "0001")
        command.upgrade(config, "head")
        with db.begin() as conn:
            conn.execute(companies.insert().values(_company("1", "A")))
            conn.execute(text("UPDATE companies SET sync_rev = sync_rev + 1, name = 'engine'"))
            conn.execute(text("UPDATE companies SET name = 'user'"))  # a user's edit
            conn.execute(text("INSERT INTO companies (account, name) VALUES ('a', 'local')"))
            if dialect == "postgresql":
                names = sorted(conn.execute(text(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'companies'::regclass "
                    "AND NOT tgisinternal")).scalars())
            else:
                names = sorted(conn.execute(text(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name = 'companies'")).scalars())
            logged = [tuple(r) for r in conn.execute(
                select(change_log.c.table_name, change_log.c.op).order_by(change_log.c.id))]
    finally:
        db.dispose()
        next(mirror, None)
    assert names == ["trg_companies_insert", "trg_companies_update"]
    assert logged == [("companies", "update"), ("companies", "insert")]


@pytest.mark.pg
def test_a_filling_pull_refreshes_postgresql_statistics(
    tmp_path: Any, make_runtime: Callable[..., Runtime],
    served: Callable[[Sandbox], ServedApp],
) -> None:
    """Without it the planner believes fresh tables empty and key lookups turn quadratic."""
    mirror = migrated_mirror("postgresql", tmp_path)
    url = next(mirror)
    try:
        clock = FakeClock()
        sandbox = QuickQuoteSandbox(requests_per_minute=10_000, clock=clock)
        sandbox.seed_data(companies=20, proposals=250, max_items=20, seed=2)
        served(sandbox)
        runtime = make_runtime(url, [{**sandbox.account_entry("acct"),
                                      "requests_per_minute": 10_000}], clock)
        result = Puller(runtime, runtime.account("acct")).run(sweep=True, kind="backfill")
        assert result.ok and result.total("records") == 250
        with runtime.db.begin() as conn:
            items = conn.execute(text("SELECT count(*) FROM line_items")).scalar_one()
            estimated = conn.execute(text(
                "SELECT reltuples FROM pg_class WHERE relname = 'line_items'")).scalar_one()
        assert items > ANALYZE_FIRST
        assert estimated > 0  # -1 until the table is analysed (PostgreSQL 14+)
        runtime.db.dispose()
    finally:
        next(mirror, None)


@pytest.mark.pg
def test_a_pull_does_not_queue_behind_another_statistics_refresh(
    tmp_path: Any, make_runtime: Callable[..., Runtime],
) -> None:
    """50 accounts backfilling together reached the ANALYZE threshold together, and each
    page commit waited for the others' ANALYZE (bench/latency.py): while one refresh holds
    the advisory lock, another pull skips its own at once."""
    mirror = migrated_mirror("postgresql", tmp_path)
    url = next(mirror)
    try:
        runtime = make_runtime(url, [{"name": "acct", "vendor": "quickquote",
                                      "base_url": "http://127.0.0.1:9",
                                      "auth": {"api_key": "k" * 12}}])
        other = Database(url)
        puller = Puller(runtime, runtime.account("acct"))
        puller._rows_written = ANALYZE_FIRST
        try:
            with other.begin() as holder:
                holder.execute(select(func.pg_advisory_xact_lock(ANALYZE_LOCK)))
                started = time.monotonic()
                with runtime.db.begin() as conn:
                    conn.execute(text("SET LOCAL statement_timeout = '5s'"))
                    puller._refresh_statistics(conn)
                assert time.monotonic() - started < 2
            assert puller._analyze_at == 2 * ANALYZE_FIRST  # not again at the next page
            with runtime.db.begin() as conn:
                analysed = conn.execute(text(
                    "SELECT reltuples FROM pg_class WHERE relname = 'line_items'")).scalar_one()
            assert analysed == -1  # skipped: never analysed (PostgreSQL 14+)
            puller._rows_written = 4 * ANALYZE_FIRST
            with runtime.db.begin() as conn:
                puller._refresh_statistics(conn)
            with runtime.db.begin() as conn:
                analysed = conn.execute(text(
                    "SELECT reltuples FROM pg_class WHERE relname = 'line_items'")).scalar_one()
            assert analysed != -1  # the lock free: refreshed
        finally:
            other.dispose()
            runtime.db.dispose()
    finally:
        next(mirror, None)


def test_json_columns_hold_what_sqlalchemy_would_write(mirror_url: str) -> None:
    """Dicts in JSON columns go straight to the engine's serializer; every other value
    (a list, JSON null, a string) still goes through SQLAlchemy's own processor."""
    values: list[Any] = [{"s": {"ü": "ß", "n": [1, 2.5, None]}}, {}, [1, "a"], None, "text"]
    db = Database(mirror_url)
    try:
        with db.begin() as conn:
            insert_rows(conn, companies,
                        [{**_company(str(i), "bulk"), "raw": v} for i, v in enumerate(values)],
                        ("account", "remote_id"))
            conn.execute(companies.insert(), [
                {**_company(f"s{i}", "sqlalchemy"), "raw": v} for i, v in enumerate(values)])
        with db.begin() as conn:
            rows = {r.remote_id: r.raw for r in conn.execute(select(companies))}
            stored = {r.remote_id: r.raw for r in conn.execute(
                text("SELECT remote_id, CAST(raw AS TEXT) AS raw FROM companies"))}
    finally:
        db.dispose()
    for i, value in enumerate(values):
        assert rows[str(i)] == rows[f"s{i}"] == value
        assert (stored[str(i)] is None) == (stored[f"s{i}"] is None)
