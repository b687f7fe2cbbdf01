"""Figure 5: a push cycle's reconcile over a large mirror, with no, 0.1 % and 1 % local edits.

The mirror is filled by a real backfill of 1,000 Quick Quote quotes (sandbox in-process, no
rate limit) and then grown to the table size by copying those proposals under new remote
ids (an engine-style insert: no change-log entry). Edits are plain-SQL `UPDATE`s of the
title of real proposals, as a user's SQL client would make them; the change-log triggers
record them, and `Pusher.reconcile()` turns them into outbox entries (nothing is sent).

    .venv/bin/python -m bench.reconcile --rows 100000
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from sqlalchemy import delete, func, insert, select, text

from bench.common import make_runtime, pg_database, sqlite_url
from syncd.clock import FakeClock
from syncd.db.tables import change_log, outbox, proposals
from syncd.engine.pull import Puller
from syncd.engine.push import Pusher
from syncd.engine.runtime import Runtime
from syncd.sandbox import sandbox_class
from syncd.sandbox.base import serve

SEEDED = 1000
UNLIMITED = 1_000_000_000


def build(url: str, rows: int) -> Runtime:
    """A mirror with `rows` proposals: SEEDED real ones, the rest copies of them."""
    clock = FakeClock()
    sandbox = sandbox_class("quickquote")(requests_per_minute=UNLIMITED, clock=clock)
    sandbox.seed_data(companies=200, proposals=SEEDED, max_items=20, seed=3)
    served = serve(sandbox)
    try:
        entry = {**sandbox.account_entry("acct"), "requests_per_minute": UNLIMITED}
        runtime = make_runtime(url, entry, clock)
        result = Puller(runtime, runtime.account("acct")).run(sweep=True, kind="backfill")
        assert result.ok, result.errors
    finally:
        served.stop()
    with runtime.db.begin() as conn:
        real = [dict(r) for r in conn.execute(select(proposals)).mappings()]
    copies: list[dict[str, Any]] = []
    made = len(real)
    while made < rows:
        source = real[made % len(real)]
        copy = {k: v for k, v in source.items() if k != "id"}
        copy["remote_id"] = f"{source['remote_id']}-copy{made}"
        copies.append(copy)
        made += 1
        if len(copies) == 5000 or made == rows:
            with runtime.db.begin() as conn:
                conn.execute(insert(proposals), copies)
            copies = []
    return runtime


def edit(runtime: Runtime, count: int) -> list[int]:
    """Plain-SQL title edits of `count` real proposals (the triggers log them)."""
    with runtime.db.begin() as conn:
        ids = list(conn.execute(select(proposals.c.id).where(
            ~proposals.c.remote_id.like("%-copy%")).order_by(proposals.c.id).limit(count)).scalars())
        for part in range(0, len(ids), 500):
            chunk = ",".join(str(i) for i in ids[part:part + 500])
            conn.execute(text(f"UPDATE proposals SET title = COALESCE(title, '') || ' (edited)' "
                              f"WHERE id IN ({chunk})"))
    return ids


def timed_reconcile(runtime: Runtime) -> tuple[float, int]:
    pusher = Pusher(runtime, runtime.account("acct"))
    started = time.perf_counter()
    planned = pusher.reconcile()
    return time.perf_counter() - started, len(planned)


def measure(runtime: Runtime, rows: int) -> dict[str, Any]:
    with runtime.db.begin() as conn:
        table_rows = conn.execute(select(func.count()).select_from(proposals)).scalar_one()
    idle = [timed_reconcile(runtime)[0] for _ in range(5)]
    out: dict[str, Any] = {"proposals": table_rows,
                           "no_change_seconds": round(statistics.median(idle), 4), "changed": []}
    for share in (0.001, 0.01):
        count = max(1, int(rows * share))
        edit(runtime, count)
        with runtime.db.begin() as conn:
            logged = conn.execute(select(func.count()).select_from(change_log)).scalar_one()
        seconds, planned = timed_reconcile(runtime)
        out["changed"].append({"share": share, "edits": count, "logged": logged,
                               "planned": planned, "seconds": round(seconds, 4),
                               "ms_per_change": round(1000 * seconds / count, 3)})
        with runtime.db.begin() as conn:  # the next step starts from an empty outbox
            conn.execute(delete(outbox))
    return out


def run(db: str, rows: int) -> dict[str, Any]:
    if db == "sqlite":
        runtime = build(sqlite_url(f"reconcile-{rows}"), rows)
        try:
            return {"db": db, **measure(runtime, rows)}
        finally:
            runtime.close()
            runtime.db.dispose()
    with pg_database(f"reconcile_{rows}") as url:
        runtime = build(url, rows)
        try:
            return {"db": db, **measure(runtime, rows)}
        finally:
            runtime.close()
            runtime.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    print(json.dumps(run(args.db, args.rows)))


if __name__ == "__main__":
    main()
