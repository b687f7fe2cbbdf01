"""Snapshot first, verify with spare budget: Automa.Net's call log carries each quote.

A backfill writes every quote from the call-log entry's `eventObject` (read from Automa's
API with syncd's key) and spends only call-log and RFQ pages; the rows are marked
unverified. Verification then reads each quote once by uuid: the same quote clears its
mark, a differing one is a remote change through the three-way merge (a local edit made
meanwhile becomes a conflict), a 404 deletes it. An entry without a usable object is
fetched at once, as before. Each test arranges the sandbox, runs syncd, and asserts rows
and the requests the sandbox saw, on SQLite and PostgreSQL (`db_url`).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from syncd import cli
from syncd.db.tables import conflicts, line_items, proposals, unverified
from syncd.engine.status import account_status
from syncd.engine.verify import daemon_reserve, verify_account
from syncd.sandbox.automa import AutomaSandbox
from tests.connectors.standard import Case, make_case
from tests.connectors.test_two_way_suite import editable, push

SIZES = {"companies": 3, "proposals": 12, "max_items": 3, "seed": 4}


@pytest.fixture
def case(db_url: str, make_runtime: Any, served: Any) -> Case:
    return make_case("automa", db_url, make_runtime, served, sizes=SIZES,
                     conflict_policy="manual")


def box(case: Case) -> AutomaSandbox:
    assert isinstance(case.sandbox, AutomaSandbox)
    return case.sandbox


def quotes(case: Case) -> list[dict[str, Any]]:
    return sorted(box(case).collection("quotes").values(), key=lambda q: q["number"])


def marked(case: Case) -> set[str]:
    with case.runtime.db.begin() as conn:
        return {r.remote_id for r in conn.execute(select(unverified.c.remote_id).where(
            unverified.c.account == case.account))}


def proposal(case: Case, uuid: str) -> dict[str, Any]:
    with case.runtime.db.begin() as conn:
        return dict(conn.execute(select(proposals).where(
            proposals.c.remote_id == uuid)).mappings().one())


def quote_fetches(case: Case) -> list[str]:
    return [r.path for r in case.sandbox.seen("GET", r"^/quotes/")]


def silent_edit(case: Case, uuid: str, note: str) -> None:
    """A seller's edit in Automa's UI that fires no event (the module's caveat): only a
    read of the quote itself can see it.
    """
    sandbox = box(case)
    with sandbox.lock:
        quote = sandbox.collection("quotes")[uuid]
        quote["note"] = note
        quote["updated_at"] = sandbox.now()


def backfill(case: Case) -> None:
    result = case.pull()
    assert result.ok, result.errors


def test_automa_backfill_spends_only_call_log_and_rfq_pages_and_marks_rows_unverified(
    case: Case,
) -> None:
    backfill(case)
    paths = {r.path for r in case.sandbox.requests}
    assert paths == {"/webhooks/calls", "/rfqs/received", "/rfqs/sent"}
    assert len(case.sandbox.requests) == case.sandbox.lower_bound_requests() == 3
    assert case.live_counts() == {**case.live_counts(), **case.sandbox.expected_counts()}
    assert marked(case) == {q["uuid"] for q in quotes(case)}
    first = quotes(case)[0]
    assert proposal(case, first["uuid"])["title"] == first["note"]
    with case.runtime.db.begin() as conn:
        [status] = account_status(conn, case.runtime.settings, case.clock.time())
    assert status["unverified"] == len(quotes(case))


def test_automa_verification_fetches_each_quote_once_and_clears_every_mark(case: Case) -> None:
    backfill(case)
    case.sandbox.reset_log()
    result = verify_account(case.runtime, case.account)
    assert sorted(quote_fetches(case)) == sorted(f"/quotes/{q['uuid']}" for q in quotes(case))
    assert len(case.sandbox.requests) == result.requests == box(case).verification_requests()
    assert result.outcomes["same"] == len(quotes(case)) and result.left == 0
    assert marked(case) == set()
    case.sandbox.reset_log()
    assert verify_account(case.runtime, case.account).requests == 0
    assert case.sandbox.requests == []


def test_automa_verified_quote_that_differs_is_a_remote_change_and_a_local_edit_a_conflict(
    case: Case,
) -> None:
    backfill(case)
    changed, edited = quotes(case)[0], quotes(case)[1]
    silent_edit(case, changed["uuid"], "Changed in Automa")
    silent_edit(case, edited["uuid"], "Changed in Automa too")
    row = proposal(case, edited["uuid"])
    with case.runtime.db.begin() as conn:
        conn.execute(text("UPDATE proposals SET title = 'Changed in syncd' WHERE id = :id"),
                     {"id": row["id"]})
    result = verify_account(case.runtime, case.account)
    assert result.outcomes["changed"] == 2
    assert proposal(case, changed["uuid"])["title"] == "Changed in Automa"
    assert proposal(case, edited["uuid"])["title"] == "Changed in syncd"  # not overwritten
    with case.runtime.db.begin() as conn:
        open_ = conn.execute(select(conflicts).where(conflicts.c.status == "open")).mappings().all()
    assert [(c["row_id"], c["field"], c["local_value"], c["remote_value"]) for c in open_] == [
        (row["id"], "title", "Changed in syncd", "Changed in Automa too")]
    assert marked(case) == set()


def test_automa_verification_404_deletes_the_quote_and_its_line_items(case: Case) -> None:
    backfill(case)
    gone = quotes(case)[2]["uuid"]
    case.sandbox.add_fault("GET", re.escape(f"/quotes/{gone}") + "$", "status", status=404,
                           body={"message": "Not Found", "statusCode": 404})
    result = verify_account(case.runtime, case.account)
    assert result.outcomes["deleted"] == 1 and result.left == 0
    row = proposal(case, gone)
    assert row["deleted_at"] is not None
    with case.runtime.db.begin() as conn:
        items = conn.execute(select(line_items.c.deleted_at).where(
            line_items.c.proposal_id == row["id"])).all()
    assert items and all(i.deleted_at is not None for i in items)


@pytest.mark.parametrize("empty", [None, {}], ids=["absent", "empty-object"])
def test_automa_entry_without_a_usable_event_object_is_fetched_at_once(
    case: Case, empty: dict[str, Any] | None,
) -> None:
    """The seed shows `"eventObject": {}`; where it is absent or empty the quote is read
    by uuid during the pull, and is not marked.
    """
    bare = quotes(case)[3]["uuid"]
    box(case).drop_event_objects(bare, empty)
    backfill(case)
    assert quote_fetches(case) == [f"/quotes/{bare}"]
    assert len(case.sandbox.requests) == case.sandbox.lower_bound_requests() == 4
    assert case.live_counts() == {**case.live_counts(), **case.sandbox.expected_counts()}
    assert marked(case) == {q["uuid"] for q in quotes(case)} - {bare}


def test_automa_incomplete_event_object_is_fetched_instead_of_quarantined(case: Case) -> None:
    """An object that would not map (items not a list) is not written: the quote is read."""
    target = quotes(case)[4]["uuid"]
    sandbox = box(case)
    with sandbox.lock:
        for entry in sandbox.collection("calls").values():
            if entry["eventObjectUuid"] == target:
                entry["eventObject"]["items"] = "truncated"
    backfill(case)
    assert quote_fetches(case) == [f"/quotes/{target}"]
    assert target not in marked(case)
    assert proposal(case, target)["title"] == quotes(case)[4]["note"]


def test_automa_replayed_older_snapshot_never_rolls_the_row_back(case: Case) -> None:
    backfill(case)
    quote = quotes(case)[5]
    sandbox = box(case)
    with sandbox.lock:
        [old] = [e for e in sandbox.collection("calls").values()
                 if e["eventObjectUuid"] == quote["uuid"]]
        old = copy.deepcopy(old)
    case.clock.advance(60)
    sandbox.remote_edit_title(quote["uuid"], "Newer title")  # logged with the new quote
    assert case.pull(sweep=False).ok
    assert proposal(case, quote["uuid"])["title"] == "Newer title"
    assert verify_account(case.runtime, case.account).left == 0
    case.clock.advance(60)
    with sandbox.lock:  # the old entry logged again, as a replay would
        old.update(uuid="replayed-entry", createdAt=sandbox.now(), updatedAt=sandbox.now())
        sandbox.collection("calls")[old["uuid"]] = old
    case.sandbox.reset_log()
    assert case.pull(sweep=False).ok
    assert quote_fetches(case) == []
    assert proposal(case, quote["uuid"])["title"] == "Newer title"
    assert marked(case) == set()


def test_automa_pushed_local_edit_of_an_unverified_row_works(case: Case) -> None:
    backfill(case)
    row = editable(case)
    assert row["remote_id"] in marked(case)
    with case.runtime.db.begin() as conn:
        conn.execute(text("UPDATE proposals SET title = 'Edited locally' WHERE id = :id"),
                     {"id": row["id"]})
    case.sandbox.reset_log()
    result = push(case)
    assert result.sent >= 1
    assert box(case).proposal_title(row["remote_id"]) == "Edited locally"
    # Put Quote is a full replacement: the quote is re-read before it, whatever its mark
    assert [(r.method, r.path) for r in case.sandbox.requests][:2] == [
        ("GET", f"/quotes/{row['remote_id']}"), ("PUT", f"/quotes/{row['remote_id']}")]


def test_automa_daemon_verification_leaves_its_reserve_of_the_budget(
    db_url: str, make_runtime: Any, served: Any,
) -> None:
    """With 10 requests a minute, a backfill of 3 pages leaves 7: the daemon's verification
    takes only what is above its reserve, and the rest waits for the next minute.
    """
    case = make_case("automa", db_url, make_runtime, served, rpm=10, sizes=SIZES)
    backfill(case)
    reserve = daemon_reserve(10)
    case.sandbox.reset_log()
    result = verify_account(case.runtime, case.account, reserve=reserve)
    assert result.requests == len(case.sandbox.requests) == 10 - 3 - reserve
    assert result.left == len(quotes(case)) - result.requests
    assert case.runtime.account(case.account).budget.available() == reserve


def test_automa_verify_command_and_status_json_count_unverified_rows(case: Case) -> None:
    backfill(case)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "settings", lambda: case.runtime.settings)
        patch.setattr(cli, "runtime", lambda loaded: case.runtime)
        ran = CliRunner().invoke(cli.app, ["status", "--format", "json"])
        assert ran.exit_code == 0, ran.output
        assert '"unverified": 12' in ran.output
        ran = CliRunner().invoke(cli.app, ["verify", "--limit", "5", "--format", "json"])
        assert ran.exit_code == 0, ran.output
        assert '"verified": 5' in ran.output and '"unverified_left": 7' in ran.output
    assert len(quote_fetches(case)) == 5 and len(marked(case)) == 7


def test_automa_entry_whose_quote_kept_its_updated_at_is_fetched_not_skipped(
    case: Case,
) -> None:
    """An opening tracked leaves `updated_at` as it was: the snapshot cannot be told from a
    replay, so the quote is read by uuid and the sent quote becomes `viewed`.
    """
    backfill(case)
    sent = next(q for q in quotes(case) if q["status"]["name"] == "sent")
    verify_account(case.runtime, case.account)
    case.clock.advance(60)
    box(case).track_opening(sent["uuid"])
    case.sandbox.reset_log()
    assert case.pull(sweep=False).ok
    assert quote_fetches(case) == [f"/quotes/{sent['uuid']}"]
    assert proposal(case, sent["uuid"])["status"] == "viewed"
    assert marked(case) == set()


def test_only_connectors_declaring_snapshots_get_the_daemons_verification_job() -> None:
    from syncd.engine.verify import writes_snapshots
    from syncd.vendors import connector_class, registered_vendors

    assert {v for v in registered_vendors() if writes_snapshots(connector_class(v).streams)} == {
        "automa"}
