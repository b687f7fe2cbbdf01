"""syncd.engine.lease: accounts shared fairly between live workers, a dead worker's taken over
after expiry, a released one at once; on SQLite one daemon per database file."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event

from syncd.clock import FakeClock
from syncd.db.session import Database
from syncd.engine.lease import LeaseManager, SqliteSingleton
from syncd.errors import LeaseError

ACCOUNTS = ["a", "b", "c", "d"]



def test_a_lone_worker_takes_every_account(mirror_db: Database) -> None:
    one = LeaseManager(mirror_db, "w1", FakeClock())
    assert one.balance(ACCOUNTS) == set(ACCOUNTS)
    assert all(one.holds(a) for a in ACCOUNTS)


def test_a_second_worker_gets_its_share_once_the_first_gives_extras_back(mirror_db: Database) -> None:
    clock = FakeClock()
    one, two = LeaseManager(mirror_db, "w1", clock), LeaseManager(mirror_db, "w2", clock)
    one.balance(ACCOUNTS)
    assert two.balance(ACCOUNTS) == set()  # all held and unexpired: nothing to take yet
    kept = one.balance(ACCOUNTS)  # now sees two live workers: keeps its share of 2
    taken = two.balance(ACCOUNTS)
    assert len(kept) == 2 and taken == set(ACCOUNTS) - kept
    assert not any(two.holds(a) for a in kept) and all(two.holds(a) for a in taken)


def test_a_dead_workers_accounts_are_taken_over_after_expiry(mirror_db: Database) -> None:
    clock = FakeClock()
    dead, alive = LeaseManager(mirror_db, "w1", clock, ttl=30), LeaseManager(mirror_db, "w2", clock, ttl=30)
    dead.balance(ACCOUNTS)
    clock.advance(10)
    assert alive.balance(ACCOUNTS) == set()
    clock.advance(25)  # w1's leases and heartbeat expired; w2 is the only live worker
    assert alive.balance(ACCOUNTS) == set(ACCOUNTS)
    assert not dead.holds("a")


def test_released_leases_are_free_at_once(mirror_db: Database) -> None:
    clock = FakeClock()
    one, two = LeaseManager(mirror_db, "w1", clock), LeaseManager(mirror_db, "w2", clock)
    one.balance(ACCOUNTS)
    one.release_all()
    assert one.held == set() and not one.holds("a")
    assert two.balance(ACCOUNTS) == set(ACCOUNTS)  # w1's heartbeat is gone too: w2 is alone


def test_a_second_sqlite_daemon_refuses_to_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/mirror.db"
    first, second = SqliteSingleton(url), SqliteSingleton(url)
    first.acquire()
    try:
        with pytest.raises(LeaseError, match="another `syncd run` already uses this SQLite"):
            second.acquire()
        assert Path(first.path).read_text() != ""  # the holder wrote its pid
    finally:
        first.release()
    second.acquire()  # free once the first let go
    second.release()


def test_an_extra_with_a_job_in_flight_is_given_back_only_once_idle(mirror_db: Database) -> None:
    clock = FakeClock()
    one, two = LeaseManager(mirror_db, "w1", clock), LeaseManager(mirror_db, "w2", clock)
    one.balance(ACCOUNTS)
    two.balance(ACCOUNTS)  # heartbeat: two live workers, a share of 2 each
    kept = one.balance(ACCOUNTS, busy={"c", "d"})  # still pulling c and d
    assert kept == {"c", "d"}  # the idle ones go, the busy ones stay (not a and b)
    assert two.balance(ACCOUNTS) == {"a", "b"}
    assert all(one.holds(a) for a in ("c", "d")) and not any(two.holds(a) for a in ("c", "d"))
    assert one.balance(ACCOUNTS, busy={"c", "d", "a"}) == {"c", "d"}  # a is not w1's to keep


def test_busy_accounts_beyond_the_share_wait_for_a_later_balance(mirror_db: Database) -> None:
    clock = FakeClock()
    one, two = LeaseManager(mirror_db, "w1", clock), LeaseManager(mirror_db, "w2", clock)
    one.balance(ACCOUNTS)
    two.balance(ACCOUNTS)
    assert one.balance(ACCOUNTS, busy=set(ACCOUNTS)) == set(ACCOUNTS)  # all in flight
    assert two.balance(ACCOUNTS) == set()
    assert len(one.balance(ACCOUNTS, busy={"a"})) == 2  # idle again: back to its share
    assert len(two.balance(ACCOUNTS)) == 2


def test_every_lease_a_balance_takes_is_still_held_when_it_returns(mirror_db: Database) -> None:
    """Found by the scale benchmark (one worker, 200 accounts): balance wrote one
    transaction per account with the expiry counted from its start; under load the loop
    outlasted the lease TTL, the first leases had expired when it returned, their pulls
    found them expired and skipped, and the worker sat idle. Here each statement costs
    0.1 s of the clock: 200 of them are twice the TTL."""
    clock = FakeClock()
    engine = mirror_db.engine

    def slow_statement(*_args: object) -> None:
        clock.advance(0.1)

    event.listen(engine, "before_cursor_execute", slow_statement)
    try:
        accounts = [f"acct{i:03d}" for i in range(200)]
        worker = LeaseManager(mirror_db, "w1", clock, ttl=10.0)
        assert worker.balance(accounts) == set(accounts)
        assert all(worker.holds(a) for a in accounts[:5] + accounts[-5:])
        assert worker.balance(accounts) == set(accounts)  # renewal: all kept
        assert all(worker.holds(a) for a in accounts[:5])
    finally:
        event.remove(engine, "before_cursor_execute", slow_statement)
