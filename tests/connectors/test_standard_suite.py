"""The standard connector suite: every registered vendor + its sandbox, unchanged.

After singer_sdk's standard tap tests: paginate to the end with no wasted request, zero 429s,
complete canonical rows with unique non-null keys, nothing fetched or written again when
nothing changed, a bad record quarantined while the run goes on, and a stopped backfill that
resumes without fetching more than the page in flight again.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from syncd.canonical import Entity, ProposalStatus
from syncd.db.tables import quarantine
from syncd.vendors import registered_vendors
from tests.connectors.standard import make_case

VENDORS = registered_vendors()


@pytest.fixture(params=VENDORS)
def vendor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_backfill_uses_exactly_the_lower_bound_and_no_429(vendor, db_url, make_runtime, served):
    case = make_case(vendor, db_url, make_runtime, served)
    bound = case.sandbox.lower_bound_requests()
    result = case.pull()
    assert result.ok, result.errors
    assert case.sandbox.count(status=429) == 0
    assert len(case.sandbox.requests) == bound
    assert case.live_counts() == {**case.live_counts(), **case.sandbox.expected_counts()}


def test_canonical_rows_are_complete_with_unique_keys(vendor, db_url, make_runtime, served):
    case = make_case(vendor, db_url, make_runtime, served)
    assert case.pull().ok
    proposals = case.rows(Entity.PROPOSALS)
    assert proposals
    keys = [p["remote_id"] for p in proposals]
    assert all(keys) and len(keys) == len(set(keys))
    statuses = {s.value for s in ProposalStatus}
    for row in proposals:
        assert row["status"] in statuses, row
        assert row["vendor_status"]
        assert row["raw"], "raw vendor JSON is kept next to the row"
    items = case.rows(Entity.LINE_ITEMS)
    assert items and all(i["proposal_id"] for i in items)
    assert all(i["remote_id"] for i in items)


def test_second_pull_with_nothing_changed_fetches_only_lists_and_writes_nothing(
    vendor, db_url, make_runtime, served
):
    case = make_case(vendor, db_url, make_runtime, served)
    assert case.pull().ok
    case.sandbox.reset_log()
    again = case.pull(sweep=False)
    assert again.ok, again.errors
    assert again.total("details") == 0
    assert sum(s.writes.written for s in again.streams) == 0
    assert len(case.sandbox.requests) == again.total("pages")
    assert case.sandbox.count(status=429) == 0


def test_a_bad_record_is_quarantined_and_the_run_goes_on(vendor, db_url, make_runtime, served):
    case = make_case(vendor, db_url, make_runtime, served)
    bad_id = case.sandbox.corrupt_one_record()
    result = case.pull()
    assert result.ok, result.errors
    with case.runtime.db.begin() as conn:
        held = conn.execute(select(quarantine).where(quarantine.c.remote_id == bad_id)).all()
    assert len(held) == 1 and held[0].raw and held[0].error
    expected = case.sandbox.expected_counts()
    got = case.live_counts()
    assert got["proposals"] == expected["proposals"] - 1


def test_stopped_backfill_resumes_without_refetching_more_than_one_page(
    vendor, db_url, make_runtime, served
):
    case = make_case(vendor, db_url, make_runtime, served)
    bound = case.sandbox.lower_bound_requests()
    calls: list[Any] = []

    def stop_after_first_page(*_: Any) -> None:
        calls.append(1)
        if len(calls) == 1:
            case.runtime.stop.set()

    case.pull(progress=stop_after_first_page)
    case.runtime.stop.clear()
    result = case.pull()
    assert result.ok, result.errors
    assert case.live_counts() == {**case.live_counts(), **case.sandbox.expected_counts()}
    assert len(case.sandbox.requests) <= bound + 1
    assert case.sandbox.count(status=429) == 0
