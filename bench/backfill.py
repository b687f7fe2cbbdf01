"""Figures 1-3: backfill requests against the lower bound, the idle cycle, budget use;
and, where a backfill wrote rows from snapshots (Automa), their verification.

One vendor per process, so peak RSS is syncd's alone for that vendor (the sandbox runs in a
child process, see `bench.remote`). The account is limited to the vendor's real 30
requests per minute on a clock that skips the waits but keeps the real working time.

    .venv/bin/python -m bench.backfill --vendor offorte            # the issue's sizes
    .venv/bin/python -m bench.backfill --vendor offorte --quick    # 1/10 of them
    .venv/bin/python -m bench.backfill --vendor automa --proposals 2000
    .venv/bin/python -m bench.backfill --vendor offorte --virtual-only   # no working time
    .venv/bin/python -m bench.backfill --vendor strawblond --sandbox trashed_includes_live=true
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from sqlalchemy import func, select

from bench.common import make_runtime, peak_rss_mb, sqlite_url
from bench.remote import RemoteSandbox, SharedClock
from syncd.db.tables import CANONICAL_TABLES, request_log
from syncd.engine.pull import Puller
from syncd.engine.runtime import Runtime
from syncd.engine.verify import verify_account

FULL = {"companies": 2000, "proposals": 10000, "max_items": 20, "seed": 1}
QUICK = {"companies": 200, "proposals": 1000, "max_items": 20, "seed": 1}
RPM = 30


def snapshot(runtime: Runtime) -> dict[str, tuple[int, int, int]]:
    """Per canonical table: rows, sum of sync_rev, highest id (any write changes one)."""
    out = {}
    with runtime.db.begin() as conn:
        for name, table in CANONICAL_TABLES.items():
            row = conn.execute(select(func.count(), func.coalesce(func.sum(table.c.sync_rev), 0),
                                      func.coalesce(func.max(table.c.id), 0))
                               .select_from(table)).one()
            out[name] = (int(row[0]), int(row[1]), int(row[2]))
    return out


def budget_use(sent: list[float], per_minute: int = RPM) -> dict[str, Any]:
    """Requests per 60-s window from the first send, over the full windows (the last one is
    partial: the backfill ended in it), and the most seen in any sliding 60-s window."""
    if not sent:
        return {"windows": 0, "use": None, "max_any_window": 0}
    sent = sorted(sent)
    first = sent[0]
    counts: dict[int, int] = {}
    for t in sent:
        counts[int((t - first) // 60)] = counts.get(int((t - first) // 60), 0) + 1
    last = max(counts)
    full = [counts.get(k, 0) for k in range(last)]  # every window but the last
    most, lo = 0, 0
    for hi, t in enumerate(sent):
        while sent[lo] <= t - 60:
            lo += 1
        most = max(most, hi - lo + 1)
    use = sum(full) / (per_minute * len(full)) if full else None
    return {"windows": len(full), "use": use, "max_any_window": most,
            "span_minutes": round((sent[-1] - first) / 60, 1)}


def run_vendor(vendor: str, sizes: dict[str, int], *, live: bool = True,
               options: dict[str, Any] | None = None) -> dict[str, Any]:
    with RemoteSandbox(vendor, sizes, rpm=RPM, clock=SharedClock(live=live),
                       options=options) as sandbox:
        clock = sandbox.clock
        entry = {**sandbox.entry, "requests_per_minute": RPM}
        runtime = make_runtime(sqlite_url(f"backfill-{vendor}"), entry, clock)
        try:
            return _measure(vendor, sizes, sandbox, runtime)
        finally:
            runtime.close()
            runtime.db.dispose()


def _measure(vendor: str, sizes: dict[str, int], sandbox: RemoteSandbox,
             runtime: Runtime) -> dict[str, Any]:
    account = runtime.account("acct")
    bound = sandbox.lower_bound_requests()
    expected = sandbox.expected_counts()
    clock = sandbox.clock
    t0, v0 = time.perf_counter(), clock.time()
    result = Puller(runtime, account).run(sweep=True, kind="backfill")
    wall = time.perf_counter() - t0
    virtual = clock.time() - v0
    seen = sandbox.requests
    with runtime.db.begin() as conn:
        sent = list(conn.execute(select(request_log.c.sent_at)
                                 .where(request_log.c.account == "acct")).scalars())
    after = snapshot(runtime)
    rows = {name: count for name, (count, _, _) in after.items()}
    total_rows = sum(rows.values())
    backfill = {
        "ok": result.ok, "errors": result.errors, "requests": len(seen), "lower_bound": bound,
        "ratio": len(seen) / bound if bound else None,
        "status_429": sum(1 for r in seen if r.status == 429),
        "details": result.total("details"), "pages": result.total("pages"),
        "rows": rows, "expected": expected,
        "complete": all(rows.get(k, 0) >= v for k, v in expected.items()),
        "wall_seconds": round(wall, 2), "virtual_minutes": round(virtual / 60, 1),
        "records_per_second": round(total_rows / wall, 1) if wall else None,
        "line_items_per_second": round(rows.get("line_items", 0) / wall, 1) if wall else None,
        "ms_per_request": round(1000 * wall / max(1, len(seen)), 1),
    }
    budget = budget_use(sent)

    sandbox.reset_log()
    t0 = time.perf_counter()
    idle = Puller(runtime, account).run(sweep=False, kind="pull")
    idle_wall = time.perf_counter() - t0
    seen = sandbox.requests
    again = snapshot(runtime)
    changed = {name: (after[name], again[name]) for name in after if after[name] != again[name]}
    idle_out = {
        "ok": idle.ok, "errors": idle.errors, "requests": len(seen),
        "list_pages": idle.total("pages"), "details": idle.total("details"),
        "writes_requests": sum(1 for r in seen if r.method != "GET"),
        "rows_written": sum(s.writes.written for s in idle.streams),
        "tables_changed": {k: list(v) for k, v in changed.items()},
        "status_429": sum(1 for r in seen if r.status == 429),
        "wall_seconds": round(idle_wall, 2),
    }
    return {"vendor": vendor, "sizes": sizes, "seed_seconds": round(sandbox.seed_seconds, 1),
            "sandbox_options": sandbox.options,
            "backfill": backfill, "budget": budget, "idle": idle_out,
            "verify": _verify(runtime, sandbox), "peak_rss_mb": peak_rss_mb()}


def _verify(runtime: Runtime, sandbox: RemoteSandbox) -> dict[str, Any]:
    """After the backfill and the idle cycle: verifying the rows written from snapshots
    (Automa's call log; other vendors write none), what `syncd run` does with spare
    budget. Run here with the whole budget, so its time is the most it takes idle.
    """
    sandbox.reset_log()
    clock = sandbox.clock
    t0, v0 = time.perf_counter(), clock.time()
    result = verify_account(runtime, "acct")
    seen = sandbox.requests
    return {**result.as_dict(), "requests_seen": len(seen),
            "status_429": sum(1 for r in seen if r.status == 429),
            "wall_seconds": round(time.perf_counter() - t0, 2),
            "virtual_minutes": round((clock.time() - v0) / 60, 1)}


def sizes_for(proposals: int) -> dict[str, int]:
    """The issue's shape at another scale: one company per five proposals, 1-20 items."""
    return {"companies": max(1, proposals // 5), "proposals": proposals, "max_items": 20,
            "seed": 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vendor", required=True)
    parser.add_argument("--quick", action="store_true", help="1/10 of the issue's sizes")
    parser.add_argument("--proposals", type=int, help="another size (companies = 1/5 of it)")
    parser.add_argument("--virtual-only", action="store_true",
                        help="time moves only by budget waits (the connector suite's FakeClock)")
    parser.add_argument("--sandbox", action="append", default=[], metavar="NAME=VALUE",
                        help="a sandbox constructor option (JSON value), e.g. "
                             "trashed_includes_live=true")
    args = parser.parse_args()
    options = {name: json.loads(value) for name, _, value in
               (item.partition("=") for item in args.sandbox)}
    sizes = QUICK if args.quick else FULL
    if args.proposals:
        sizes = sizes_for(args.proposals)
    out = run_vendor(args.vendor, sizes, live=not args.virtual_only, options=options)
    print(json.dumps({**out, "clock": "virtual only" if args.virtual_only else "live + virtual"}))


if __name__ == "__main__":
    main()
