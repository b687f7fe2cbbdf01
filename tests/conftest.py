"""Shared fixtures: a mirror database on SQLite and on PostgreSQL, runtimes, sandboxes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from syncd.clock import SYSTEM_CLOCK, Clock
from syncd.db.session import Database
from syncd.engine.runtime import Runtime
from syncd.sandbox.base import Sandbox, ServedApp, serve
from syncd.settings import settings_from_dict
from tests import pg


def migrated_mirror(dialect: str, directory: Any) -> Iterator[str]:
    """Yield the URL of an empty, migrated mirror on `dialect`; drop it afterwards."""
    if dialect == "sqlite":
        url = f"sqlite:///{directory}/mirror.db"
        Database(url).upgrade()
        yield url
        return
    admin = pg.server_url()
    if admin is None:
        pytest.skip("SKIP PostgreSQL: no server answered and no postgres binaries to start one")
    url, drop = pg.fresh_database(admin)
    db = Database(url)
    db.upgrade()
    db.dispose()
    yield url
    drop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """An empty, migrated mirror database URL: SQLite file, then a fresh PostgreSQL db."""
    yield from migrated_mirror(request.param, tmp_path)


@pytest.fixture
def sqlite_url(tmp_path: Any) -> str:
    url = f"sqlite:///{tmp_path}/mirror.db"
    Database(url).upgrade()
    return url


@pytest.fixture
def make_runtime() -> Iterator[Callable[..., Runtime]]:
    """Build a Runtime over a database URL and account tables (closed at teardown)."""
    made: list[Runtime] = []

    def build(db_url: str, accounts: list[dict[str, Any]], clock: Clock = SYSTEM_CLOCK,
              **sync: Any) -> Runtime:
        settings = settings_from_dict(
            {"database": {"url": db_url}, "sync": sync, "accounts": accounts})
        runtime = Runtime(settings=settings, db=Database(db_url), clock=clock)
        made.append(runtime)
        return runtime

    yield build
    for runtime in made:
        runtime.close()
        runtime.db.dispose()


@pytest.fixture
def served() -> Iterator[Callable[[Sandbox], ServedApp]]:
    """Serve sandboxes over real HTTP on 127.0.0.1 for the test's duration."""
    apps: list[ServedApp] = []

    def start(sandbox: Sandbox, prefix: str = "") -> ServedApp:
        app = serve(sandbox, prefix=prefix)
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.stop()


def pytest_report_header(config: pytest.Config) -> str:
    url = pg.server_url() if os.environ.get("SYNCD_SKIP_PG") != "1" else None
    return f"syncd PostgreSQL for tests: {url or 'none (PostgreSQL tests will SKIP)'}"
