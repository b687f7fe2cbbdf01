"""One deletion path, through every way syncd learns of a deletion, for every vendor.

Each vendor's sandbox is served on 127.0.0.1 and backfilled into a fresh mirror (SQLite,
then PostgreSQL). A record then goes away through a webhook (the targeted fetch answers
404), a pushed delete, or a complete scan, and the test asserts what the mirror holds: the
record and the rows that exist only through it (its line items) are deleted *with base
set*, so reconcile plans nothing and a later pull neither echoes nor resurrects them.

The guard against false mass deletion is tried with a sandbox that answers the proposal
list with an empty list and 200: nothing is deleted, the deletions are held (pull summary,
`syncd status`, `/metrics`), and `syncd deletes confirm` or a second sweep applies them.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text
from typer.testing import CliRunner

from syncd import cli
from syncd.canonical import Entity
from syncd.db.tables import CANONICAL_TABLES, pending_deletes, pending_fetches
from syncd.engine import metrics
from syncd.engine.push import Pusher
from syncd.engine.verify import verify_account
from syncd.engine.webhooks import run_pending_fetches
from syncd.vendors import registered_vendors
from syncd.vendors.base import Op, StreamSpec
from tests.connectors.standard import Case, make_case

VENDORS = registered_vendors()
SIZES = {"companies": 4, "proposals": 16, "max_items": 3, "seed": 5}
PROPOSALS = CANONICAL_TABLES[Entity.PROPOSALS]
ITEMS = CANONICAL_TABLES[Entity.LINE_ITEMS]
WRITES = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture(params=VENDORS)
def vendor(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def case(vendor: str, db_url: str, make_runtime: Any, served: Any) -> Case:
    made = make_case(vendor, db_url, make_runtime, served, sizes=SIZES,
                     conflict_policy="manual")
    result = made.pull()
    assert result.ok, result.errors
    made.sandbox.reset_log()
    return made


# ---- helpers --------------------------------------------------------------------------------
def cli_run(case: Case, *args: str) -> str:
    """A real `syncd` command against the test's runtime (its clock, its sandbox)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "settings", lambda: case.runtime.settings)
        patch.setattr(cli, "runtime", lambda loaded: case.runtime)
        ran = CliRunner().invoke(cli.app, ["--quiet", *args])
    assert ran.exit_code == 0, ran.output
    return ran.output


def with_items(case: Case) -> dict[str, Any]:
    """A live, linked proposal that has live line items."""
    with case.runtime.db.begin() as conn:
        row = conn.execute(
            select(PROPOSALS).join(ITEMS, ITEMS.c.proposal_id == PROPOSALS.c.id).where(
                PROPOSALS.c.account == case.account, PROPOSALS.c.remote_id.is_not(None),
                PROPOSALS.c.deleted_at.is_(None), ITEMS.c.deleted_at.is_(None))
            .order_by(PROPOSALS.c.id).limit(1)).mappings().first()
    assert row is not None, "the seed has a proposal with line items"
    return dict(row)


def family(case: Case, proposal_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with case.runtime.db.begin() as conn:
        parent = dict(conn.execute(select(PROPOSALS).where(PROPOSALS.c.id == proposal_id))
                      .mappings().one())
        kids = [dict(r) for r in conn.execute(select(ITEMS).where(
            ITEMS.c.proposal_id == proposal_id, ITEMS.c.remote_id.is_not(None)))
            .mappings()]
    return parent, kids


def deleted_consistently(row: dict[str, Any]) -> bool:
    return row["deleted_at"] is not None and (row["base"] or {}).get("deleted_at") is not None


def planned_for(case: Case, proposal_id: int, item_ids: list[int]) -> list[Any]:
    """What a push would plan for the proposal or its items (nothing, after a deletion)."""
    plans = Pusher(case.runtime, case.runtime.account(case.account)).plan_only()
    return [p for p in plans if (p.entity == Entity.PROPOSALS and p.row_id == proposal_id)
            or (p.entity == Entity.LINE_ITEMS and p.row_id in item_ids)]


def proposal_list_stream(case: Case) -> StreamSpec:
    connector = case.runtime.account(case.account).connector
    streams = [s for s in connector.streams if s.entity == Entity.PROPOSALS and s.deletes_missing]
    if not streams:
        pytest.skip(f"{case.vendor}: no proposal list proves a deletion (deletes_missing)")
    return streams[0]


def empty_list_fault(case: Case, stream: StreamSpec, times: int = 50) -> None:
    """The vendor's bad day: every proposal list of `stream`'s connector (Happyoffer's
    external offers too, which would otherwise still show the offers) answered with 200
    and no records, in the shape built from each stream's `records_path` ({"data": []},
    or a bare [])."""
    connector = case.runtime.account(case.account).connector
    for each in connector.streams:
        if each.entity != stream.entity:
            continue
        body: Any = []
        for key in reversed(each.records_path):
            body = {key: body}
        path = case.runtime.account(case.account).settings.path(each.name, each.path)
        before, _, after = path.partition("{partition}")
        pattern = re.escape(before) + ("[^/]+" if _ else "") + re.escape(after) + "$"
        case.sandbox.add_fault("GET", pattern, "status", status=200, body=body, times=times)


def live_proposals(case: Case) -> int:
    with case.runtime.db.begin() as conn:
        return conn.execute(select(func.count()).select_from(PROPOSALS).where(
            PROPOSALS.c.account == case.account, PROPOSALS.c.deleted_at.is_(None),
            PROPOSALS.c.remote_id.is_not(None))).scalar_one()


def held(case: Case) -> int:
    with case.runtime.db.begin() as conn:
        return conn.execute(select(func.count()).select_from(pending_deletes).where(
            pending_deletes.c.account == case.account)).scalar_one()


# ---- the paths ------------------------------------------------------------------------------
def test_proposal_deleted_through_a_webhook_deletes_its_line_items(case: Case) -> None:
    """The bug: a webhook deletion marked the proposal only, its line items stayed live."""
    row = with_items(case)
    with case.runtime.db.begin() as conn:  # what an authentic `deleted` event queues
        conn.execute(insert(pending_fetches).values(
            account=case.account, entity="proposals", remote_id=row["remote_id"], deleted=True,
            reason="deleted", created_at=case.clock.now()))
    case.sandbox.add_fault("GET", re.escape(str(row["remote_id"])), "status", status=404,
                           body={"message": "Not Found"}, times=5)
    assert run_pending_fetches(case.runtime, case.account) == 1
    parent, kids = family(case, row["id"])
    assert deleted_consistently(parent)
    assert kids and all(deleted_consistently(k) for k in kids)
    assert planned_for(case, row["id"], [k["id"] for k in kids]) == []
    assert not [r for r in case.sandbox.requests if r.method in WRITES]


def test_pushed_delete_deletes_line_items_and_nothing_echoes(case: Case) -> None:
    connector = case.runtime.account(case.account).connector
    reason = connector.capability(Entity.PROPOSALS, Op.DELETE)
    if reason:
        pytest.skip(f"{case.vendor} cannot delete proposals: {reason}")
    case.runtime.account(case.account).settings.allow_delete = True
    row = with_items(case)
    with case.runtime.db.begin() as conn:
        conn.execute(text("UPDATE proposals SET deleted_at = CURRENT_TIMESTAMP WHERE id = :id"),
                     {"id": row["id"]})
    result = Pusher(case.runtime, case.runtime.account(case.account)).run()
    assert result.ok and result.done == 1, result.refused
    parent, kids = family(case, row["id"])
    assert deleted_consistently(parent)
    assert kids and all(deleted_consistently(k) for k in kids)
    case.sandbox.reset_log()
    assert case.pull().ok  # a complete scan: the record is gone, nothing comes back
    parent, kids = family(case, row["id"])
    assert deleted_consistently(parent) and all(deleted_consistently(k) for k in kids)
    assert planned_for(case, row["id"], [k["id"] for k in kids]) == []
    assert not [r for r in case.sandbox.requests if r.method in WRITES]


def test_empty_list_answer_deletes_nothing_until_confirmed(case: Case) -> None:
    stream = proposal_list_stream(case)
    before = live_proposals(case)
    assert before > 3
    row = with_items(case)
    empty_list_fault(case, stream)
    output = cli_run(case, "backfill")  # a complete scan of every stream
    assert live_proposals(case) == before and held(case) == before
    assert "held" in output and f"syncd deletes confirm --account {case.account}" in output
    status = json.loads(cli_run(case, "status", "--format", "json"))
    assert status[0]["pending_deletes"] == {"proposals": before}
    page = metrics.render(case.runtime, [case.account])
    assert (f'syncd_pending_deletes{{account="{case.account}",entity="proposals"}} {before}'
            in page)
    listed = json.loads(cli_run(case, "deletes", "list", "--format", "json"))
    assert len(listed) == before and {d["entity"] for d in listed} == {"proposals"}

    out = cli_run(case, "deletes", "confirm", "--account", case.account)
    assert f"{before} deleted" in out
    assert live_proposals(case) == 0 and held(case) == 0
    parent, kids = family(case, row["id"])
    assert deleted_consistently(parent) and all(deleted_consistently(k) for k in kids)
    # the vendor lists them again once it is well: a sweep brings them back
    case.sandbox.faults.clear()
    assert case.pull().ok
    assert live_proposals(case) == before
    parent, kids = family(case, row["id"])
    assert parent["deleted_at"] is None and kids and all(k["deleted_at"] is None for k in kids)


def test_empty_list_answer_then_a_good_sweep_clears_the_held_deletions(case: Case) -> None:
    stream = proposal_list_stream(case)
    before = live_proposals(case)
    empty_list_fault(case, stream)
    assert case.pull().ok
    assert held(case) == before
    case.sandbox.faults.clear()
    assert case.pull().ok
    assert held(case) == 0 and live_proposals(case) == before


def test_second_sweep_applies_deletions_missing_twice(case: Case) -> None:
    stream = proposal_list_stream(case)
    case.runtime.account(case.account).settings.confirm_deletes = "second_sweep"
    before = live_proposals(case)
    row = with_items(case)
    empty_list_fault(case, stream)
    assert case.pull().ok
    assert live_proposals(case) == before and held(case) == before
    case.clock.advance(3600)
    assert case.pull().ok
    assert live_proposals(case) == 0 and held(case) == 0
    parent, kids = family(case, row["id"])
    assert deleted_consistently(parent) and all(deleted_consistently(k) for k in kids)


def test_404_on_a_detail_fetch_deletes_the_record_and_its_line_items(case: Case) -> None:
    """A pull that fetches a changed record's detail and hears 404: gone, dependants too.
    A stream whose list carries the record (`DetailSpec.snapshot`) writes it unverified and
    hears the 404 when the verification fetches it.
    """
    connector = case.runtime.account(case.account).connector
    stream = next((s for s in connector.streams
                   if s.entity == Entity.PROPOSALS and s.detail is not None), None)
    if stream is None or stream.detail is None:
        pytest.skip(f"{case.vendor}: proposals are read without a detail request")
    row = with_items(case)
    case.sandbox.remote_edit_title(str(row["remote_id"]), "Changed, then deleted")
    path = case.runtime.account(case.account).settings.path(
        f"{stream.name}.{stream.detail.name}", stream.detail.path)
    case.sandbox.add_fault("GET", re.escape(path.format(id=row["remote_id"])) + "$", "status",
                           status=404, body={"message": "Not Found"}, times=5)
    result = case.pull(sweep=False)
    assert result.ok, result.errors
    if stream.detail.snapshot is not None:
        assert verify_account(case.runtime, case.account).outcomes["deleted"] == 1
    parent, kids = family(case, row["id"])
    assert deleted_consistently(parent)
    assert kids and all(deleted_consistently(k) for k in kids)
    assert planned_for(case, row["id"], [k["id"] for k in kids]) == []


def test_pushed_company_delete_deletes_its_people(case: Case) -> None:
    """A company's people exist only through it (Offorte): a pushed delete takes them."""
    connector = case.runtime.account(case.account).connector
    reason = connector.capability(Entity.COMPANIES, Op.DELETE)
    if reason:
        pytest.skip(f"{case.vendor} cannot delete companies: {reason}")
    case.runtime.account(case.account).settings.allow_delete = True
    companies, people = CANONICAL_TABLES[Entity.COMPANIES], CANONICAL_TABLES[Entity.CONTACTS]
    with case.runtime.db.begin() as conn:
        company_id = conn.execute(
            select(companies.c.id).join(people, people.c.company_id == companies.c.id).where(
                companies.c.account == case.account, people.c.deleted_at.is_(None),
                people.c.remote_id.is_not(None)).order_by(companies.c.id).limit(1)).scalar_one()
        conn.execute(text("UPDATE companies SET deleted_at = CURRENT_TIMESTAMP WHERE id = :id"),
                     {"id": company_id})
    result = Pusher(case.runtime, case.runtime.account(case.account)).run()
    assert result.ok and result.done == 1, result.refused
    with case.runtime.db.begin() as conn:
        company = dict(conn.execute(select(companies).where(companies.c.id == company_id))
                       .mappings().one())
        staff = [dict(r) for r in conn.execute(select(people).where(
            people.c.company_id == company_id, people.c.remote_id.is_not(None))).mappings()]
    assert deleted_consistently(company)
    assert staff and all(deleted_consistently(p) for p in staff)
    case.sandbox.reset_log()
    assert case.pull().ok
    plans = Pusher(case.runtime, case.runtime.account(case.account)).plan_only()
    assert [p for p in plans if p.entity in (Entity.COMPANIES, Entity.CONTACTS)] == []
    assert not [r for r in case.sandbox.requests if r.method in WRITES]
