"""Unit-test fixtures: one migrated mirror per dialect per session, wiped between tests.

`db_url` (tests/conftest.py) creates and migrates a fresh database for every test, which
costs 1-3 s per test on PostgreSQL. `mirror_url` gives the same guarantee (an empty,
migrated database, on SQLite and PostgreSQL) by emptying every table instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from syncd.db.session import Database
from syncd.db.tables import metadata
from tests.conftest import migrated_mirror


@pytest.fixture(scope="session",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def _shared_mirror(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from migrated_mirror(request.param, tmp_path_factory.mktemp("mirror"))


def wipe(url: str) -> None:
    """Empty every syncd table (schema, triggers and migrations stay)."""
    db = Database(url)
    try:
        tables = [t.name for t in reversed(metadata.sorted_tables)]
        with db.begin() as conn:
            for name in tables:  # DELETE beats TRUNCATE on near-empty tables
                conn.execute(text(f'DELETE FROM "{name}"'))
    finally:
        db.dispose()


@pytest.fixture
def mirror_url(_shared_mirror: str) -> Any:
    """An empty, migrated mirror database URL (SQLite, then PostgreSQL)."""
    wipe(_shared_mirror)
    return _shared_mirror


@pytest.fixture
def mirror_db(mirror_url: str) -> Iterator[Database]:
    """A `Database` on `mirror_url`, disposed after the test."""
    db = Database(mirror_url)
    yield db
    db.dispose()
