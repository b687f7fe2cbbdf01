"""200 accounts on 4 worker processes, and memory per idle account (issue 16).

PostgreSQL (a fresh database per run) holds the mirror; five sandbox processes
(`bench.scale_sandboxes`, one per vendor) serve 40 accounts each, every account its own
sandbox with its own budget at the vendors' real 30 requests/min; N `syncd run` processes
share the database. Measured and asserted, per worker count:

- every account converges: its backfill, then one local edit (pushed) and one remote edit
  (pulled) per account reach the other side; the time from start is the figure;
- no account sends more than its budget in any 60 s window, and none is answered 429 (from
  the sandboxes' own request logs);
- one worker per account at a time: every request the sandboxes saw came from the worker
  the leases table named as the account's owner at that moment (a request is attributed to
  a worker through its TCP client port, which /proc says which process holds);
- with 2+ workers, kill -9 of one hands its accounts over within the lease TTL plus one
  renewal interval, and a local edit of each of them is then pushed by a survivor.

Per-worker RSS and CPU come from /proc/PID/status and /proc/PID/stat. Memory per idle
account: the RSS of one `syncd run` serving all N accounts once they are synced and idle,
minus that of one serving a single account, over N - 1 (target < 1 MB).

    .venv/bin/python -m bench.scale             # 200 accounts; 1, 2 and 4 workers (~15 min)
    .venv/bin/python -m bench.scale --quick     # 50 accounts (idle memory still with 200)
    .venv/bin/python -m bench.scale --idle-only --idle-accounts 200
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select, text

from bench.common import WORK, log, pg_available, pg_database
from bench.scale_sandboxes import SIZES
from syncd.canonical import Entity, ProposalStatus
from syncd.clock import SYSTEM_CLOCK
from syncd.db.session import Database
from syncd.db.tables import proposals
from syncd.engine.reconcile import Reconciler, primary_raw
from syncd.engine.runtime import Runtime
from syncd.errors import VendorRefused, VendorUnsupported
from syncd.settings import settings_from_dict
from syncd.vendors import registered_vendors

ROOT = Path(__file__).resolve().parents[1]
RPM = 30
LEASE_TTL = 10.0
PULL_INTERVAL = 20
IDLE_PROPOSALS = 3
TICK = os.sysconf("SC_CLK_TCK")


# ---- processes --------------------------------------------------------------------------------
class Sandboxes:
    """One `bench.scale_sandboxes` process per vendor, spoken to over its stdin/stdout."""

    def __init__(self, per_vendor: int, proposals: int = SIZES["proposals"]) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.entries: list[dict[str, Any]] = []
        self.vendor_of: dict[str, str] = {}
        for vendor in registered_vendors():
            self.procs[vendor] = subprocess.Popen(
                [sys.executable, "-m", "bench.scale_sandboxes", "--vendor", vendor,
                 "--accounts", str(per_vendor), "--rpm", str(RPM),
                 "--proposals", str(proposals)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        for vendor, proc in self.procs.items():
            assert proc.stdout is not None
            entries = json.loads(proc.stdout.readline())
            self.entries += entries
            self.vendor_of.update({e["name"]: vendor for e in entries})
        self.pids = [p.pid for p in self.procs.values()]

    def ask(self, vendor: str, command: dict[str, Any]) -> Any:
        """Send one command to a vendor's process and return its answer."""
        proc = self.procs[vendor]
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(command) + "\n")
        proc.stdin.flush()
        got = json.loads(proc.stdout.readline())
        if isinstance(got, dict) and "error" in got:
            raise RuntimeError(f"{vendor} sandboxes: {got['error']}")
        return got

    def ask_all(self, command: dict[str, Any]) -> dict[str, Any]:
        """The merged answers of every vendor's process."""
        out: dict[str, Any] = {}
        for vendor in self.procs:
            out.update(self.ask(vendor, command))
        return out

    def close(self) -> None:
        """Stop every sandbox process."""
        for proc in self.procs.values():
            with contextlib.suppress(Exception):
                assert proc.stdin is not None
                proc.stdin.write('{"op": "quit"}\n')
                proc.stdin.flush()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(str(value))


def write_settings(path: Path, db_url: str, entries: list[dict[str, Any]], port: int,
                   pull_interval: int) -> Path:
    """A `syncd` settings file for one worker (its own webhook port, the shared accounts)."""
    lines = ["[database]", f"url = {_toml(db_url)}", "", "[sync]",
             f"pull_interval_seconds = {pull_interval}", "push_interval_seconds = 2",
             f"lease_ttl_seconds = {LEASE_TTL}", "", "[webhooks]",
             f'listen = "127.0.0.1:{port}"', ""]
    for entry in entries:
        lines.append("[[accounts]]")
        lines += [f"{k} = {_toml(v)}" for k, v in entry.items() if not isinstance(v, dict)]
        for key, table in entry.items():
            if isinstance(table, dict):
                lines.append(f"[accounts.{key}]")
                lines += [f"{k} = {_toml(v)}" for k, v in table.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def start_worker(config: Path, name: str) -> subprocess.Popen[bytes]:
    """One `syncd run` process, its output in bench/.work/logs."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SYNCD_CONFIG", None)
    (WORK / "logs").mkdir(parents=True, exist_ok=True)  # --idle-only runs no `run()` first
    out: IO[bytes] = open(WORK / "logs" / f"scale-{name}.log", "wb")  # noqa: SIM115
    return subprocess.Popen([sys.executable, "-m", "syncd", "--config", str(config), "run"],
                            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)


def proc_usage(pid: int) -> dict[str, float]:
    """RSS, peak RSS (MB) and CPU seconds of a live process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    kb = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines()
          if line.startswith(("VmRSS", "VmHWM"))}
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    return {"rss_mb": round(kb["VmRSS"] / 1024, 1), "peak_rss_mb": round(kb["VmHWM"] / 1024, 1),
            "cpu_s": round(cpu, 1), "threads": int(status.split("Threads:")[1].split()[0])}


Connection = tuple[int, int]  # (client port, server port)


def _socket_ports() -> dict[int, Connection]:
    """Socket inode -> (local, remote) TCP port, for every IPv4/IPv6 TCP socket. The pair,
    not the local port alone: Linux gives one local port to connections to different
    servers, and two workers talking to two sandbox accounts often held the same one (the
    first 200-account run blamed 187 requests on a worker that held another account)."""
    out: dict[int, Connection] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                out[int(cols[9])] = (int(cols[1].rsplit(":", 1)[1], 16),
                                     int(cols[2].rsplit(":", 1)[1], 16))
    return out


def _ports_of(pid: int, inodes: dict[int, Connection]) -> set[Connection]:
    ports = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    port = inodes.get(int(target[8:-1]))
                    if port is not None:
                        ports.add(port)
    return ports


class Watcher(threading.Thread):
    """Samples, twice a second, which worker holds which client port and which account."""

    def __init__(self, db_url: str) -> None:
        super().__init__(daemon=True)
        self.db = Database(db_url)
        self.workers: dict[str, int] = {}  # worker label -> pid
        self.ports: dict[Connection, list[tuple[float, str]]] = {}
        self.owners: dict[str, list[tuple[float, str]]] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.5):
            now = time.time()
            inodes = _socket_ports()
            for label, pid in list(self.workers.items()):
                for port in _ports_of(pid, inodes):
                    seen = self.ports.setdefault(port, [])
                    if not seen or seen[-1][1] != label:
                        seen.append((now, label))
            with contextlib.suppress(Exception), self.db.begin() as conn:
                rows = conn.execute(text(
                    "SELECT account, owner, expires_at FROM leases "
                    "WHERE account NOT LIKE '\\_\\_worker\\_\\_:%'")).all()
                labels = {f":{pid}": label for label, pid in self.workers.items()}
                for account, owner, expires in rows:
                    # the owner is the worker's name, host:pid; kept as its label here
                    held = labels.get(owner[owner.rfind(":"):], owner) if (
                        owner and expires > now) else ""
                    seen_owner = self.owners.setdefault(account, [])
                    if not seen_owner or seen_owner[-1][1] != held:
                        seen_owner.append((now, held))

    def worker_at(self, port: Connection, at: float) -> str | None:
        """The worker that held this connection nearest to the moment `at`."""
        seen = self.ports.get(port)
        if not seen:
            return None
        return min(seen, key=lambda s: abs(s[0] - at))[1]

    def owners_near(self, account: str, at: float, slack: float = 1.0) -> set[str]:
        """Lease owners sampled within `slack` seconds of `at` (and the one in force then)."""
        seen = self.owners.get(account, [])
        times = [s[0] for s in seen]
        i = bisect.bisect_right(times, at) - 1
        near = {s[1] for s in seen if abs(s[0] - at) <= slack}
        if i >= 0:
            near.add(seen[i][1])
        if i + 1 < len(seen):  # sampled up to 0.5 s late
            near.add(seen[i + 1][1]) if seen[i + 1][0] - at <= slack else None
        return near


# ---- the mirror ---------------------------------------------------------------------------------
def mirrored(db: Database) -> dict[str, int]:
    """Live proposals per account in the mirror."""
    with db.begin() as conn:
        return {a: n for a, n in conn.execute(text(
            "SELECT account, count(*) FROM proposals WHERE deleted_at IS NULL "
            "AND remote_id IS NOT NULL GROUP BY account")).all()}


def editable_pair(runtime: Runtime, name: str, prefix: str, allowed: list[str] | None
                  ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None:
    """A proposal of the account the connector would push a change of (as the two-way
    suite's `editable` picks it), the change (a new title; for Happyoffer, whose API only
    sends offers, status -> sent), and another proposal for the remote edit (a user may
    retitle any proposal in the vendor's UI)."""
    account = runtime.account(name)
    reconciler = Reconciler(account, runtime.clock.now())
    with runtime.db.begin() as conn:
        rows = [dict(r) for r in conn.execute(select(proposals).where(
            proposals.c.account == name, proposals.c.remote_id.is_not(None),
            proposals.c.deleted_at.is_(None)).order_by(proposals.c.id)).mappings()]
        for changes in ({"title": f"{prefix}-{name}"}, {"status": ProposalStatus.SENT.value}):
            for row in rows:
                if row.get(next(iter(changes))) == next(iter(changes.values())) or (
                        allowed is not None and str(row["remote_id"]) not in allowed):
                    continue
                plain = reconciler._plain(conn, Entity.PROPOSALS, row)
                children = reconciler._children(conn, Entity.PROPOSALS, row)
                try:
                    planned = account.connector.plan_update(
                        Entity.PROPOSALS, row["remote_id"], changes, plain,
                        primary_raw(row.get("raw")), children)
                except (VendorRefused, VendorUnsupported):
                    continue
                if planned:
                    other = next(r for r in rows if r["id"] != row["id"])
                    return row, other, changes
    return None


def wait_for(what: str, check: Any, timeout: float, every: float = 1.0) -> float:
    """Poll `check` until true; returns when (time.time()), raises after `timeout`."""
    deadline = time.time() + timeout
    while True:
        if check():
            return time.time()
        if time.time() > deadline:
            raise TimeoutError(f"{what}: not reached in {timeout:.0f} s")
        time.sleep(every)


Edit = tuple[str, str, str, str]  # mirror id, remote id, column, value


def local_edit(db: Database, edits: dict[str, Edit]) -> float:
    """Plain-SQL edits, as a user's own tool would make them; returns when."""
    with db.begin() as conn:
        for row_id, _, column, value in edits.values():
            assert column in ("title", "status")
            conn.execute(text(f"UPDATE proposals SET {column} = :v WHERE id = :i"),
                         {"v": value, "i": int(row_id)})
    return time.time()


def pushed(boxes: Sandboxes, edits: dict[str, Edit], since: float) -> set[str]:
    """Accounts whose edit reached their sandbox: the title it now stores, or (a status
    change) a write to that record answered 2xx since the edit."""
    out = set()
    for vendor in boxes.procs:
        mine = {a: [rid, column, value, since] for a, (_, rid, column, value) in edits.items()
                if boxes.vendor_of[a] == vendor}
        if mine:
            out |= set(boxes.ask(vendor, {"op": "pushed", "wanted": mine}))
    return out


def make_edits(runtime: Runtime, boxes: Sandboxes, names: list[str], prefix: str,
               required: bool = True) -> tuple[dict[str, Edit], dict[str, tuple[str, str]]]:
    """Per account: the local edit, and the (mirror id, remote id) to retitle remotely."""
    local: dict[str, Edit] = {}
    remote: dict[str, tuple[str, str]] = {}
    writable = boxes.ask_all({"op": "writable"})
    for name in names:
        found = editable_pair(runtime, name, prefix, writable[name])
        if found is None and not required:
            continue
        if found is None:
            raise RuntimeError(f"{name}: no proposal whose change the connector pushes")
        row, other, changes = found
        column, value = next(iter(changes.items()))
        local[name] = (str(row["id"]), str(row["remote_id"]), column, str(value))
        remote[name] = (str(other["id"]), str(other["remote_id"]))
    return local, remote


# ---- the figure ---------------------------------------------------------------------------------
def budget_check(logs: dict[str, list[list[Any]]]) -> dict[str, Any]:
    """Most requests any account sent in a 60 s window, and 429 answers, from the logs."""
    worst, worst_account, too_many = 0, None, 0
    for account, entries in logs.items():
        times = sorted(e[0] for e in entries)
        j = 0
        for i, t in enumerate(times):
            while times[j] <= t - 60:
                j += 1
            if i - j + 1 > worst:
                worst, worst_account = i - j + 1, account
        too_many += sum(1 for e in entries if e[4] == 429)
    return {"max_requests_in_60s": worst, "worst_account": worst_account,
            "status_429": too_many, "budget": RPM, "ok": worst <= RPM and too_many == 0}


def owner_check(logs: dict[str, list[list[Any]]], watcher: Watcher) -> dict[str, Any]:
    """Requests from a worker that was not the account's lease owner at that moment."""
    requests = unattributed = foreign = 0
    examples = []
    served_by: dict[str, set[str]] = {}
    for account, entries in logs.items():
        for at, port, method, path, _, server_port in entries:
            requests += 1
            worker = watcher.worker_at((port, server_port), at)
            if worker is None:
                unattributed += 1
                continue
            served_by.setdefault(account, set()).add(worker)
            if worker not in watcher.owners_near(account, at):
                foreign += 1
                if len(examples) < 5:
                    examples.append(f"{account} {method} {path} by {worker} at {at:.1f}")
    return {"requests": requests, "unattributed": unattributed, "not_owner": foreign,
            "examples": examples, "ok": foreign == 0,
            "accounts_served_by_several": sum(1 for s in served_by.values() if len(s) > 1)}


def run(workers: int, per_vendor: int, kill: bool, timeout: float) -> dict[str, Any]:
    """One full run: sandboxes, N workers, backfill, edits, (kill -9), checks."""
    (WORK / "logs").mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"workers": workers, "accounts": per_vendor * 5,
                              "lease_ttl_s": LEASE_TTL, "pull_interval_s": PULL_INTERVAL}
    boxes = Sandboxes(per_vendor)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        with pg_database("scale") as url:
            db = Database(url)
            runtime = Runtime(settings=settings_from_dict(
                {"database": {"url": url}, "accounts": boxes.entries}), db=db, clock=SYSTEM_CLOCK)
            watcher = Watcher(url)
            watcher.start()
            started = time.time()
            for w in range(workers):
                config = write_settings(WORK / f"scale-w{w}.toml", url, boxes.entries,
                                        19100 + w, PULL_INTERVAL)
                procs[f"w{w}"] = start_worker(config, f"{workers}w-w{w}")
                watcher.workers[f"w{w}"] = procs[f"w{w}"].pid
            expected = boxes.ask_all({"op": "expected"})
            names = sorted(expected)
            done = wait_for("backfill", lambda: all(
                mirrored(db).get(a, 0) >= expected[a] for a in names), timeout)
            result["backfill_s"] = round(done - started, 1)
            local, remote = make_edits(runtime, boxes, names, "L")
            edits_at = local_edit(db, local)
            for a, (_, rid) in remote.items():
                boxes.ask(boxes.vendor_of[a], {"op": "remote_edit", "account": a,
                                               "remote_id": rid, "title": f"R-{a}"})

            def pulled() -> set[str]:
                with db.begin() as conn:
                    return {a for a, t in conn.execute(text(
                        "SELECT account, title FROM proposals WHERE title LIKE 'R-%'")).all()
                        if t == f"R-{a}"}

            done = wait_for("edits", lambda: len(pushed(boxes, local, edits_at)) == len(names)
                            and len(pulled()) == len(names), timeout, every=2.0)
            result["edits_s"] = round(done - edits_at, 1)
            result["converge_s"] = round(done - started, 1)
            result["usage_at_converge"] = {w: proc_usage(p.pid) for w, p in procs.items()}
            if kill and workers > 1:
                try:
                    result["kill"] = kill_one(db, runtime, procs, boxes, timeout)
                except Exception as exc:  # the rest of the run is still reported
                    result["kill"] = {"failed": repr(exc), "ok": False}
            result["usage_end"] = {w: proc_usage(p.pid) for w, p in procs.items()
                                   if p.poll() is None}
            watcher.stop.set()
            logs = boxes.ask_all({"op": "log"})
            result["budget"] = budget_check(logs)
            result["owners"] = owner_check(logs, watcher)
            result["requests"] = sum(len(v) for v in logs.values())
            result["sandbox_usage"] = [proc_usage(pid) for pid in boxes.pids]
            stop_workers(procs)
            db.dispose()
            watcher.db.dispose()
    finally:
        stop_workers(procs)
        boxes.close()
    result["ok"] = bool(result["budget"]["ok"] and result["owners"]["ok"]
                        and result.get("kill", {}).get("ok", True))
    return result


def stop_workers(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM every live worker (a clean stop), SIGKILL after 15 s."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def kill_one(db: Database, runtime: Runtime, procs: dict[str, subprocess.Popen[bytes]],
             boxes: Sandboxes, timeout: float) -> dict[str, Any]:
    """kill -9 worker w0; time until survivors hold every account it held; then push one
    local edit of each of them through the survivors."""
    victim = procs["w0"]
    with db.begin() as conn:
        held = [a for (a,) in conn.execute(text(
            "SELECT account FROM leases WHERE owner LIKE :o AND account NOT LIKE '\\_\\_%'"),
            {"o": f"%:{victim.pid}"}).all()]
    killed_at = time.time()
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()

    def taken() -> bool:
        with db.begin() as conn:
            rows = dict(conn.execute(text(
                "SELECT account, owner FROM leases WHERE expires_at > :now"),
                {"now": time.time()}).all())
        return all(a in rows and not rows[a].endswith(f":{victim.pid}") and rows[a]
                   for a in held)

    done = wait_for("hand-over", taken, timeout, every=0.2)
    handover = round(done - killed_at, 1)
    # a Happyoffer account may have no second offer it can send: it is left out
    local, _ = make_edits(runtime, boxes, held, "K", required=False)
    edited_at = local_edit(db, local)
    done = wait_for("push after hand-over", lambda: pushed(boxes, local, edited_at) == set(local),
                    timeout, every=1.0)
    limit = LEASE_TTL + min(5.0, LEASE_TTL / 3)
    return {"accounts": len(held), "handover_s": handover, "limit_s": round(limit, 1),
            "push_after_s": round(done - edited_at, 1), "pushed_after": len(local),
            "ok": handover <= limit}


def idle_memory(per_vendor: int, settle: float) -> dict[str, Any]:
    """RSS of one worker serving all accounts once synced and idle, minus one serving one."""
    boxes = Sandboxes(per_vendor, IDLE_PROPOSALS)  # idle accounts need no edits: tiny data
    out: dict[str, Any] = {"accounts": len(boxes.entries), "proposals": IDLE_PROPOSALS}
    try:
        with pg_database("scale_idle") as url:
            for label, entries in (("one", boxes.entries[:1]), ("all", boxes.entries)):
                config = write_settings(WORK / f"scale-idle-{label}.toml", url, entries,
                                        19150, 3600)
                proc = start_worker(config, f"idle-{label}")
                try:
                    db = Database(url)
                    wait_for(f"idle {label}", lambda e=entries, d=db: len(
                        [a for a, n in mirrored(d).items() if n > 0
                         and a in {x["name"] for x in e}]) == len(e), 600)
                    db.dispose()
                    time.sleep(settle)
                    out[label] = proc_usage(proc.pid)
                finally:
                    stop_workers({"p": proc})
    finally:
        boxes.close()
    n = out["accounts"]
    out["per_account_mb"] = round((out["all"]["rss_mb"] - out["one"]["rss_mb"]) / (n - 1), 3)
    out["ok"] = out["per_account_mb"] < 1.0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 accounts instead of 200")
    parser.add_argument("--workers", type=int, action="append",
                        help="worker counts to run (default 1, 2, 4)")
    parser.add_argument("--skip-idle", action="store_true")
    parser.add_argument("--idle-only", action="store_true", help="only memory per idle account")
    parser.add_argument("--idle-accounts", type=int, default=200,
                        help="accounts for memory per idle account (also with --quick)")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    # a stopped run still stops its workers and sandboxes and drops its database
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not pg_available():
        print(json.dumps({"available": False,
                          "reason": "no PostgreSQL at 127.0.0.1:5432 (trust auth)"}))
        return
    per_vendor = 10 if args.quick else 40
    load_before = [round(x, 2) for x in os.getloadavg()]
    runs = []
    for workers in [] if args.idle_only else args.workers or [1, 2, 4]:
        log(f"scale: {workers} workers, {per_vendor * 5} accounts")
        try:
            runs.append(run(workers, per_vendor, kill=True, timeout=args.timeout))
        except Exception as exc:  # reported as a failed run, the others still run
            runs.append({"workers": workers, "accounts": per_vendor * 5, "failed": repr(exc),
                         "ok": False})
        got = runs[-1]
        log(f"scale:   converge {got.get('converge_s')} s, budget {got.get('budget')}, "
            f"owners {got.get('owners')}, kill {got.get('kill')}, failed {got.get('failed')}")
    idle = None if args.skip_idle else idle_memory(max(1, args.idle_accounts // 5), settle=10)
    print(json.dumps({"available": True, "quick": args.quick, "runs": runs, "idle": idle,
                      "load_before": load_before,
                      "load_after": [round(x, 2) for x in os.getloadavg()],
                      "sizes": SIZES, "rpm": RPM}, default=str))


if __name__ == "__main__":
    main()
