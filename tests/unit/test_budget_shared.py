"""Two processes spending one account's budget (a cron `syncd sync` next to the daemon, or a
worker that just lost its lease) never send more than the budget in any 60 s together:
the shared request log is the arbiter."""

from __future__ import annotations

import httpx
import pytest

from syncd.clock import FakeClock
from syncd.db.ledger import RequestLog
from syncd.db.session import Database
from syncd.http.budget import RateBudget
from syncd.http.client import AccountClient


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
