"""Verifying snapshots: re-read, with spare budget only, the records a pull wrote from one.

A snapshot (a call-log entry carrying the whole record, `DetailSpec.snapshot`) makes the
mirror complete after the list pages alone; each record it wrote is marked unverified
(syncd/engine/unverified.py). Verification reads each such record by id
(`Connector.fetch_one`) and writes what it says like any targeted fetch does
(syncd/engine/fetch.py): the same record just loses its mark, a differing one is a normal
remote change through the three-way merge, a 404/410 marks it deleted.

The requests are the account's lowest priority (`Priority.VERIFY`, below pushes, webhook
fetches, pulls and sweeps), and the daemon's verification job asks only while more than
`reserve` slots of the minute are free: a push or webhook fetch arriving meanwhile finds
its slot at once, and a backfill or sweep running at full budget leaves verification
nothing. `syncd verify` runs the same thing on demand (no reserve).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from syncd.canonical import Entity
from syncd.engine import unverified
from syncd.engine.fetch import Fetched, fetch_and_apply
from syncd.engine.runtime import AccountRuntime, Runtime
from syncd.http.budget import Priority
from syncd.http.client import priority
from syncd.vendors.base import StreamSpec

BATCH = 50  # marks read per query


@dataclass
class VerifyResult:
    """What one verification run of an account did."""

    account: str
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(map(str, Fetched), 0))
    requests: int = 0
    left: int = 0  # marks still unverified after the run

    @property
    def verified(self) -> int:
        """Records read and written (or found gone) by this run."""
        return sum(n for k, n in self.outcomes.items() if k != Fetched.FAILED)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (`syncd verify --format json`)."""
        return {"account": self.account, **self.outcomes, "verified": self.verified,
                "requests": self.requests, "unverified_left": self.left}


def writes_snapshots(streams: Sequence[StreamSpec]) -> bool:
    """Whether a connector's streams may write snapshots (the daemon verifies only then)."""
    return any(s.detail is not None and s.detail.snapshot is not None for s in streams)


def daemon_reserve(per_minute: int) -> int:
    """Slots of the minute the daemon's verification leaves free for other work."""
    return max(1, per_minute // 10)


def verify_account(runtime: Runtime, name: str, *, limit: int | None = None,
                   reserve: int = 0, stop: threading.Event | None = None) -> VerifyResult:
    """Verify up to `limit` marked records of one account, oldest mark first, while more
    than `reserve` requests of the budget's minute are free (0: wait for slots as needed).
    """
    account = runtime.account(name)
    result = VerifyResult(name)
    sent_before = account.client.transport.requests_sent
    tried: set[tuple[str, str]] = set()  # a failed fetch is not retried in the same run
    halt = stop or runtime.stop
    with priority(Priority.VERIFY):
        while limit is None or len(tried) < limit:
            batch = _next(runtime, name, tried, limit)
            if not batch:
                break
            for entity, remote_id in batch:
                if halt.is_set() or (reserve and account.budget.available() <= reserve):
                    return _done(runtime, result, account, sent_before)
                tried.add((entity, remote_id))
                outcome = fetch_and_apply(runtime, name, Entity(entity), remote_id)
                result.outcomes[str(outcome)] += 1
    return _done(runtime, result, account, sent_before)


def _next(runtime: Runtime, name: str, tried: set[tuple[str, str]],
          limit: int | None) -> list[tuple[str, str]]:
    want = BATCH if limit is None else min(BATCH, limit - len(tried))
    with runtime.db.begin() as conn:
        marks = unverified.oldest(conn, name, want + len(tried))
    return [m for m in marks if m not in tried][:want]


def _done(runtime: Runtime, result: VerifyResult, account: AccountRuntime,
          sent_before: int) -> VerifyResult:
    result.requests = account.client.transport.requests_sent - sent_before
    with runtime.db.begin() as conn:
        result.left = unverified.count(conn, result.account)
    return result


def verify_accounts(runtime: Runtime, names: list[str], *,
                    limit: int | None = None) -> list[VerifyResult]:
    """`syncd verify`: each named account in turn, using whatever budget it has."""
    return [verify_account(runtime, name, limit=limit) for name in names]
