"""`syncd run`: scheduled pulls, prompt pushes, webhook-triggered fetches, for months.

APScheduler 3 runs per-account jobs on a thread pool (a slow or failing account only ever
occupies its own threads): push at once when a webhook or a pull leaves work or a local
edit is made (PostgreSQL NOTIFYs, SQLite is checked twice a second), pending webhook
fetches as they arrive, and behind both one look every two seconds (at most
`push_interval_seconds`) for every account's due outbox entries, unreconciled local
changes and queued fetches (syncd/engine/due.py; each account's own push and fetch job
runs only as a safety net, every pull interval), incremental pull every
`pull_interval_seconds` (backed off while webhooks keep an account fresh), a full sweep
every `full_sweep_hours`, and the verification of snapshot rows (syncd/engine/verify.py:
spare budget only). The account's budget orders what they send: push, webhook fetch,
pull, sweep, verification; on SQLite their transactions queue in the same spirit (pushes
and webhook fetches first, syncd/db/gate.py). A nudge that arrives while the account's
push or fetch runs starts a second instance that waits for the first, so no edit or
delivery waits for the next interval. Each job runs only while this worker holds the
account's lease, and an account's pushes start only after this worker's first pull of it
(at start-up or when it takes the account over): a local edit made while no daemon ran is
planned against a view that has seen the vendor's edits made meanwhile, so the same field
changed on both sides is a conflict, not an overwrite.

SIGTERM/SIGINT: stop taking work, let the request in flight finish (or abandon it after a
grace period — every write is committed per page or per entry, so nothing is lost), exit 0.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from syncd.db.tables import runs, stream_state
from syncd.engine.due import due_work
from syncd.engine.lease import LeaseManager, SqliteSingleton
from syncd.engine.local_changes import watch
from syncd.engine.metrics import render
from syncd.engine.pull import Puller, stale_view
from syncd.engine.push import Pusher, resolve_before_pull
from syncd.engine.runtime import Runtime
from syncd.engine.verify import daemon_reserve, verify_account, writes_snapshots
from syncd.engine.webhooks import make_app, run_pending_fetches
from syncd.errors import SyncdError
from syncd.vendors import connector_class

log = logging.getLogger("syncd.daemon")
GRACE_SECONDS = 5.0
UNHEALTHY_AFTER = 3  # pull intervals without success before /healthz answers 503
VERIFY_SECONDS = 10  # how often an idle account's snapshot rows are looked for
URGENT = "urgent"  # the executor of pushes and webhook fetches
FIRST_PULL_RETRY_SECONDS = 30  # a first pull that did not happen is tried again this soon
DUE_SECONDS = 2  # how often one query looks for every account's due pushes and fetches


class Daemon:
    """One worker process."""

    def __init__(self, runtime: Runtime, *, worker: str | None = None,
                 serve_http: bool = True, lease_ttl: float = 30.0) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self.accounts = [a.name for a in self.settings.accounts]
        self.serve_http = serve_http
        self.lease_ttl = lease_ttl
        self.sqlite = runtime.db.is_sqlite
        self.singleton = SqliteSingleton(runtime.db.url) if self.sqlite else None
        self.leases = None if self.sqlite else LeaseManager(runtime.db, self.worker,
                                                            runtime.clock, lease_ttl)
        self.scheduler = BackgroundScheduler(
            # two pools: pulls, sweeps and verification (each waiting on its account's
            # budget for most of a backfill) can never take the threads that pushes and
            # webhook fetches need
            executors={"default": ThreadPoolExecutor(max(8, 2 * len(self.accounts))),
                       URGENT: ThreadPoolExecutor(max(8, 2 * len(self.accounts)))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        self.server: uvicorn.Server | None = None
        self.last_webhook: dict[str, float] = {}
        self.failing_since: dict[str, float] = {}
        self._held: set[str] = set()
        self._unloaded: set[str] = set()  # taken up, budget not yet read (_load_budget)
        # accounts this worker has pulled since it took them up: a push waits for that
        # pull, because the view the mirror holds is of unknown age when a process starts
        # or takes an account over (a local edit made while no daemon ran would otherwise
        # be sent over a remote edit made meanwhile, with no conflict)
        self._viewed: set[str] = set()
        # pulls and sweeps of one account never overlap (they share stream checkpoints),
        # nor do its pushes, nor its webhook fetches (a second instance waits its turn)
        self._pull_locks = {name: threading.Lock() for name in self.accounts}
        self._push_locks = {name: threading.Lock() for name in self.accounts}
        self._fetch_locks = {name: threading.Lock() for name in self.accounts}
        self._active = 0
        self._active_lock = threading.Lock()
        self._busy: dict[str, int] = {}  # jobs in flight per account (kept at rebalancing)
        self._retiring: set[str] = set()  # being given back: no job may start on them
        self.job_log: list[tuple[str, str, str, float, float]] = []  # for tests and ops

    # ---- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Schedule the lease balancing and each account's pull and push jobs, then start them."""
        if self.singleton is not None:
            self.singleton.acquire()
            self._held = set(self.accounts)
        sync = self.settings.sync
        # renewed well before expiry, so a live worker never loses an account it serves
        balance_every = min(5.0, self.lease_ttl / 3)
        self.scheduler.add_job(self._balance, "interval", seconds=balance_every, id="leases",
                               next_run_time=datetime.now(UTC))
        # one look for every account's due pushes and queued fetches (syncd/engine/due.py);
        # each account's own push and fetch jobs are the rare safety net behind it
        self.scheduler.add_job(self._due, "interval", id="due", executor=URGENT,
                               seconds=min(DUE_SECONDS, sync.push_interval_seconds),
                               next_run_time=datetime.now(UTC))
        safety_net = max(sync.push_interval_seconds, sync.pull_interval_seconds)
        for name in self.accounts:
            now = datetime.now(UTC)
            # two instances of a push or fetch job: a nudge that arrives while one runs
            # (which may have read the change log or the queue before the new edit or
            # delivery) starts a second that waits for the first and then sees it; with
            # one, APScheduler skips the nudge and the work waits for the next interval
            self.scheduler.add_job(self._push, "interval", args=[name], id=f"push:{name}",
                                   seconds=safety_net, next_run_time=now, max_instances=2,
                                   executor=URGENT)
            self.scheduler.add_job(self._fetch, "interval", args=[name], id=f"fetch:{name}",
                                   seconds=safety_net, next_run_time=now, max_instances=2,
                                   executor=URGENT)
            self.scheduler.add_job(self._pull, "interval", args=[name], id=f"pull:{name}",
                                   seconds=sync.pull_interval_seconds,
                                   next_run_time=now + timedelta(seconds=1))
            if writes_snapshots(connector_class(self.settings.account(name).vendor).streams):
                self.scheduler.add_job(
                    self._verify, "interval", args=[name], id=f"verify:{name}",
                    seconds=max(VERIFY_SECONDS, sync.push_interval_seconds),
                    next_run_time=now + timedelta(seconds=2))
            self.scheduler.add_job(self._sweep, "interval", args=[name], id=f"sweep:{name}",
                                   seconds=int(sync.full_sweep_hours * 3600),
                                   next_run_time=self._first_sweep(name))
        self.scheduler.start()
        watch(self.runtime.db, self.local_change, self.runtime.stop)
        if self.serve_http:
            host, _, port = self.settings.webhooks.listen.rpartition(":")
            app = make_app(self.runtime, self.nudge, self.health, self.metrics)
            config = uvicorn.Config(app, host=host or "127.0.0.1", port=int(port),
                                    log_level="warning", access_log=False, lifespan="off")
            self.server = uvicorn.Server(config)
            # uvicorn < 0.29 installed signal handlers from this thread; since 0.29 Server
            # has no such attribute (it skips them off the main thread), which mypy reports
            self.server.install_signal_handlers = lambda: None  # type: ignore[attr-defined]
            threading.Thread(target=self.server.run, daemon=True).start()

    def stop(self) -> None:
        """Stop taking work; give running jobs a grace period; release leases.

        Jobs see `runtime.stop` between pages and requests and return after committing
        what they have; one still inside a request after the grace period is abandoned
        (its work is committed per page/entry, so nothing is lost).
        """
        self.runtime.stop.set()
        if self.server is not None:
            self.server.should_exit = True
        with contextlib.suppress(Exception):
            self.scheduler.shutdown(wait=False)
        deadline = time.time() + GRACE_SECONDS
        while self._active and time.time() < deadline:
            time.sleep(0.05)
        if self.leases is not None:
            self.leases.release_all()
        if self.singleton is not None:
            self.singleton.release()

    def run_forever(self) -> None:
        """Block until SIGTERM/SIGINT, stop cleanly and end the process with exit code 0."""
        stopping = threading.Event()

        def _signal(signum: int, _frame: Any) -> None:
            log.info("signal %s: stopping", signum)
            stopping.set()

        signal.signal(signal.SIGTERM, _signal)
        signal.signal(signal.SIGINT, _signal)
        self.start()
        log.info("syncd run: worker %s, %d accounts", self.worker, len(self.accounts))
        while not stopping.wait(0.5):
            pass
        self.stop()
        logging.shutdown()
        # an abandoned job thread must not hold the process open (its work is committed)
        os._exit(0)

    # ---- jobs -----------------------------------------------------------------------------
    def _first_sweep(self, name: str) -> datetime:
        with self.runtime.db.begin() as conn:
            last: datetime | None = conn.execute(select(func.max(stream_state.c.last_sweep_at)).where(
                stream_state.c.account == name)).scalar()
        if last is None:  # the first pull of a never-swept account is the sweep
            return datetime.now(UTC) + timedelta(hours=self.settings.sync.full_sweep_hours)
        last = last if last.tzinfo else last.replace(tzinfo=UTC)
        return max(datetime.now(UTC) + timedelta(seconds=2),
                   last + timedelta(hours=self.settings.sync.full_sweep_hours))

    def _balance(self) -> None:
        if self.leases is None:
            return
        before = set(self._held)
        with self._active_lock:
            busy = {name for name, jobs in self._busy.items() if jobs}
        # renewal before every other transaction of this worker, and nothing else in this
        # job: at 200 accounts a balance that queued behind pulls and pushes, and then read
        # each gained account's budget, ran past the leases' expiry, and the accounts went
        # back and forth between workers every few seconds (each new owner starting with
        # its first pull, so the pushes never came)
        with self.runtime.db.first():
            self._held = self.leases.balance(self.accounts, busy, self._retire)
        with self._active_lock:
            self._retiring.clear()  # given back: no longer held, so no job starts anyway
            gained = self._held - before
            self._unloaded = (self._unloaded | gained) & self._held
        self._viewed &= self._held
        for name in sorted(gained):
            log.info("worker %s now serves account=%s", self.worker, name)
            self._run_now(f"pull:{name}")  # its pushes wait for this worker's first pull

    def holds(self, name: str) -> bool:
        """Whether this worker may sync the account now: not stopping and still holding its lease."""
        if self.runtime.stop.is_set():
            return False
        if self.leases is None:
            return name in self._held
        return name in self._held and self.leases.holds(name)

    def _retire(self, name: str) -> bool:
        """Whether `name` may be given back now: no job on it, and none will start."""
        with self._active_lock:
            if self._busy.get(name):
                return False
            self._retiring.add(name)
            return True

    def _guard(self, name: str, what: str, job: Any) -> Any:
        # busy before the lease check: a balance between the two would otherwise give the
        # account away while this job starts on it (and none starts on one being given back)
        with self._active_lock:
            if name in self._retiring:
                return None
            self._active += 1
            self._busy[name] = self._busy.get(name, 0) + 1
        started = time.time()
        try:
            if not self.holds(name):
                return None
            self._load_budget(name)
            result = job()
            self.job_log.append((name, what, self.worker, started, time.time()))
            self.failing_since.pop(name, None) if what == "pull" else None
            return result
        except InterruptedError:
            return None
        except SyncdError as exc:
            self.failing_since.setdefault(name, time.time())
            log.warning("account=%s %s failed: %s", name, what, exc)
        except Exception:  # one account's bug must not stop the daemon
            self.failing_since.setdefault(name, time.time())
            log.exception("account=%s %s crashed", name, what)
        finally:
            with self._active_lock:
                self._active -= 1
                self._busy[name] -= 1
        return None

    def _load_budget(self, name: str) -> None:
        """Before this worker's first request for an account it has just taken up: the
        spend other workers logged in the last minute (no burst after a hand-over).
        """
        with self._active_lock:
            if name not in self._unloaded:
                return
            self._unloaded.discard(name)
        self.runtime.account(name).budget.load()

    def _due(self) -> None:
        """Start the push or fetch of each held account that has work waiting now."""
        if self.runtime.stop.is_set():
            return
        try:
            with self.runtime.db.urgent(), self.runtime.db.begin() as conn:
                work = due_work(conn, self.runtime.clock.time())
        except Exception:  # a briefly unavailable database: the next look, in seconds
            log.warning("looking for due work failed", exc_info=True)
            return
        for name in sorted(work.fetch & self._held):
            self._run_now(f"fetch:{name}")
        for name in sorted(work.push & self._held & self._viewed):
            self.nudge_push(name)

    def _push(self, name: str) -> None:
        if name not in self._viewed:
            return  # the first pull since this worker took the account up comes first
        with self._push_locks[name], self.runtime.db.urgent():
            self._guard(name, "push", lambda: Pusher(self.runtime, self.runtime.account(name),
                                                     self.worker).run())

    def _fetch(self, name: str) -> None:
        with self._fetch_locks[name], self.runtime.db.urgent():
            done = self._guard(name, "fetch", lambda: run_pending_fetches(self.runtime, name))
        if done:
            self.nudge_push(name)

    def _verify(self, name: str) -> None:
        """Re-read snapshot rows while the minute has spare slots (after the first pull:
        it may bring newer snapshots, and a backfill's pull has the budget first).
        """
        if name not in self._viewed:
            return
        reserve = daemon_reserve(self.runtime.account(name).budget.per_minute)
        result = self._guard(name, "verify", lambda: verify_account(
            self.runtime, name, reserve=reserve))
        if result is not None and result.outcomes.get("changed"):
            self.nudge_push(name)

    def _pull(self, name: str) -> None:
        if name not in self._held:
            # not this worker's (yet): return at once, so this instance cannot still be
            # running when a lease gain asks for the pull (APScheduler would skip that
            # request, and the account wait a whole pull interval: the scale benchmark)
            return
        recent = time.time() - self.last_webhook.get(name, 0)
        if (name in self._viewed and recent < self.settings.sync.pull_interval_seconds
                and self._pulled_recently(name) and not self._stale(name)):
            return  # webhooks keep this account fresh; the sweep still catches misses
        lock = self._pull_locks[name]
        if not lock.acquire(blocking=False):
            return  # a sweep is running; it does more than this pull would
        try:
            sweep = self._never_swept(name)
            self._resolve(name)
            result = self._guard(name, "pull", lambda: Puller(
                self.runtime, self.runtime.account(name)).run(
                    sweep=sweep, kind="sweep" if sweep else "pull"))
        finally:
            lock.release()
        if result is not None and not result.ok:
            self.failing_since.setdefault(name, time.time())
        if result is not None and self.holds(name):
            self._viewed.add(name)
        elif name in self._held and name not in self._viewed:
            # the first pull since this worker took the account up did not happen (its
            # lease looked expired, or it crashed): again soon, not at the next interval
            self._run_at(f"pull:{name}", min(FIRST_PULL_RETRY_SECONDS,
                                             self.settings.sync.pull_interval_seconds))
        self.nudge_push(name)

    def _pulled_recently(self, name: str) -> bool:
        with self.runtime.db.begin() as conn:
            last: datetime | None = conn.execute(select(func.max(runs.c.finished_at)).where(
                runs.c.account == name, runs.c.status == "ok")).scalar()
        if last is None:
            return False
        last = last if last.tzinfo else last.replace(tzinfo=UTC)
        backoff = 4 * self.settings.sync.pull_interval_seconds
        return (datetime.now(UTC) - last).total_seconds() < backoff

    def _stale(self, name: str) -> bool:
        """A resumed sweep left a view older than one pull: reconcile holds writes to
        existing records until a pull has read every stream again (`stale_view`).
        """
        with self.runtime.db.begin() as conn:
            return stale_view(conn, name)

    def _never_swept(self, name: str) -> bool:
        with self.runtime.db.begin() as conn:
            return conn.execute(select(func.max(stream_state.c.last_sweep_at)).where(
                stream_state.c.account == name)).scalar() is None

    def _sweep(self, name: str) -> None:
        with self._pull_locks[name]:
            self._resolve(name)
            result = self._guard(name, "sweep", lambda: Puller(
                self.runtime, self.runtime.account(name)).run(sweep=True, kind="sweep"))
        if result is not None and self.holds(name):
            self._viewed.add(name)
            self.nudge_push(name)

    def _resolve(self, name: str) -> None:
        """Before a pull: settle the account's in-doubt writes (lost create answers, entries
        a killed process left `sending`) at once, not after their backoff or 300 s claim.
        `_guard` runs it only while this worker holds the account, so it is the owner.
        """
        self._guard(name, "resolve", lambda: resolve_before_pull(
            self.runtime, name, self.worker, owner=True))

    def nudge(self, name: str) -> None:
        """A webhook queued work: fetch it now."""
        self.last_webhook[name] = time.time()
        self._run_now(f"fetch:{name}")

    def local_change(self, name: str | None) -> None:
        """A local edit of `name` (None: of some account): push it now, not at the next
        push interval (syncd/engine/local_changes.py says how the daemon hears of it).
        """
        for account in self.accounts if name is None else [name]:
            if account in self._held:
                self.nudge_push(account)

    def nudge_push(self, name: str) -> None:
        """Run the account's push now, after a pull or fetch or a local edit, not at the next interval."""
        self._run_now(f"push:{name}")

    def _run_now(self, job_id: str) -> None:
        self._run_at(job_id, 0.0)

    def _run_at(self, job_id: str, seconds: float) -> None:
        if self.runtime.stop.is_set():
            return
        with contextlib.suppress(Exception):
            self.scheduler.modify_job(job_id, next_run_time=datetime.now(UTC)
                                      + timedelta(seconds=seconds))

    # ---- health / metrics -----------------------------------------------------------------
    def health(self) -> tuple[int, dict[str, Any]]:
        """The health endpoint's status and body: unhealthy when an account has not pulled for too long."""
        limit = UNHEALTHY_AFTER * self.settings.sync.pull_interval_seconds
        now = time.time()
        accounts = {}
        bad = False
        with self.runtime.db.begin() as conn:
            for name in self.accounts:
                last = conn.execute(select(func.max(runs.c.finished_at)).where(
                    runs.c.account == name, runs.c.status == "ok")).scalar()
                failing = self.failing_since.get(name)
                unhealthy = failing is not None and now - failing > limit
                bad = bad or unhealthy
                accounts[name] = {"last_success": last.isoformat() if last else None,
                                  "served_here": name in self._held,
                                  "failing_for_seconds": round(now - failing) if failing else 0,
                                  "healthy": not unhealthy}
        return (503 if bad else 200), {"worker": self.worker, "accounts": accounts}

    def metrics(self) -> str:
        """The Prometheus text the metrics endpoint serves."""
        return render(self.runtime, self.accounts)
