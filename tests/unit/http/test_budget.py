"""syncd.http.budget.RateBudget: never more than N requests in any 60 s window, on virtual time.

Two processes spending one account's budget (a cron `syncd sync` next to the daemon, or a
worker that just lost its lease) never send more than the budget in any 60 s together:
the shared request log is the arbiter.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import insert

from syncd.clock import FakeClock
from syncd.db.ledger import RequestLog
from syncd.db.session import Database
from syncd.db.tables import request_log
from syncd.http.budget import Priority, RateBudget
from syncd.http.client import AccountClient, BudgetTransport

T0 = 1_790_000_000.0


class ManualClock(FakeClock):
    """Virtual time that moves only when the test says so; `sleep` yields for real briefly."""

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
        time.sleep(0.001)


def max_in_any_window(times: list[float], window: float = 60.0) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.002)


class TestWindow:
    def test_thirty_at_once_then_each_waits_its_minute(self) -> None:
        clock = FakeClock(T0)
        budget = RateBudget("a", 30, clock)
        grants = [budget.acquire() for _ in range(95)]
        assert grants[:30] == [T0] * 30
        assert grants[30] == T0 + 60
        assert max_in_any_window(grants) == 30
        for i in range(len(grants) - 30):
            assert grants[i + 30] - grants[i] >= 60.0
        assert sum(clock.slept) >= 180.0  # three refills of virtual waiting, no real time

    def test_never_31_with_concurrent_threads(self) -> None:
        clock = FakeClock(T0)
        budget = RateBudget("a", 30, clock)
        grants: list[float] = []
        lock = threading.Lock()

        def worker(rank: Priority) -> None:
            for _ in range(25):
                t = budget.acquire(rank)
                with lock:
                    grants.append(t)

        ranks = [*Priority, Priority.PULL]  # six threads, two of them pulls
        threads = [threading.Thread(target=worker, args=(rank,)) for rank in ranks]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(grants) == 25 * len(ranks)
        assert max_in_any_window(grants) == 30

    def test_available_and_used(self) -> None:
        clock = FakeClock(T0)
        budget = RateBudget("a", 5, clock)
        for _ in range(3):
            budget.acquire()
        assert budget.used_last_minute() == 3
        assert budget.available() == 2
        assert budget.seconds_until_available() == 0.0
        budget.acquire()
        budget.acquire()
        assert budget.available() == 0
        assert budget.seconds_until_available() == pytest.approx(60.0)
        clock.advance(60)
        assert budget.available() == 5


class TestPriority:
    def test_push_is_served_before_a_pull_that_waited_longer(self) -> None:
        clock = ManualClock(T0)
        budget = RateBudget("a", 1, clock)
        budget.acquire()  # the window is now full until T0 + 60
        order: list[str] = []

        def take(name: str, rank: Priority) -> None:
            budget.acquire(rank)
            order.append(name)

        pull = threading.Thread(target=take, args=("pull", Priority.PULL))
        pull.start()
        wait_until(lambda: len(budget._waiting) == 1)
        push = threading.Thread(target=take, args=("push", Priority.PUSH))
        push.start()
        wait_until(lambda: len(budget._waiting) == 2)

        clock.advance(60)  # one slot comes back
        push.join(5)
        assert order == ["push"]
        time.sleep(0.05)
        assert pull.is_alive(), "the pull must wait for the next free slot"
        clock.advance(60)
        pull.join(5)
        assert order == ["push", "pull"]

    @pytest.mark.parametrize(
        ("first", "second"),
        [(Priority.VERIFY, Priority.SWEEP), (Priority.SWEEP, Priority.PULL),
         (Priority.PULL, Priority.WEBHOOK),
         (Priority.WEBHOOK, Priority.PUSH)],
    )
    def test_ranks(self, first: Priority, second: Priority) -> None:
        clock = ManualClock(T0)
        budget = RateBudget("a", 1, clock)
        budget.acquire()
        order: list[Priority] = []
        threads = []

        def take(rank: Priority) -> None:
            budget.acquire(rank)
            order.append(rank)

        for rank in (first, second):
            thread = threading.Thread(target=take, args=(rank,))
            thread.start()
            threads.append(thread)
            n = len(threads)
            wait_until(lambda n=n: len(budget._waiting) == n)
        clock.advance(60)
        wait_until(lambda: len(order) == 1)
        clock.advance(60)
        for thread in threads:
            thread.join(5)
        assert order == [second, first]

    def test_stop_while_waiting_leaves_the_queue_clean(self) -> None:
        clock = ManualClock(T0)
        budget = RateBudget("a", 1, clock)
        budget.acquire()
        stop = threading.Event()
        errors: list[BaseException] = []

        def waiter() -> None:
            try:
                budget.acquire(Priority.PUSH, stop)
            except InterruptedError as exc:
                errors.append(exc)

        thread = threading.Thread(target=waiter)
        thread.start()
        wait_until(lambda: len(budget._waiting) == 1)
        stop.set()
        thread.join(5)
        assert len(errors) == 1
        assert budget._waiting == []
        clock.advance(60)
        assert budget.acquire(Priority.SWEEP) == T0 + 60  # nobody ghost-holds the front


class TestBlock:
    def test_block_holds_the_next_request(self) -> None:
        clock = FakeClock(T0)
        budget = RateBudget("a", 30, clock)
        budget.acquire()
        budget.block(17)
        assert budget.available() == 0
        assert budget.seconds_until_available() == pytest.approx(17)
        assert budget.acquire() >= T0 + 17

    def test_block_holds_everyone(self) -> None:
        clock = ManualClock(T0)
        budget = RateBudget("a", 30, clock)
        budget.block(45)
        grants: list[float] = []
        threads = [threading.Thread(target=lambda r=r: grants.append(budget.acquire(r)))
                   for r in Priority]
        for thread in threads:
            thread.start()
        wait_until(lambda: len(budget._waiting) == len(threads))
        clock.advance(44)
        time.sleep(0.05)
        assert grants == []
        clock.advance(1)
        for thread in threads:
            thread.join(5)
        assert sorted(grants) == [T0 + 45] * len(threads)

    def test_a_shorter_block_never_shortens_a_longer_one(self) -> None:
        clock = FakeClock(T0)
        budget = RateBudget("a", 30, clock)
        budget.block(60)
        budget.block(5)
        assert budget.acquire() >= T0 + 60


class TestRestart:
    def test_reload_from_request_log_does_not_burst(self, db_url: str) -> None:
        db = Database(db_url)
        try:
            clock = FakeClock(T0)
            ledger = RequestLog(db)
            budget = RateBudget("acct", 30, clock, ledger)
            transport = BudgetTransport(httpx.MockTransport(lambda r: httpx.Response(200)),
                                        "acct", budget, ledger)
            with httpx.Client(transport=transport, base_url="http://127.0.0.1") as client:
                for _ in range(30):
                    client.get("/things")
                    clock.advance(0.5)
            # "restart": a new process builds a new budget on the same database
            clock.advance(10)
            again = RateBudget("acct", 30, clock, RequestLog(db))
            assert again.used_last_minute() == 30
            assert again.available() == 0
            first = again.acquire()
            assert first == pytest.approx(T0 + 60)  # the first logged request's slot
            grants = [first] + [again.acquire() for _ in range(40)]
            assert max_in_any_window([T0 + 0.5 * i for i in range(30)] + grants) == 30
        finally:
            db.dispose()

    def test_reload_ignores_old_rows_and_other_accounts(self, db_url: str) -> None:
        db = Database(db_url)
        try:
            with db.begin() as conn:
                conn.execute(insert(request_log), [
                    {"account": "acct", "sent_at": T0 - 61, "method": "GET", "endpoint": "/x"},
                    {"account": "acct", "sent_at": T0 - 30, "method": "GET", "endpoint": "/x"},
                    *[{"account": "other", "sent_at": T0 - 1, "method": "GET", "endpoint": "/x"}
                      for _ in range(5)],
                ])
            budget = RateBudget("acct", 3, FakeClock(T0), RequestLog(db))
            assert budget.used_last_minute() == 1
            assert budget.available() == 2
        finally:
            db.dispose()


@pytest.fixture
def db(db_url: str) -> Database:
    return Database(db_url)


def _client(db: Database, clock: FakeClock, sent: list[float]) -> AccountClient:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(clock.time())
        return httpx.Response(200, json=[])

    return AccountClient(account="shared", base_url="https://vendor.example.com",
                         budget=RateBudget("shared", 5, clock), clock=clock, ledger=RequestLog(db),
                         inner_transport=httpx.MockTransport(handler))


def test_two_processes_never_exceed_one_account_budget_together(db: Database) -> None:
    clock = FakeClock()
    sent: list[float] = []
    first, second = _client(db, clock, sent), _client(db, clock, sent)
    for _ in range(6):
        first.get_json("things")
        second.get_json("things")
    assert len(sent) == 12
    for start in sent:
        in_window = [t for t in sent if start <= t < start + 60]
        assert len(in_window) <= 5, in_window
    db.dispose()
