"""syncd.db.gate: SQLite's one writer handed on in order, urgent work first."""

from __future__ import annotations

import threading
import time
from contextlib import nullcontext

from sqlalchemy import text

from syncd.db.gate import WriteGate
from syncd.db.session import Database


def _wait_queued(gate: WriteGate, count: int) -> None:
    deadline = time.time() + 5
    while len(gate._waiting) < count:
        assert time.time() < deadline, "the threads never queued"
        time.sleep(0.005)


def test_an_urgent_transaction_is_served_before_those_that_queued_earlier() -> None:
    gate = WriteGate()
    served: list[str] = []

    def worker(name: str, urgent: bool) -> None:
        if urgent:
            with gate.urgent(), gate.held():
                served.append(name)
        else:
            with gate.held():
                served.append(name)

    threads = []
    with gate.held():
        for name, urgent in (("pull-1", False), ("pull-2", False), ("push", True)):
            thread = threading.Thread(target=worker, args=(name, urgent))
            thread.start()
            threads.append(thread)
            _wait_queued(gate, len(threads))
    for thread in threads:
        thread.join(timeout=5)
    assert served == ["push", "pull-1", "pull-2"]


def test_a_lease_renewal_is_served_before_urgent_work_that_queued_earlier() -> None:
    """The 200-account benchmark: renewals queued behind pushes and pulls came after the
    leases' expiry, and the accounts went to another worker."""
    gate = WriteGate()
    served: list[str] = []

    def worker(name: str, level: str) -> None:
        with getattr(gate, level)() if level != "held" else nullcontext(), gate.held():
            served.append(name)

    threads = []
    with gate.held():
        for name, level in (("pull", "held"), ("push", "urgent"), ("lease", "first")):
            thread = threading.Thread(target=worker, args=(name, level))
            thread.start()
            threads.append(thread)
            _wait_queued(gate, len(threads))
    for thread in threads:
        thread.join(timeout=5)
    assert served == ["lease", "push", "pull"]


def test_urgent_inside_first_keeps_the_higher_place() -> None:
    gate = WriteGate()
    with gate.first(), gate.urgent():
        assert gate._local.priority == 0
    assert getattr(gate._local, "priority", 2) == 2


def test_the_holder_may_enter_again_without_waiting() -> None:
    gate = WriteGate()
    with gate.held(), gate.held():
        assert gate._holders == {threading.get_ident(): 2}
    assert gate.holders() == 0


def test_transactions_pass_the_gate_one_at_a_time_on_sqlite(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'gate.db'}")
    try:
        assert db.gate.capacity == 1
        with db.urgent(), db.begin() as conn:
            assert db.gate.holders() == 1
            assert conn.execute(text("SELECT 1")).scalar() == 1
        assert db.gate.holders() == 0
    finally:
        db.dispose()
    pg = Database("postgresql://nobody@127.0.0.1:9/none")
    assert pg.gate.capacity == pg.engine.pool.size() + pg.engine.pool._max_overflow  # type: ignore[attr-defined]


def test_a_gate_of_two_admits_two_and_queues_the_third() -> None:
    gate = WriteGate(capacity=2)
    inside = threading.Event()
    release = threading.Event()
    entered: list[str] = []

    def worker(name: str) -> None:
        with gate.held():
            entered.append(name)
            inside.set()
            release.wait(5)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    _wait_queued(gate, 1)
    assert gate.holders() == 2 and len(entered) == 2
    release.set()
    for thread in threads:
        thread.join(timeout=5)
    assert sorted(entered) == ["a", "b", "c"]
