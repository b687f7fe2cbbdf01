"""The test suite's PostgreSQL fallback: a throwaway cluster from the Debian binaries."""

from __future__ import annotations

import pytest

from tests import pg


def test_throwaway_cluster_starts_and_serves_fresh_databases() -> None:
    if pg._binaries() is None:
        pytest.skip("SKIP PostgreSQL: no postgres binaries on this machine")
    admin = pg._throwaway_cluster()
    assert admin is not None and pg._answers(admin)
    url, drop = pg.fresh_database(admin)
    assert pg._answers(url)
    drop()
