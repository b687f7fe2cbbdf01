"""The soak's world: five served sandboxes, one mirror, and real `syncd` processes.

Every `syncd` the soak starts is the console entry point in a subprocess (what cron or a
user runs), pointed at the sandboxes over HTTP on 127.0.0.1. A run may be killed with
SIGKILL at an instant chosen by the model: after some wall time, once the sandboxes have
seen N more requests, or as the first write request arrives at a vendor. The harness only
ever kills processes it started, by their pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from syncd.db.session import Database
from syncd.demo import serve_sandboxes, write_settings
from syncd.sandbox.base import Sandbox, ServedApp, free_port
from tests.soak.launch import Launched
from tests.soak.vendors import WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parents[2]
RPM = 100_000  # the soak is about faults and kills, not the budget (bench measures that)
WRITES = ("POST", "PUT", "PATCH", "DELETE")
# requests that are the auth handshake, not a write to a record: never "the first write",
# never given a lost answer (a vendor that consumed a refresh token whose answer never
# arrived has revoked the only token: no engine survives that, and the soak is not about it)
AUTH_PATHS = ("/oauth2/", "/login", "/token")
# accounts that push local deletions; the others keep them as `skipped` (with and without
# allow_delete, as the issue asks: Offorte could delete, but is told not to)
ALLOW_DELETE = {"quickquote": True, "strawblond": True, "offorte": False,
                "happyoffer": False, "automa": False}
RUN_TIMEOUT = 90.0
# A kill between the vendor rotating a one-use OAuth refresh token and syncd storing the new
# one loses the only valid token (found by the soak: seed 1415, episode 3). No engine can
# store an answer it never read, so by default a kill that falls due while a refresh is the
# last request the vendor saw waits for the next request (syncd stores the token before
# it); SYNCD_SOAK_KILL_IN_REFRESH=1 kills there too.
KILL_IN_REFRESH = os.environ.get("SYNCD_SOAK_KILL_IN_REFRESH") == "1"


@dataclass
class Outcome:
    """What one `syncd` process did."""

    args: tuple[str, ...]
    code: int | None
    out: str
    err: str = ""
    killed: str | None = None  # the kill mode, when the soak killed it
    seconds: float = 0.0


@dataclass
class Stats:
    """Counts RELIABILITY.md reports."""

    steps: int = 0
    episodes: int = 0
    syncd_runs: int = 0
    kill_points: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    webhooks: Counter[str] = field(default_factory=Counter)  # deliveries held, by how sent
    lost_answers: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    conflicts_made: int = 0
    conflicts_resolved: int = 0
    quiescence_syncs: int = 0


@dataclass
class Divergence:
    """An invariant that did not hold after quiescence, with what reproduces it."""

    kind: str
    account: str
    detail: str
    seed: int
    episode: int
    command: str
    steps: list[str] = field(default_factory=list)


def is_auth(path: str) -> bool:
    return any(p in path for p in AUTH_PATHS)


class World:
    """One episode's sandboxes, settings file and mirror access."""

    def __init__(self, tmp: Path, db_url: str, tag: str, proposals: int = 12) -> None:
        self.tmp = tmp
        self.db_url = db_url
        self.tag = tag
        self.served: dict[str, tuple[Sandbox, ServedApp]] = serve_sandboxes(
            proposals=proposals, rpm=RPM)
        self.boxes = {vendor: box for vendor, (box, _app) in self.served.items()}
        self.accounts: dict[str, str] = {}  # vendor -> account name
        entries = []
        for vendor, box in self.boxes.items():
            name = f"{tag}-{vendor}"
            if vendor == "strawblond":  # StrawBlond signs with the secret it was given
                box.webhook_secret = WEBHOOK_SECRET[vendor]  # type: ignore[attr-defined]
            entry = box.account_entry(name)
            entry["requests_per_minute"] = RPM
            entry["allow_delete"] = ALLOW_DELETE[vendor]
            if vendor in WEBHOOK_SECRET:
                entry["webhook_secret"] = WEBHOOK_SECRET[vendor]
            entries.append(entry)
            self.accounts[vendor] = name
        self.config = tmp / f"{tag}.toml"
        write_settings(self.config, db_url, entries)
        # `syncd run` (the daemon windows): its webhook receiver, a push every second and a
        # pull every few, so a window of a few seconds does what a daemon does in minutes
        self.listen = f"127.0.0.1:{free_port()}"
        self.config.write_text(self.config.read_text(encoding="utf-8").replace(
            "[sync]\n", f'[webhooks]\nlisten = "{self.listen}"\n\n[sync]\n'
            "push_interval_seconds = 1\npull_interval_seconds = 3\n", 1), encoding="utf-8")
        self.db = Database(db_url)

    def close(self) -> None:
        for _box, app in self.served.values():
            app.server.should_exit = True
        for _box, app in self.served.values():
            app.thread.join(timeout=5)
        self.db.dispose()

    # ---- the sandboxes' request logs ---------------------------------------------------------
    def request_total(self) -> int:
        return sum(len(box.requests) for box in self.boxes.values())

    def writes_since(self, marks: dict[str, int]) -> bool:
        for vendor, box in self.boxes.items():
            with box.lock:
                fresh = box.requests[marks[vendor]:]
            if any(r.method in WRITES and not is_auth(r.path) for r in fresh):
                return True
        return False

    def marks(self) -> dict[str, int]:
        return {vendor: len(box.requests) for vendor, box in self.boxes.items()}

    def clear_faults(self) -> None:
        for box in self.boxes.values():
            with box.lock:
                box.faults.clear()

    # ---- syncd ---------------------------------------------------------------------------------
    def cli_args(self, *args: str) -> list[str]:
        return ["--config", str(self.config), "--quiet", *args]

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "syncd", *self.cli_args(*args)]

    def syncd(self, *args: str, kill: tuple[str, float] | None = None) -> Outcome:
        """Run `syncd ARGS`; with `kill`, SIGKILL it when the mode's condition is met:
        ("time", seconds), ("requests", n more requests seen), ("first_write", 0)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
        env["PYTHONPATH"] = str(ROOT)
        env["COLUMNS"] = "200"
        log_path = self.tmp / f"{self.tag}.log"
        start_total, marks = self.request_total(), self.marks()
        started = time.monotonic()
        working: float | None = None  # when the first request reached a sandbox
        killed: str | None = None
        err_path = self.tmp / f"{self.tag}.err"
        log_path.write_bytes(b"")
        err_path.write_bytes(b"")
        proc = Launched(self.cli_args(*args), log_path, err_path, self.tmp, env,
                        self.command(*args))
        while proc.poll() is None:
            elapsed = time.monotonic() - started
            if working is None and self.request_total() > start_total:
                working = time.monotonic()
            if kill is not None and killed is None and self._due(
                    kill, working, start_total, marks) and not self._refreshing():
                os.kill(proc.pid, signal.SIGKILL)
                killed = kill[0]
            if elapsed > RUN_TIMEOUT and killed is None:
                os.kill(proc.pid, signal.SIGKILL)
                killed = "timeout"
            time.sleep(0.003)
        out = log_path.read_text(encoding="utf-8", errors="replace")
        errors = err_path.read_text(encoding="utf-8", errors="replace")
        return Outcome(tuple(args), proc.returncode, out, errors, killed,
                       time.monotonic() - started)

    def _refreshing(self) -> bool:
        """Whether a token refresh is the last request a sandbox saw, or about to be (the
        last answer was a 401): see KILL_IN_REFRESH."""
        if KILL_IN_REFRESH:
            return False
        for box in self.boxes.values():
            with box.lock:
                last = box.requests[-1] if box.requests else None
            # a 401 is answered just before syncd sends the refresh it triggers; holding
            # from there closes the window in which the refresh is in flight but not yet
            # logged by the sandbox
            if last is not None and (is_auth(last.path) or last.status == 401):
                return True
        return False

    def _due(self, kill: tuple[str, float], working: float | None, start_total: int,
             marks: dict[str, int]) -> bool:
        """Whether a kill is due. "time" counts from the first request syncd sends (before
        it, a kill only lands in the interpreter's start-up, which proves nothing)."""
        mode, value = kill
        if mode == "time":
            return working is not None and time.monotonic() - working >= value
        if mode == "requests":
            return self.request_total() - start_total >= value
        if mode == "first_write":
            return self.writes_since(marks)
        raise ValueError(mode)

    # ---- the daemon ------------------------------------------------------------------------
    def receiver(self, vendor: str) -> str:
        """Where a vendor delivers webhooks for its account: the daemon's receiver."""
        return f"http://{self.listen}/webhooks/{self.accounts[vendor]}"

    def start_daemon(self) -> Launched | None:
        """`syncd run` in a subprocess, once its receiver answers /healthz (None when it
        never does: the caller reports it)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNCD_")}
        env["PYTHONPATH"] = str(ROOT)
        log = self.tmp / f"{self.tag}.daemon.log"
        proc = Launched(self.cli_args("run"), log, log, self.tmp, env, self.command("run"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                httpx.get(f"http://{self.listen}/healthz", timeout=1)
                return proc
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop_daemon(proc, "kill")
        return None

    def stop_daemon(self, proc: Launched, how: str) -> int | None:
        """SIGKILL (a crash) or SIGTERM (a clean stop, given 30 s); the exit code."""
        if proc.poll() is None:
            if how == "kill":
                held = time.monotonic() + 5
                while self._refreshing() and time.monotonic() < held:  # see KILL_IN_REFRESH
                    time.sleep(0.003)
            os.kill(proc.pid, signal.SIGKILL if how == "kill" else signal.SIGTERM)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return None

    def daemon_log(self) -> str:
        path = self.tmp / f"{self.tag}.daemon.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    # ---- the mirror ----------------------------------------------------------------------------
    def sql(self, statement: str, **params: Any) -> list[dict[str, Any]]:
        with self.db.begin() as conn:
            result = conn.execute(text(statement), params)
            return [dict(r) for r in result.mappings()] if result.returns_rows else []

    def age_outbox(self) -> None:
        """What waiting out the retry backoff and the claim would do, without sleeping real
        minutes: quiescence is "after enough time", and the soak has no time to lose."""
        self.sql("UPDATE outbox SET next_attempt_at = NULL, claimed_until = 0 "
                 "WHERE account LIKE :tag AND status IN ('pending', 'sending')",
                 tag=f"{self.tag}-%")

    def planned_writes(self) -> list[dict[str, Any]]:
        """What `syncd push --dry-run` would send (held and skipped entries send nothing)."""
        run = self.syncd("push", "--dry-run", "--format", "json")
        if run.code != 0:
            return [{"error": (run.out + run.err)[-500:]}]
        start = run.out.find("[")
        plans = json.loads(run.out[start:]) if start >= 0 else []
        return [p for p in plans if p.get("status") not in ("held", "skipped", "refused", "unsupported")]
