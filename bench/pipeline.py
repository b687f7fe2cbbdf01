"""Figure 4: the local pipeline, from recorded pages, without HTTP.

Recording (once, cached under bench/.work/pages/): a syncd backfill of the Quick Quote
sandbox (100 quotes per page, line items embedded) through a transport that writes every
response body to its own file. Replay: the same `Puller` on a fresh mirror, through a
transport that reads the body of each request from its file, so the whole pull pipeline runs
(JSON decode, fingerprints, pydantic validation, mapping, `MirrorWriter.apply`, checkpoints)
with no socket and no sandbox. Pages are read one at a time: memory does not grow with the
number of pages, which two data sizes side by side show.

    .venv/bin/python -m bench.pipeline --items 200000 --db sqlite
    .venv/bin/python -m bench.pipeline --items 200000 --db postgresql
    .venv/bin/python -m bench.pipeline --items 200000 --stages    # time per stage
    .venv/bin/python -m bench.pipeline --items 200000 --floor     # SQLite alone, same rows
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bench.common import WORK, log, make_runtime, peak_rss_mb, pg_database, sqlite_url
from syncd import jsontext
from syncd.clock import FakeClock
from syncd.db.session import Database
from syncd.db.tables import CANONICAL_TABLES, line_items
from syncd.engine.pull import Puller

VENDOR = "quickquote"
ITEMS_PER_QUOTE = 10.5  # the seed's mean with max_items=20 (1-20 items, uniform)
UNLIMITED = 1_000_000_000


def request_key(request: httpx.Request) -> str:
    query = "&".join(sorted(request.url.query.decode().split("&")))
    text = f"{request.method} {request.url.path}?{query}"
    return hashlib.sha1(text.encode()).hexdigest()[:20]


class RecordingTransport(httpx.BaseTransport):
    """Forwards to the real transport and keeps every response body in its own file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        body = response.read()
        (self.folder / f"{request_key(request)}.json").write_bytes(body)
        return httpx.Response(response.status_code, headers=response.headers, content=body)


class ReplayTransport(httpx.BaseTransport):
    """Answers each request with its recorded body, read from disk when asked for."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = self.folder / f"{request_key(request)}.json"
        if not path.exists():
            return httpx.Response(404, json={"message": f"not recorded: {request.url}"})
        return httpx.Response(200, content=path.read_bytes(),
                              headers={"content-type": "application/json"})


def record(items: int) -> Path:
    """Recorded pages for about `items` line items (cached; recorded once)."""
    from syncd.sandbox import sandbox_class
    from syncd.sandbox.base import serve

    proposals = int(items / ITEMS_PER_QUOTE)
    folder = WORK / "pages" / f"{VENDOR}-{proposals}"
    index = folder / "index.json"
    if index.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    log(f"recording {VENDOR} pages for {proposals} quotes (once; cached in {folder})")
    clock = FakeClock()
    sandbox = sandbox_class(VENDOR)(requests_per_minute=UNLIMITED, clock=clock)
    sandbox.seed_data(companies=max(1, proposals // 5), proposals=proposals, max_items=20, seed=1)
    served = serve(sandbox)
    try:
        entry = {**sandbox.account_entry("acct"), "requests_per_minute": UNLIMITED}
        runtime = make_runtime(sqlite_url("record"), entry, clock,
                               transport_factory=lambda _s: RecordingTransport(folder))
        result = Puller(runtime, runtime.account("acct")).run(sweep=True, kind="backfill")
        runtime.close()
        if not result.ok:
            raise RuntimeError(f"recording failed: {result.errors}")
        index.write_text(json.dumps({"entry": entry, "expected": sandbox.expected_counts(),
                                     "pages": result.total("pages")}))
    finally:
        served.stop()
    return folder


class DriverClock:
    """Seconds spent inside the database driver's execute, executemany and commit calls:
    the database's own work (SQLite runs in this process), which no change to syncd's
    Python can remove. Wraps the three calls on this engine's dialect object only."""

    def __init__(self, dialect: Any) -> None:
        self.seconds = 0.0
        for name in ("do_execute", "do_executemany", "do_commit"):
            setattr(dialect, name, self._timed(getattr(dialect, name)))

    def _timed(self, call: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
        return timed


@contextlib.contextmanager
def mirror(db: str, tag: str) -> Iterator[str]:
    if db == "sqlite":
        yield sqlite_url(f"pipeline-{tag}")
    else:
        with pg_database(f"pipeline_{tag}") as url:
            yield url


def replay(folder: Path, db: str) -> dict[str, Any]:
    """One backfill from the recorded pages into a fresh mirror; rates and peak RSS."""
    info = json.loads((folder / "index.json").read_text())
    # the same path on a port nobody listens on: any request not recorded fails loudly
    entry = {**info["entry"],
             "base_url": re.sub(r"^http://[^/]+", "http://127.0.0.1:9", info["entry"]["base_url"])}
    with mirror(db, folder.name.replace("-", "_")) as url:
        runtime = make_runtime(url, entry, FakeClock(),
                               transport_factory=lambda _s: ReplayTransport(folder))
        driver = DriverClock(runtime.db.engine.dialect)
        try:
            started, cpu_started = time.perf_counter(), time.process_time()
            result = Puller(runtime, runtime.account("acct")).run(sweep=True, kind="backfill")
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            in_driver = driver.seconds
            with runtime.db.begin() as conn:
                rows = {name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                        for name, t in CANONICAL_TABLES.items()}
                items = conn.execute(select(func.count()).select_from(line_items)).scalar_one()
        finally:
            runtime.close()
            runtime.db.dispose()
    return {
        "db": db, "ok": result.ok, "errors": result.errors, "pages": result.total("pages"),
        "rows": rows, "expected": info["expected"],
        "complete": all(rows[k] >= v for k, v in info["expected"].items()),
        "line_items": items, "seconds": round(wall, 2), "cpu_seconds": round(cpu, 2),
        "driver_seconds": round(in_driver, 2),
        "line_items_per_second_ceiling": round(items / in_driver) if in_driver else None,
        "line_items_per_second": round(items / wall), "peak_rss_mb": peak_rss_mb(),
    }


JSON_COLUMNS = ("raw", "base")


def floor(folder: Path, *, without_json: bool = False) -> dict[str, Any]:
    """What SQLite alone needs for the replay's writes: the rows the SQLite replay left in
    its mirror, read back and inserted into a fresh migrated mirror (syncd's pragmas,
    indexes, foreign keys and triggers) by plain DB-API `executemany`, in as many
    transactions as the replay had pages (each page's proposals with their line items and
    fingerprints; companies and contacts, a few thousand rows, in the first). No mapping,
    merging or parameter building: the rate this gives is the most any Python on top of
    this schema could reach here. `without_json` leaves `raw` and `base` NULL (what their
    bytes cost)."""
    tag = folder.name.replace("-", "_")
    source_path = WORK / f"pipeline-{tag}.db"
    if not source_path.exists():
        replay(folder, "sqlite")
    pages = json.loads((folder / "index.json").read_text())["pages"]
    target = Database(sqlite_url(f"floor-{tag}"))
    source = sqlite3.connect(source_path)

    def rows(table: str, where: str = "", args: tuple[Any, ...] = ()) -> tuple[str, list[Any]]:
        names = [row[1] for row in source.execute(f"PRAGMA table_info({table})")]
        picked = [f"NULL AS {c}" if without_json and c in JSON_COLUMNS else c for c in names]
        found = source.execute(f"SELECT {', '.join(picked)} FROM {table} {where} ORDER BY id",
                               args).fetchall()
        return (f"INSERT INTO {table} ({', '.join(names)}) "
                f"VALUES ({', '.join('?' * len(names))})", found)

    try:
        ids = [r[0] for r in source.execute("SELECT id FROM proposals ORDER BY id")]
        fps = source.execute("SELECT account, stream, remote_id, fingerprint FROM fingerprints "
                             "ORDER BY rowid").fetchall()
        size, fp_size = -(-len(ids) // pages), -(-len(fps) // pages)
        raw = target.engine.raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        seconds = 0.0
        for page in range(pages):
            part = ids[page * size:(page + 1) * size]
            if not part:
                break
            span = (part[0], part[-1])
            batches = [rows("companies"), rows("contacts")] if page == 0 else []
            batches += [rows("proposals", "WHERE id BETWEEN ? AND ?", span),
                        rows("line_items", "WHERE proposal_id BETWEEN ? AND ?", span),
                        ("INSERT INTO fingerprints (account, stream, remote_id, fingerprint) "
                         "VALUES (?, ?, ?, ?)", fps[page * fp_size:(page + 1) * fp_size])]
            started = time.perf_counter()
            driver.execute("BEGIN IMMEDIATE")
            for insert, batch in batches:
                if batch:
                    driver.executemany(insert, batch)
            driver.execute("COMMIT")
            seconds += time.perf_counter() - started
        items = driver.execute("SELECT count(*) FROM line_items").fetchone()[0]
        raw.close()
    finally:
        source.close()
        target.dispose()
    return {"without_json": without_json, "transactions": pages, "line_items": items,
            "seconds": round(seconds, 2), "line_items_per_second": round(items / seconds)}


def stages(folder: Path, db: str, pages: int = 40) -> dict[str, Any]:
    """Where the time goes, stage by stage, over the first `pages` recorded pages (held in
    memory for this split only): decode, fingerprint, validate, map (the connector's
    declarations), and the engine's `MirrorWriter.apply` (merge + upsert + commit)."""
    from syncd.canonical import Bundle
    from syncd.engine.store import MirrorWriter

    info = json.loads((folder / "index.json").read_text())
    files = sorted(p for p in folder.glob("*.json") if p.name != "index.json")[:pages]
    with mirror(db, f"stages_{folder.name.replace('-', '_')}") as url:
        runtime = make_runtime(url, info["entry"], FakeClock())
        try:
            account = runtime.account("acct")
            stream = account.connector.streams[0]
            clock = time.perf_counter
            took: dict[str, float] = {}
            # every page is held in memory here (the pipeline holds one): with the
            # collector on, its passes over those objects would be billed to whichever
            # stage allocates, so each stage is timed with it off
            gc.collect()
            gc.disable()
            started = clock()
            bodies = [jsontext.loads(p.read_bytes())["data"] for p in files]
            took["decode JSON"] = clock() - started
            records = [r for body in bodies for r in body]
            items = sum(len(r.get("line_items") or []) for r in records)
            started = clock()
            for record in records:
                stream.fingerprint(record)
            took["fingerprint"] = clock() - started
            started = clock()
            models = [stream.model.model_validate(r) for r in records]
            took["validate (pydantic)"] = clock() - started
            started = clock()
            bundles = [stream.map(account.connector, m, r) for m, r in zip(models, records,
                                                                            strict=True)]
            took["map"] = clock() - started
            driver = DriverClock(runtime.db.engine.dialect)
            started = clock()
            done = 0
            for body in bodies:
                page = Bundle()
                for bundle in bundles[done:done + len(body)]:
                    page.extend(bundle)
                done += len(body)
                with runtime.db.begin() as conn:
                    MirrorWriter("acct", "manual", runtime.clock.now()).apply(conn, page, stream.name)
            merge = clock() - started
            took["merge + upsert, syncd's Python (MirrorWriter.apply)"] = merge - driver.seconds
            took["database driver: execute, executemany, commit"] = driver.seconds
        finally:
            gc.enable()
            runtime.close()
            runtime.db.dispose()
    total = sum(took.values())
    return {"db": db, "pages": len(files), "line_items": items,
            "stages": {k: {"seconds": round(v, 2), "line_items_per_second": round(items / v)}
                       for k, v in took.items()},
            "total_seconds": round(total, 2), "line_items_per_second": round(items / total)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--record-only", action="store_true")
    parser.add_argument("--profile", help="write a cProfile of the replay to this file")
    parser.add_argument("--stages", action="store_true", help="time each stage apart")
    parser.add_argument("--floor", action="store_true",
                        help="SQLite alone: the replay's rows re-inserted by the DB-API")
    args = parser.parse_args()
    folder = record(args.items)
    if args.record_only:
        print(json.dumps({"recorded": str(folder)}))
        return
    if args.stages:
        print(json.dumps(stages(folder, args.db)))
        return
    if args.floor:
        print(json.dumps({"with_json": floor(folder),
                          "without_json": floor(folder, without_json=True)}))
        return
    if args.profile:
        import cProfile

        with cProfile.Profile() as prof:
            out = replay(folder, args.db)
        prof.dump_stats(args.profile)
    else:
        out = replay(folder, args.db)
    print(json.dumps({"items_wanted": args.items, **out}))


if __name__ == "__main__":
    main()
