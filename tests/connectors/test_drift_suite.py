"""The drift suite: every vendor's sandbox says the same things in other words.

Part of the standard connector suite (every registered vendor, unchanged): seeded
hypothesis strategies perturb the sandbox's answers (`syncd.sandbox.drift.DriftPlan`:
enum words recased and replaced by unknown ones, unknown fields top level and nested,
optional fields removed, numbers <-> strings, nulls in non-key fields, date formats
varied, ids as number or string) and a backfill must keep every proposal the sandbox
served, quarantine nothing, and list each unmapped status word in the drift table.
Then a `status_map` entry for those words and `syncd remap` fix the rows with zero
requests.

One sandbox server per test serves a fresh sandbox per example (an ASGI switch), and
each example is its own account in one mirror, so 200 examples stay within seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from syncd.clock import FakeClock
from syncd.db.tables import drift, proposals, quarantine
from syncd.drift import normalize_word
from syncd.engine.pull import Puller, PullResult
from syncd.engine.remap import remap_accounts
from syncd.engine.runtime import Runtime
from syncd.sandbox import sandbox_class
from syncd.sandbox.base import Sandbox, ServedApp
from syncd.sandbox.drift import KINDS, DriftPlan
from syncd.vendors import registered_vendors

VENDORS = registered_vendors()
SIZES = {"companies": 3, "proposals": 6, "max_items": 3}
RPM = 100_000  # the suite tests vocabulary, not the rate limit (the standard suite does)
EXAMPLES = {"sqlite": 200, "postgresql": 25}

plans = st.builds(
    DriftPlan,
    seed=st.integers(0, 2**32),
    rate=st.sampled_from([0.1, 0.25, 0.5, 0.9]),
    kinds=st.frozensets(st.sampled_from(KINDS), min_size=1).map(frozenset),
)


class Switch:
    """An ASGI app that forwards to whichever sandbox the current example uses."""

    def __init__(self) -> None:
        self.target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target(scope, receive, send)


@pytest.fixture
def switch() -> Iterator[tuple[Switch, ServedApp]]:
    app = Switch()
    served = ServedApp(app).start()
    yield app, served
    served.stop()


class Example:
    """One perturbed sandbox and one account backfilled from it."""

    def __init__(self, vendor: str, plan: DriftPlan, db_url: str, number: int,
                 make_runtime: Callable[..., Runtime], switch: tuple[Switch, ServedApp]) -> None:
        self.clock = FakeClock()
        self.sandbox: Sandbox = sandbox_class(vendor)(requests_per_minute=RPM, clock=self.clock)
        self.sandbox.seed_data(**SIZES, seed=plan.seed % 7)
        app, served = switch
        app.target = self.sandbox.app
        self.sandbox._base_url = served.url  # type: ignore[attr-defined]
        self.sandbox.drift = plan
        self.name = f"drift-{number}"
        self.entry = self.sandbox.account_entry(self.name)
        self.entry["requests_per_minute"] = RPM
        self.db_url = db_url
        self.make_runtime = make_runtime
        self.runtime = make_runtime(db_url, [self.entry], self.clock)

    def backfill(self) -> PullResult:
        return Puller(self.runtime, self.runtime.account(self.name)).run(
            sweep=True, kind="backfill")

    def scalar(self, query: Any) -> Any:
        with self.runtime.db.begin() as conn:
            return conn.execute(query).scalar_one()

    def unmapped_statuses(self) -> set[str]:
        with self.runtime.db.begin() as conn:
            return {r[0] for r in conn.execute(
                select(proposals.c.vendor_status).where(
                    proposals.c.account == self.name, proposals.c.status.is_(None),
                    proposals.c.vendor_status.is_not(None)))}

    def drift_words(self) -> set[str]:
        with self.runtime.db.begin() as conn:
            return {r[0] for r in conn.execute(
                select(drift.c.word).where(drift.c.account == self.name,
                                           drift.c.kind == "unmapped_word"))}


    def map_and_remap(self, words: set[str]) -> None:
        """A `status_map` entry per unmapped word, then `syncd remap`: the rows get the
        mapped status and not one request is sent."""
        entry = {**self.entry, "status_map": dict.fromkeys(words, "sent")}
        mapped = self.make_runtime(self.db_url, [entry], self.clock)
        before = len(self.sandbox.requests)
        remap_accounts(mapped, [self.name])
        assert len(self.sandbox.requests) == before, "a remap sent requests"
        with mapped.db.begin() as conn:
            left = conn.execute(select(func.count()).select_from(proposals).where(
                proposals.c.account == self.name, proposals.c.status.is_(None),
                proposals.c.vendor_status.in_(sorted(words)))).scalar_one()
        assert left == 0, f"remap left {left} rows unmapped"


def _counter() -> Iterator[int]:
    number = 0
    while True:
        number += 1
        yield number


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_backfill_keeps_every_record_whatever_words_the_vendor_uses(
    vendor: str, db_url: str, make_runtime: Callable[..., Runtime],
    switch: tuple[Switch, ServedApp],
) -> None:
    dialect = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    numbers = _counter()

    @settings(max_examples=EXAMPLES[dialect], deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(plan=plans)
    def example(plan: DriftPlan) -> None:
        case = Example(vendor, plan, db_url, next(numbers), make_runtime, switch)
        result = case.backfill()
        assert result.ok, result.errors
        held = case.scalar(select(func.count()).select_from(quarantine).where(
            quarantine.c.account == case.name))
        assert held == 0, f"quarantined under {plan}"
        live = case.scalar(select(func.count()).select_from(proposals).where(
            proposals.c.account == case.name, proposals.c.deleted_at.is_(None)))
        assert live >= case.sandbox.expected_counts()["proposals"], plan
        words = case.drift_words()
        unmapped = case.unmapped_statuses()
        for word in unmapped:
            assert normalize_word(word) in words, f"{word!r} missing from the drift table"
        if unmapped:
            case.map_and_remap(unmapped)

    example()
