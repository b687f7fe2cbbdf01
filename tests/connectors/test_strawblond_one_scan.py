"""One scan for StrawBlond sweeps (issue 16): the trashed list is read first, and when it
holds live offers too the plain list is not read; learned from the answers, per account,
under both readings of "Include soft-deleted offers" (`trashed_includes_live`).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from syncd.canonical import Entity
from syncd.db.tables import pending_deletes, stream_state
from syncd.engine.pull import Puller, PullResult
from syncd.sandbox.strawblond import StrawBlondSandbox
from tests.connectors.standard import Case, make_case

SIZES = {"companies": 8, "proposals": 120, "max_items": 3, "seed": 4}  # + 6 trashed
READINGS = [pytest.param(True, id="includes-live"), pytest.param(False, id="trashed-only")]


def _case(db_url: str, make_runtime: Any, served: Any, includes_live: bool) -> Case:
    return make_case("strawblond", db_url, make_runtime, served, rpm=30, sizes=SIZES,
                     sandbox_options={"trashed_includes_live": includes_live})


def _sandbox(case: Case) -> StrawBlondSandbox:
    assert isinstance(case.sandbox, StrawBlondSandbox)
    return case.sandbox


def _lists(case: Case) -> list[str]:
    """Each list request the sandbox saw: "trashed" or "plain", in order."""
    return ["trashed" if "filter%5Btrashed%5D=true" in r.query or "filter[trashed]=true"
            in r.query else "plain" for r in case.sandbox.seen("GET", "/api/offer")]


def _sweep(case: Case, runtime: Any = None) -> PullResult:
    runtime = runtime or case.runtime
    return Puller(runtime, runtime.account(case.account)).run(sweep=True, kind="sweep")


def _verdict(case: Case) -> Any:
    with case.runtime.db.begin() as conn:
        state = conn.execute(select(stream_state.c.state).where(
            stream_state.c.account == case.account,
            stream_state.c.stream == "offers_trashed")).scalar_one()
    return state.get("covers")


def _live_ids(case: Case) -> set[str]:
    return {r["remote_id"] for r in case.rows(Entity.PROPOSALS) if r["deleted_at"] is None}


def _vendor_ids(case: Case, *, live: bool) -> set[str]:
    with case.sandbox.lock:
        return {oid for oid, o in case.sandbox.collection("offers").items()
                if (o["deleted_at"] is None) == live}


def _trash_and_drop(case: Case) -> tuple[str, str]:
    """One live offer soft-deleted, another gone from the vendor altogether."""
    with case.sandbox.lock:
        offers = case.sandbox.collection("offers")
        trashed, dropped = sorted(oid for oid, o in offers.items() if o["deleted_at"] is None)[:2]
        offers[trashed]["deleted_at"] = case.clock.now()
        del offers[dropped]
    return trashed, dropped


@pytest.mark.parametrize("includes_live", READINGS)
def test_strawblond_backfill_reads_the_lower_bound_under_both_readings(
    db_url: str, make_runtime: Any, served: Any, includes_live: bool
) -> None:
    case = _case(db_url, make_runtime, served, includes_live)
    bound = case.sandbox.lower_bound_requests()
    assert bound == (3 if includes_live else 3 + 1)  # 126 offers in one list, or 120 + 6
    result = case.pull()
    assert result.ok and len(case.sandbox.requests) == bound
    assert _lists(case) == (["trashed"] * 3 if includes_live else ["trashed", *["plain"] * 3])
    assert case.live_counts() == case.sandbox.expected_counts()
    assert _live_ids(case) == _vendor_ids(case, live=True)
    assert not {r["remote_id"] for r in case.rows(Entity.PROPOSALS)} & _vendor_ids(
        case, live=False)  # an offer trashed before the backfill is never mirrored
    assert _verdict(case) is includes_live
    plain = next(s for s in result.streams if s.stream == "offers")
    assert plain.covered_by == ("offers_trashed" if includes_live else None)


@pytest.mark.parametrize("includes_live", READINGS)
def test_strawblond_sweep_deletes_trashed_and_vanished_offers_under_both_readings(
    db_url: str, make_runtime: Any, served: Any, includes_live: bool
) -> None:
    case = _case(db_url, make_runtime, served, includes_live)
    assert case.pull().ok
    trashed, dropped = _trash_and_drop(case)
    edited = sorted(_vendor_ids(case, live=True))[0]
    case.sandbox.remote_edit_title(edited, "Neu im Papierkorb-Scan")
    case.sandbox.reset_log()
    result = _sweep(case)
    assert result.ok and len(case.sandbox.requests) == case.sandbox.lower_bound_requests()
    assert set(_lists(case)) == ({"trashed"} if includes_live else {"trashed", "plain"})
    rows = {r["remote_id"]: r for r in case.rows(Entity.PROPOSALS)}
    assert rows[trashed]["deleted_at"] is not None and rows[dropped]["deleted_at"] is not None
    assert _live_ids(case) == _vendor_ids(case, live=True)  # no live offer lost
    assert rows[edited]["title"] == "Neu im Papierkorb-Scan"
    items = [i for i in case.rows(Entity.LINE_ITEMS) if i["proposal_id"] == rows[dropped]["id"]]
    assert items and all(i["deleted_at"] is not None for i in items)
    assert case.live_counts() == case.sandbox.expected_counts()


def test_strawblond_combined_scan_keeps_the_mass_deletion_guard(
    db_url: str, make_runtime: Any, served: Any
) -> None:
    case = _case(db_url, make_runtime, served, True)
    assert case.pull().ok
    with case.sandbox.lock:
        offers = case.sandbox.collection("offers")
        gone = sorted(oid for oid, o in offers.items() if o["deleted_at"] is None)[:30]
        for oid in gone:
            del offers[oid]
    case.sandbox.reset_log()
    assert _sweep(case).ok and _lists(case) == ["trashed"] * 2
    assert _live_ids(case) >= set(gone)  # 30 of 120 at once: held, not deleted
    with case.runtime.db.begin() as conn:
        held = conn.execute(select(pending_deletes.c.remote_id, pending_deletes.c.stream)).all()
    # held under the plain list's name: a plain scan or a later sweep confirms or clears them
    assert {(rid, stream) for rid, stream in held} == {(rid, "offers") for rid in gone}


def test_strawblond_conflicting_evidence_falls_back_to_two_scans(
    db_url: str, make_runtime: Any, served: Any
) -> None:
    case = _case(db_url, make_runtime, served, True)
    assert case.pull().ok and _verdict(case) is True
    _sandbox(case).trashed_includes_live = False  # the vendor now lists only trashed offers
    trashed, dropped = _trash_and_drop(case)
    case.sandbox.reset_log()
    assert _sweep(case).ok
    assert _lists(case) == ["trashed", "plain", "plain", "plain"]
    assert len(case.sandbox.requests) == case.sandbox.lower_bound_requests()
    assert _verdict(case) is False
    rows = {r["remote_id"]: r for r in case.rows(Entity.PROPOSALS)}
    assert rows[trashed]["deleted_at"] is not None and rows[dropped]["deleted_at"] is not None
    assert _live_ids(case) == _vendor_ids(case, live=True)
    _sandbox(case).trashed_includes_live = True  # and back: learned again at once
    case.sandbox.reset_log()
    assert _sweep(case).ok and _lists(case) == ["trashed"] * 3 and _verdict(case) is True
    assert _live_ids(case) == _vendor_ids(case, live=True)


def test_strawblond_incremental_pull_keeps_the_plain_list(
    db_url: str, make_runtime: Any, served: Any
) -> None:
    case = _case(db_url, make_runtime, served, True)
    assert case.pull().ok
    case.sandbox.reset_log()
    assert case.pull(sweep=False).ok and _lists(case) == ["plain"] * 3


def test_strawblond_learned_reading_survives_a_new_process(
    db_url: str, make_runtime: Any, served: Any
) -> None:
    case = _case(db_url, make_runtime, served, True)
    first = case.runtime

    def stop_after_trashed(account: str, stream: str, records: int, requests: int,
                           left: int | None) -> None:
        if stream == "offers_trashed" and left == 0:
            first.stop.set()  # killed right after the trashed scan ended

    Puller(first, first.account(case.account), stop_after_trashed).run(
        sweep=True, kind="backfill")
    assert _lists(case) == ["trashed"] * 3
    entry = {**_sandbox(case).account_entry(case.account), "requests_per_minute": 30}
    second = make_runtime(db_url, [entry], case.clock)
    case.sandbox.reset_log()
    resumed = Puller(second, second.account(case.account)).run(sweep=True, kind="backfill")
    assert resumed.ok and case.sandbox.requests == []  # the plain list stays unread
    assert [s.covered_by for s in resumed.streams if s.stream == "offers"] == ["offers_trashed"]
    assert _live_ids(case) == _vendor_ids(case, live=True)
    case.sandbox.reset_log()
    assert _sweep(case, second).ok and _lists(case) == ["trashed"] * 3


class _TrashMarkLost:
    """Drift that leaves out (or nulls) `deleted_at` on the first trashed offers of each
    answer: the vendor saying less than the seed shows, not a different reading."""

    def __init__(self, how: str, count: int) -> None:
        self.how, self.count, self.applied = how, count, 0

    def apply(self, records: list[dict[str, Any]], exempt: frozenset[str]) -> None:
        for record in records:
            if self.applied < self.count and record.get("deleted_at") is not None:
                if self.how == "drop":
                    del record["deleted_at"]
                else:
                    record["deleted_at"] = None
                self.applied += 1


@pytest.mark.parametrize("how", ["drop", "null"])
def test_strawblond_trashed_offers_without_their_mark_never_skip_the_live_list(
    db_url: str, make_runtime: Any, served: Any, how: str
) -> None:
    """bench.drift found it: a trashed-only list in which a trashed offer came without
    `deleted_at` was taken for "every offer", the plain list was skipped, and the backfill
    kept 1 offer of 200. A list of mostly trashed offers now proves nothing of the live."""
    case = _case(db_url, make_runtime, served, False)
    drift = _TrashMarkLost(how, count=2)
    case.sandbox.drift = drift  # type: ignore[assignment]
    result = case.pull()
    assert result.ok and drift.applied == 2
    assert _lists(case) == ["trashed", *["plain"] * 3]  # both scans, as a trashed-only list
    assert _verdict(case) is False
    assert _live_ids(case) >= _vendor_ids(case, live=True)  # every live offer mirrored
