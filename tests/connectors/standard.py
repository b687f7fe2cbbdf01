"""The standard connector suite's machinery: one sandbox + one account, run through syncd.

Every registered vendor runs the same tests (test_standard_suite.py) against its sandbox over
real HTTP on 127.0.0.1. The sandbox and syncd share one `FakeClock`, so the vendor's real
30-requests-per-minute limit is enforced by the sandbox while budget waits take no real time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from syncd.canonical import Entity
from syncd.clock import FakeClock
from syncd.db.tables import CANONICAL_TABLES
from syncd.engine.pull import Puller, PullResult
from syncd.engine.runtime import Runtime
from syncd.sandbox import sandbox_class
from syncd.sandbox.base import Sandbox

SIZES = {"companies": 12, "proposals": 130, "max_items": 6, "seed": 11}


@dataclass
class Case:
    """A served sandbox and a runtime pointed at it."""

    vendor: str
    sandbox: Sandbox
    runtime: Runtime
    clock: FakeClock
    account: str = "acct"

    def pull(self, *, sweep: bool = True, progress: Any = None) -> PullResult:
        return Puller(self.runtime, self.runtime.account(self.account), progress).run(
            sweep=sweep, kind="backfill" if sweep else "pull")

    def live_counts(self) -> dict[str, int]:
        counts = {}
        with self.runtime.db.begin() as conn:
            for name, table in CANONICAL_TABLES.items():
                counts[name] = conn.execute(
                    select(func.count()).select_from(table).where(
                        table.c.account == self.account, table.c.deleted_at.is_(None))
                ).scalar_one()
        return counts

    def rows(self, entity: Entity) -> list[dict[str, Any]]:
        table = CANONICAL_TABLES[entity]
        with self.runtime.db.begin() as conn:
            return [dict(r) for r in conn.execute(
                select(table).where(table.c.account == self.account)).mappings()]


def make_case(
    vendor: str, db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any],
    *, rpm: int = 30, sizes: dict[str, int] | None = None,
    sandbox_options: dict[str, Any] | None = None, **sync: Any,
) -> Case:
    clock = FakeClock()
    sandbox = sandbox_class(vendor)(requests_per_minute=rpm, clock=clock,
                                    **(sandbox_options or {}))
    sandbox.seed_data(**(sizes or SIZES))
    served(sandbox)
    entry = sandbox.account_entry("acct")
    entry["requests_per_minute"] = rpm
    runtime = make_runtime(db_url, [entry], clock, **sync)
    return Case(vendor, sandbox, runtime, clock)
