"""syncd.db.gate: SQLite's one writer handed on in order, urgent work first."""

from __future__ import annotations

import threading
import time

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


def test_the_holder_may_enter_again_without_waiting() -> None:
    gate = WriteGate()
    with gate.held(), gate.held():
        assert gate._depth == 2
    assert gate._owner is None


def test_sqlite_transactions_pass_the_gate_and_postgresql_has_none(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'gate.db'}")
    try:
        assert db.gate is not None
        with db.urgent(), db.begin() as conn:
            assert db.gate._owner == threading.get_ident()
            assert conn.execute(text("SELECT 1")).scalar() == 1
        assert db.gate._owner is None
    finally:
        db.dispose()
    assert Database("postgresql://nobody@127.0.0.1:9/none").gate is None
