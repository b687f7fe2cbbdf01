"""Figure: how fresh `syncd run` keeps one account, idle and while it backfills 50 others.

Over real HTTP, with the daemon as a subprocess (`python -m syncd --config FILE run`):

- local edit -> vendor: a plain-SQL `UPDATE` of a proposal's title is committed in the
  mirror; the latency ends when the measured sandbox logs the write that carries it;
- webhook -> mirror: the sandbox changes an offer and delivers a signed webhook to the
  daemon's receiver; the latency ends when the mirror row holds the new title.

Each phase measures both, interleaved, on one StrawBlond account; requests per event are
what that sandbox saw. "load" runs the same with 50 other QuickQuote accounts, each with
its own 30/min budget, backfilling a shop large enough to last the whole phase (served by
a sandbox in its own process, so serving them does not slow the measuring process). Both
on SQLite and, when it answers, PostgreSQL at 127.0.0.1:5432 (a fresh database per run).

    .venv/bin/python -m bench.latency            # 40 events per phase, a few minutes
    .venv/bin/python -m bench.latency --quick    # 20 events per phase
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from bench.common import WORK, log, machine, pg_available, pg_database, sqlite_url
from syncd.db.session import Database
from syncd.db.tables import proposals, request_log, runs
from syncd.demo import write_settings
from syncd.sandbox import sandbox_class
from syncd.sandbox.base import Sandbox, free_port, serve

SECRET = "whsec-bench-latency-0123456789"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
LOAD_ACCOUNTS = 50
LOAD_RPM = 30
MEASURED_RPM = 120  # an edit and a webhook every `--gap` seconds stay inside it
ROOT_DIR = Path(__file__).resolve().parents[1]
TARGETS = {"push_p50": 2.0, "push_p99": 5.0, "webhook_p50": 2.0}


def percentile(values: list[float], q: float) -> float | None:
    """The q-quantile (nearest rank), None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


# ---- the load: 50 accounts' backfills, served by a sandbox in its own process -------------------
def serve_load(proposals_count: int) -> None:
    """`--serve-load`: seed and serve the load shop, print its settings entry, serve until
    stdin closes (the parent ended)."""
    box = sandbox_class("quickquote")(requests_per_minute=1_000_000)
    box.seed_data(companies=20, proposals=proposals_count, max_items=3, seed=11)
    served = serve(box)
    print(json.dumps(box.account_entry("load")), flush=True)
    sys.stdin.read()
    served.stop()


@contextlib.contextmanager
def load_sandbox(proposals_count: int) -> Iterator[dict[str, Any]]:
    proc = subprocess.Popen([sys.executable, "-m", "bench.latency", "--serve-load",
                             str(proposals_count)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=ROOT_DIR)
    try:
        assert proc.stdout is not None
        yield json.loads(proc.stdout.readline())
    finally:
        with contextlib.suppress(Exception):
            assert proc.stdin is not None
            proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- one phase ----------------------------------------------------------------------------------
class Phase:
    """One daemon over one mirror: the measured StrawBlond account, optionally the load."""

    def __init__(self, db_url: str, box: Sandbox, load: dict[str, Any] | None, tag: str):
        self.db_url = db_url
        self.box = box
        self.db = Database(db_url)
        self.listen = f"127.0.0.1:{free_port()}"
        entry = box.account_entry("measured")
        entry["requests_per_minute"] = MEASURED_RPM
        entries = [entry]
        for i in range(LOAD_ACCOUNTS if load else 0):
            entries.append({**load, "name": f"load{i:02d}",  # type: ignore[dict-item]
                            "requests_per_minute": LOAD_RPM})
        self.config = WORK / f"latency-{tag}.toml"
        write_settings(self.config, db_url, entries)
        self.config.write_text(self.config.read_text(encoding="utf-8").replace(
            "[sync]\n", f'[webhooks]\nlisten = "{self.listen}"\n\n[sync]\n', 1),
            encoding="utf-8")
        self.log_path = WORK / f"latency-{tag}.daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
        env["PYTHONPATH"] = str(ROOT_DIR)
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "syncd", "--config", str(self.config), "run"],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT_DIR)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.measured_rows() > 0 and self._pulled():
                return
            time.sleep(0.1)
        raise RuntimeError(f"the daemon never pulled the measured account: {self.log_path}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.db.dispose()

    def _pulled(self) -> bool:
        with self.db.begin() as conn:
            return conn.execute(select(runs.c.id).where(
                runs.c.account == "measured", runs.c.status == "ok")).first() is not None

    def measured_rows(self) -> int:
        with self.db.begin() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM proposals WHERE account = 'measured'")).scalar() or 0)

    def drafts(self) -> list[tuple[int, str]]:
        with self.db.begin() as conn:
            return [(r.id, r.remote_id) for r in conn.execute(
                select(proposals.c.id, proposals.c.remote_id).where(
                    proposals.c.account == "measured", proposals.c.status == "draft",
                    proposals.c.deleted_at.is_(None)).order_by(proposals.c.id))]

    def title(self, remote_id: str) -> str | None:
        with self.db.begin() as conn:
            value: str | None = conn.execute(select(proposals.c.title).where(
                proposals.c.account == "measured", proposals.c.remote_id == remote_id)).scalar()
        return value

    def local_edit(self, row: tuple[int, str], value: str, timeout: float) -> dict[str, Any]:
        """UPDATE the title; wait for the sandbox to log the write carrying it."""
        mark = len(self.box.requests)
        with self.db.begin() as conn:
            conn.execute(text("UPDATE proposals SET title = :v WHERE id = :id"),
                         {"v": value, "id": row[0]})
        committed = time.time()
        deadline = committed + timeout
        while time.time() < deadline:
            with self.box.lock:
                fresh = self.box.requests[mark:]
            hit = next((r for r in fresh if r.method in WRITES and value.encode() in r.body
                        and r.status and r.status < 300), None)
            if hit is not None:
                return {"seconds": hit.at - committed, "mark": mark}
            time.sleep(0.01)
        return {"seconds": None, "mark": mark}

    def webhook(self, remote_id: str, value: str, url: str, timeout: float) -> dict[str, Any]:
        """Change the offer at the vendor and announce it; wait for the mirror to hold it."""
        mark = len(self.box.requests)
        self.box.remote_edit_title(remote_id, value)
        sent = time.time()
        self.box.emit_webhook("offer.updated", remote_id, url=url)
        deadline = sent + timeout
        while time.time() < deadline:
            if self.title(remote_id) == value:
                return {"seconds": time.time() - sent, "mark": mark}
            time.sleep(0.01)
        return {"seconds": None, "mark": mark}

    def load_status(self, since: float) -> dict[str, Any]:
        """What the load accounts did during the phase: requests per minute, backfills done."""
        with self.db.begin() as conn:
            sent = int(conn.execute(select(text("count(*)")).select_from(request_log).where(
                request_log.c.account != "measured", request_log.c.sent_at >= since)).scalar()
                or 0)
            done = int(conn.execute(text(
                "SELECT count(DISTINCT account) FROM runs WHERE account <> 'measured' "
                "AND status = 'ok'")).scalar() or 0)
        minutes = max((time.time() - since) / 60, 1e-9)
        return {"load_requests_per_minute": round(sent / minutes),
                "load_budget_per_minute": LOAD_ACCOUNTS * LOAD_RPM,
                "load_backfills_finished": done}


def requests_between(box: Sandbox, marks: list[int]) -> list[int]:
    """Requests the sandbox saw from each event's mark to the next's."""
    with box.lock:
        total = len(box.requests)
    bounds = [*marks, total]
    return [bounds[i + 1] - bounds[i] for i in range(len(marks))]


def summary(seconds: list[float | None]) -> dict[str, Any]:
    got = [s for s in seconds if s is not None]
    return {"events": len(seconds), "missed": len(seconds) - len(got),
            "p50": _round(percentile(got, 0.5)), "p99": _round(percentile(got, 0.99)),
            "max": _round(max(got) if got else None),
            "mean": _round(statistics.fmean(got) if got else None)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def run_phase(db: str, db_url: str, load: dict[str, Any] | None, events: int,
              gap: float) -> dict[str, Any]:
    box = sandbox_class("strawblond")(requests_per_minute=MEASURED_RPM * 2,
                                      webhook_secret=SECRET)
    box.seed_data(companies=4, proposals=30, max_items=3, seed=5)
    served = serve(box)
    tag = f"{db}-{'load' if load else 'idle'}"
    phase = Phase(db_url, box, load, tag)
    try:
        phase.start()
        if load:
            time.sleep(3)  # the load accounts' first pages are in flight
        drafts = phase.drafts()
        assert len(drafts) >= 2, "the measured shop needs two draft offers"
        edited, announced = drafts[0], drafts[-1]
        url = f"http://{phase.listen}/webhooks/measured"
        started = time.time()
        box.reset_log()
        pushes: list[dict[str, Any]] = []
        hooks: list[dict[str, Any]] = []
        for i in range(events):
            tick = time.time()
            pushes.append(phase.local_edit(edited, f"bench local edit {i}", timeout=20))
            hooks.append(phase.webhook(announced[1], f"bench remote edit {i}", url, timeout=20))
            time.sleep(max(0.0, gap - (time.time() - tick)))
        time.sleep(1.0)  # requests an event caused after it was seen
        counts = requests_between(box, [m for pair in zip(pushes, hooks, strict=True)
                                        for m in (pair[0]["mark"], pair[1]["mark"])])
        push_reqs, hook_reqs = counts[0::2], counts[1::2]
        with box.lock:
            seen = list(box.requests)
        out: dict[str, Any] = {
            "db": db, "load": bool(load), "seconds": round(time.time() - started, 1),
            "push": {**summary([p["seconds"] for p in pushes]),
                     "requests_per_event": round(statistics.fmean(push_reqs), 2)},
            "webhook": {**summary([h["seconds"] for h in hooks]),
                        "requests_per_event": round(statistics.fmean(hook_reqs), 2),
                        "list_requests": sum(1 for r in seen if r.method == "GET"
                                             and r.path.rstrip("/").endswith("/offer"))},
        }
        if load:
            out.update(phase.load_status(started))
        return out
    finally:
        phase.stop()
        served.stop()


def fresh_mirror(db: str, tag: str) -> contextlib.AbstractContextManager[str]:
    """A fresh, migrated mirror for one phase (each phase backfills from nothing)."""
    if db == "sqlite":
        return contextlib.nullcontext(sqlite_url(f"latency-{tag}"))
    return pg_database("latency")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 events per phase")
    parser.add_argument("--events", type=int, help="edits (and webhooks) per phase")
    parser.add_argument("--gap", type=float, default=1.5, help="seconds between events")
    parser.add_argument("--load-proposals", type=int, default=12_000,
                        help="quotes in the load shop (100 per page; 30 pages/min/account)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), action="append")
    parser.add_argument("--serve-load", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_load:
        serve_load(args.serve_load)
        return
    events = args.events or (20 if args.quick else 40)
    postgres = pg_available()
    load_before = [round(x, 2) for x in os.getloadavg()]
    phases = []
    wanted = [db for db in ("sqlite", "postgresql") if (postgres or db == "sqlite")
              and (not args.db or db in args.db)]
    with load_sandbox(args.load_proposals) as load:
        for db in wanted:
            for loaded in (None, load):
                tag = "load" if loaded else "idle"
                with fresh_mirror(db, tag) as url:
                    log(f"latency: {db} {tag}, {events} events")
                    phases.append(run_phase(db, url, loaded, events, args.gap))
                    log(f"latency:   {json.dumps(phases[-1])}")
    print(json.dumps({"machine": machine(), "load_before": load_before,
                      "load_after": [round(x, 2) for x in os.getloadavg()],
                      "events": events, "gap_seconds": args.gap,
                      "load_accounts": LOAD_ACCOUNTS, "load_rpm": LOAD_RPM,
                      "measured_rpm": MEASURED_RPM, "load_proposals": args.load_proposals,
                      "targets": TARGETS, "phases": phases}))


if __name__ == "__main__":
    main()
