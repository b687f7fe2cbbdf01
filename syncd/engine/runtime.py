"""Everything one account needs at run time, built once per process and shared by its jobs.

`Runtime` holds the settings, the database, the clock and, per account, a connector, a
`RateBudget` and an `AccountClient`. Budgets are per account and per process; across
processes, the account lease (engine/lease.py) ensures one process talks to an account.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from syncd.clock import SYSTEM_CLOCK, Clock
from syncd.db.bulk import dialect_insert
from syncd.db.ledger import RequestLog
from syncd.db.session import Database
from syncd.db.tables import oauth_tokens
from syncd.http.budget import RateBudget
from syncd.http.client import AccountClient
from syncd.settings import AccountSettings, Settings
from syncd.vendors import connector_class
from syncd.vendors.base import Connector


class DbTokenStore:
    """OAuth tokens in `oauth_tokens`: a refreshed pair is committed in one transaction
    the moment it is received, so a crash never loses the only valid refresh token.
    """

    def __init__(self, db: Database, account: str, clock: Clock) -> None:
        self.db = db
        self.account = account
        self.clock = clock

    def load(self) -> dict[str, str] | None:
        """The account's saved tokens, so a restart does not log in again."""
        with self.db.begin() as conn:
            value = conn.execute(
                select(oauth_tokens.c.tokens).where(oauth_tokens.c.account == self.account)
            ).scalar()
        return dict(value) if value else None

    def save(self, tokens: dict[str, str]) -> None:
        """Save refreshed tokens in the database, where every worker finds them."""
        with self.db.begin() as conn:
            stmt = dialect_insert(conn, oauth_tokens).values(
                account=self.account, tokens=tokens, updated_at=self.clock.now()
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=["account"],
                set_={"tokens": stmt.excluded.tokens, "updated_at": stmt.excluded.updated_at},
            )
            conn.execute(stmt)


@dataclass
class AccountRuntime:
    """One account's connector, budget and client."""

    settings: AccountSettings
    connector: Connector
    budget: RateBudget
    client: AccountClient

    @property
    def name(self) -> str:
        """The account's name, which keys its rows, lease and logs."""
        return self.settings.name


@dataclass
class Runtime:
    """Shared by every job of a process."""

    settings: Settings
    db: Database
    clock: Clock = SYSTEM_CLOCK
    stop: threading.Event = field(default_factory=threading.Event)
    transport_factory: Any = None  # tests may inject an httpx transport per account
    _accounts: dict[str, AccountRuntime] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def account(self, name: str) -> AccountRuntime:
        """The account's runtime, built once and shared by the daemon's threads."""
        with self._lock:
            if name not in self._accounts:
                self._accounts[name] = self._build(self.settings.account(name))
            return self._accounts[name]

    def _build(self, settings: AccountSettings) -> AccountRuntime:
        connector = connector_class(settings.vendor)(settings)
        ledger = RequestLog(self.db)  # the budget reads it back, the transport writes it
        budget = RateBudget(settings.name, settings.requests_per_minute, self.clock, ledger)
        inner: httpx.BaseTransport | None = (
            self.transport_factory(settings) if self.transport_factory else None
        )
        client = AccountClient(
            account=settings.name,
            base_url=settings.base_url,
            budget=budget,
            clock=self.clock,
            ledger=ledger,
            auth=connector.auth(DbTokenStore(self.db, settings.name, self.clock)),
            headers=connector.headers(),
            timeout=settings.timeout_seconds,
            refusal_message=connector.refusal_message,
            stop=self.stop,
            inner_transport=inner,
        )
        return AccountRuntime(settings, connector, budget, client)

    def close(self) -> None:
        """Close every account's HTTP client, so a command exits with no connection open."""
        for account in self._accounts.values():
            account.client.close()
        self._accounts.clear()
