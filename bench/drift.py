"""Records kept under drift: each vendor's sandbox answers in other words, syncd backfills.

For every vendor and every kind of drift (`syncd.sandbox.drift.KINDS`), then all kinds at
once, a sandbox of 200 proposals perturbs its answers with a fixed seed; the figure is the
share of the proposals it holds that end up live in the mirror, the records quarantined,
and the drift notes syncd wrote. Then an account `status_map` entry for every unmapped
status word and `syncd remap` must fix those rows without a single request.

    .venv/bin/python -m bench.drift                   # every vendor (about a minute)
    .venv/bin/python -m bench.drift --vendor automa --proposals 50
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from sqlalchemy import func, select

from bench.common import make_runtime, sqlite_url
from syncd.clock import FakeClock
from syncd.db.tables import drift, proposals, quarantine
from syncd.engine.pull import Puller
from syncd.sandbox import sandbox_class
from syncd.sandbox.base import serve
from syncd.sandbox.drift import KINDS, DriftPlan
from syncd.vendors import registered_vendors

RPM = 100_000  # vocabulary, not the rate limit, is measured here
SEED = 11
RATE = 0.3


def _count(runtime: Any, query: Any) -> int:
    with runtime.db.begin() as conn:
        return int(conn.execute(query).scalar_one())


def run_case(vendor: str, kinds: frozenset[str], label: str, proposals_wanted: int) -> dict[str, Any]:
    """One backfill of a perturbed sandbox, and a remap after mapping its unknown words."""
    clock = FakeClock()
    sandbox = sandbox_class(vendor)(requests_per_minute=RPM, clock=clock)
    sandbox.seed_data(companies=max(2, proposals_wanted // 10), proposals=proposals_wanted,
                      max_items=5, seed=3)
    expected = sandbox.expected_counts()["proposals"]
    plan = DriftPlan(SEED, RATE, kinds)
    sandbox.drift = plan
    served = serve(sandbox)
    entry = {**sandbox.account_entry("acct"), "requests_per_minute": RPM}
    runtime = make_runtime(sqlite_url(f"drift-{vendor}-{label}"), entry, clock)
    try:
        started = time.perf_counter()
        result = Puller(runtime, runtime.account("acct")).run(sweep=True, kind="backfill")
        seconds = time.perf_counter() - started
        live = _count(runtime, select(func.count()).select_from(proposals).where(
            proposals.c.deleted_at.is_(None)))
        held = _count(runtime, select(func.count()).select_from(quarantine).where(
            quarantine.c.resolved_at.is_(None)))
        words = _count(runtime, select(func.count()).select_from(drift).where(
            drift.c.kind == "unmapped_word"))
        unmapped = _count(runtime, select(func.count()).select_from(proposals).where(
            proposals.c.status.is_(None), proposals.c.vendor_status.is_not(None)))
        remap = _remap(runtime, entry, clock, sandbox)
    finally:
        runtime.close()
        runtime.db.dispose()
        served.stop()
    return {"vendor": vendor, "kind": label, "served": expected, "kept": min(live, expected),
            "kept_share": min(live, expected) / expected if expected else None,
            "quarantined": held, "ok": result.ok, "errors": result.errors[:3],
            "drift": dict(result.drift()), "unmapped_word_rows": words,
            "status_null": unmapped, "perturbations": dict(plan.applied),
            "seconds": round(seconds, 2), "remap": remap}


def _remap(runtime: Any, entry: dict[str, Any], clock: FakeClock, sandbox: Any) -> dict[str, Any]:
    """Map every unmapped status word to `sent`, remap, count the fixed rows and requests."""
    from syncd.engine.remap import remap_accounts

    with runtime.db.begin() as conn:
        words = sorted({r[0] for r in conn.execute(select(proposals.c.vendor_status).where(
            proposals.c.status.is_(None), proposals.c.vendor_status.is_not(None)))})
    if not words:
        return {"words": 0, "requests": 0, "left_unmapped": 0}
    mapped = make_runtime(runtime.settings.database.url,
                          {**entry, "status_map": dict.fromkeys(words, "sent")}, clock)
    try:
        before = len(sandbox.requests)
        started = time.perf_counter()
        remap_accounts(mapped, ["acct"])
        seconds = time.perf_counter() - started
        still = _count(mapped, select(func.count()).select_from(proposals).where(
            proposals.c.status.is_(None), proposals.c.vendor_status.in_(words)))
        return {"words": len(words), "requests": len(sandbox.requests) - before,
                "left_unmapped": still, "seconds": round(seconds, 2)}
    finally:
        mapped.close()
        mapped.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vendor", action="append", choices=registered_vendors())
    parser.add_argument("--proposals", type=int, default=200)
    args = parser.parse_args()
    cases = [(frozenset({k}), k) for k in KINDS] + [(frozenset(KINDS), "all")]
    out = [run_case(vendor, kinds, label, args.proposals)
           for vendor in args.vendor or registered_vendors() for kinds, label in cases]
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
