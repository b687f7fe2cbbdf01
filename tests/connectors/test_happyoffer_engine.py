"""Happyoffer through the engine: a backfill, then local edits pushed (or reported)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import func, select, update

from syncd.canonical import Entity
from syncd.clock import FakeClock
from syncd.db.tables import CANONICAL_TABLES, fingerprints, outbox
from syncd.engine import pull
from syncd.engine.pull import Puller
from syncd.engine.push import Pusher
from syncd.errors import TransientVendorError
from syncd.http import lazy_records
from syncd.http.lazy_records import LazyRecords
from syncd.sandbox.happyoffer import HappyofferSandbox
from syncd.sandbox.happyoffer_data import (
    CHILD_COMPANY,
    EXTERNAL_COMPANY_TOKEN,
    EXTERNAL_USER_TOKEN,
    OTHER_COMPANY,
    PARENT_COMPANY,
    TEMPLATE_ID,
)
from tests.connectors.standard import Case, make_case

SIZES = {"companies": 5, "proposals": 30, "max_items": 4, "seed": 5}


def backfilled(db_url: str, make_runtime: Any, served: Any) -> Case:
    case = make_case("happyoffer", db_url, make_runtime, served, rpm=30, sizes=SIZES)
    result = case.pull()
    assert result.ok, result.errors
    return case


def set_proposal(case: Case, remote_id: str, **values: Any) -> None:
    table = CANONICAL_TABLES[Entity.PROPOSALS]
    with case.runtime.db.begin() as conn:
        conn.execute(update(table).where(table.c.account == case.account,
                                         table.c.remote_id == remote_id).values(**values))


def outbox_rows(case: Case) -> list[dict[str, Any]]:
    with case.runtime.db.begin() as conn:
        return [dict(r) for r in conn.execute(select(outbox)).mappings()]


def test_happyoffer_backfill_mirrors_child_company_offers_and_joins_both_lists(
    sqlite_url, make_runtime, served
):
    case = backfilled(sqlite_url, make_runtime, served)
    offers = case.sandbox.collection("offers")
    by_company: dict[str, set[str]] = {}
    for key, offer in offers.items():
        by_company.setdefault(offer["attributes"]["company_id"], set()).add(key)
    mirrored = {r["remote_id"]: r for r in case.rows(Entity.PROPOSALS)}
    assert by_company[CHILD_COMPANY] <= set(mirrored)
    assert by_company[PARENT_COMPANY] <= set(mirrored)
    assert not by_company[OTHER_COMPANY] & set(mirrored)
    joined = [r for r in mirrored.values() if r["company_id"] is not None]
    assert joined and all(set(r["raw"]) == {"offers", "external_offers"} for r in joined)
    assert all(r["status"] and r["title"] for r in joined)  # both halves in one row
    items = case.rows(Entity.LINE_ITEMS)
    assert any(i["optional"] for i in items) and any(not i["optional"] for i in items)


def test_happyoffer_title_edit_is_reported_unsupported_and_nothing_is_sent(
    sqlite_url, make_runtime, served
):
    case = backfilled(sqlite_url, make_runtime, served)
    remote_id = next(r["remote_id"] for r in case.rows(Entity.PROPOSALS) if not r["deleted_at"])
    set_proposal(case, remote_id, title="Nieuwe titel")
    case.sandbox.reset_log()
    result = Pusher(case.runtime, case.runtime.account(case.account)).run()
    assert case.sandbox.requests == []
    (planned,) = result.planned
    assert planned.status == "unsupported"
    assert planned.reason == "Happyoffer's API cannot change an offer after creation"


def test_happyoffer_status_sent_is_pushed_through_the_send_endpoint(
    sqlite_url, make_runtime, served
):
    case = backfilled(sqlite_url, make_runtime, served)
    offers = case.sandbox.collection("offers")
    remote_id = next(k for k, o in offers.items()
                     if o["attributes"]["company_id"] == PARENT_COMPANY
                     and not o["attributes"]["deleted_at"])
    offers[remote_id]["attributes"].update(offer_status="Not Yet Send", expiration_date=None,
                                           is_manually_rejected=False)
    assert case.pull().ok
    set_proposal(case, remote_id, status="sent")
    case.sandbox.reset_log()
    result = Pusher(case.runtime, case.runtime.account(case.account)).run()
    assert result.ok, result.refused
    assert [(r.method, r.path) for r in case.sandbox.requests] == [
        ("POST", f"/api/external-offers/{remote_id}/send")]
    assert offers[remote_id]["attributes"]["offer_status"] == "active"
    assert [o["status"] for o in outbox_rows(case)] == ["done"]
    assert case.pull().ok  # the vendor's "active" is `sent`: no echo, no conflict
    row = next(r for r in case.rows(Entity.PROPOSALS) if r["remote_id"] == remote_id)
    assert row["status"] == "sent" and row["vendor_status"] == "active"


def insert_local_offer(case: Case) -> int:
    """A proposal typed into the mirror for a known company, with a new contact and items."""
    tables = CANONICAL_TABLES
    company = next(c for c in case.rows(Entity.COMPANIES) if c["remote_id"])
    with case.runtime.db.begin() as conn:
        contact_id = conn.execute(tables[Entity.CONTACTS].insert().values(
            account=case.account, company_id=company["id"], first_name="Eva",
            last_name="Bakker", email="eva@bakker.test")).inserted_primary_key[0]
        proposal_id = conn.execute(tables[Entity.PROPOSALS].insert().values(
            account=case.account, title="Laadpaal thuis", number="Q-7", status="draft",
            company_id=company["id"], contact_id=contact_id)).inserted_primary_key[0]
        conn.execute(tables[Entity.LINE_ITEMS].insert(), [
            {"account": case.account, "proposal_id": proposal_id, "position": 1,
             "name": "Laadpaal", "quantity": 2, "unit_price": 1550, "optional": False},
            {"account": case.account, "proposal_id": proposal_id, "position": 2,
             "name": "Laadpaal 22 kW", "quantity": 1, "unit_price": 1649, "optional": True},
        ])
    return int(proposal_id)


def test_happyoffer_local_proposal_is_created_once_and_found_by_marker(
    sqlite_url, make_runtime, served
):
    case = backfilled(sqlite_url, make_runtime, served)
    local_id = insert_local_offer(case)
    case.sandbox.reset_log()
    case.sandbox.add_fault("POST", r"^/api/external-offers$", "drop")  # answer lost
    pusher = Pusher(case.runtime, case.runtime.account(case.account))
    pusher.run()
    case.clock.sleep(3600)
    pusher.run()  # looks the marker up instead of creating twice
    creates = case.sandbox.seen("POST", r"^/api/external-offers$")
    assert len(creates) == 1
    marker = creates[0].json()["external_id"]
    row = next(r for r in case.rows(Entity.PROPOSALS) if r["id"] == local_id)
    ext = next(e for e in case.sandbox.collection("external_offers").values()
               if e["attributes"]["external_id"] == marker)
    assert row["remote_id"] == ext["attributes"]["offer_id"]
    assert case.pull().ok
    items = [i for i in case.rows(Entity.LINE_ITEMS)
             if i["proposal_id"] == local_id and i["deleted_at"] is None]
    assert sorted((i["position"], i["optional"]) for i in items) == [(1, False), (2, True)]


CREATE_KEYS = ("offer_template_id", "offer_pdf_url", "external_user_token",
               "external_company_token")


def in_auth(entry: dict[str, Any]) -> dict[str, Any]:
    """The account as settings files wrote it before the create keys were options: every
    create key inside `[accounts.auth]`.
    """
    moved = {k: entry.pop(k) for k in CREATE_KEYS}
    return {**entry, "auth": {**entry["auth"], **moved}}


@pytest.mark.parametrize("place", ["entry", "auth"])
def test_happyoffer_create_sends_the_accounts_create_keys_from_either_settings_place(
    place, sqlite_url, make_runtime, served, caplog
):
    clock = FakeClock()
    box = HappyofferSandbox(requests_per_minute=1000, clock=clock)
    box.seed_data(**SIZES)
    served(box)
    entry = box.account_entry("acct")
    with caplog.at_level(logging.WARNING, logger="syncd.settings"):
        runtime = make_runtime(sqlite_url, [in_auth(entry) if place == "auth" else entry], clock)
    warned = [r.getMessage() for r in caplog.records if r.name == "syncd.settings"]
    if place == "auth":  # one line per key, naming it and never its value
        assert sorted(warned) == sorted(
            f"accounts[acct]: auth.{k} is deprecated: move `{k}` into the [[accounts]] entry "
            "itself (read from [accounts.auth] until then)" for k in CREATE_KEYS)
    else:
        assert warned == []
    case = Case("happyoffer", box, runtime, clock)
    assert case.pull().ok
    local_id = insert_local_offer(case)
    box.reset_log()

    Pusher(runtime, runtime.account("acct")).run()

    (create,) = box.seen("POST", r"^/api/external-offers$")
    assert create.status == 201
    body = create.json()
    assert (body["offer_template_id"], body["external_user_token"],
            body["external_company_token"]) == (
        TEMPLATE_ID, EXTERNAL_USER_TOKEN, EXTERNAL_COMPANY_TOKEN)
    assert body["offer_pdf_url"] == f"https://crm.example.com/pdf/{body['external_id']}.pdf"
    row = next(r for r in case.rows(Entity.PROPOSALS) if r["id"] == local_id)
    ext = next(e for e in box.collection("external_offers").values()
               if e["attributes"]["external_id"] == body["external_id"])
    assert row["remote_id"] == ext["attributes"]["offer_id"]


def test_happyoffer_unpaginated_answer_is_decoded_and_written_a_slice_at_a_time(
    db_url, make_runtime, served, monkeypatch
):
    """Every offer comes in one answer: it is written RECORDS_PER_COMMIT records per
    transaction, each slice decoded only when it is written. A failure mid-answer keeps the
    slices already committed; the rerun fetches the answer again and skips those by their
    fingerprints, and the mirror ends the same as an unsliced backfill's."""
    monkeypatch.setattr(lazy_records, "LAZY_FROM_BYTES", 0)
    monkeypatch.setattr(pull, "RECORDS_PER_COMMIT", 4)
    decoded_at_once: list[int] = []
    real_getitem = LazyRecords.__getitem__

    def getitem(self: LazyRecords, index: Any) -> Any:
        out = real_getitem(self, index)
        decoded_at_once.append(len(out) if isinstance(index, slice) else 1)
        return out

    monkeypatch.setattr(LazyRecords, "__getitem__", getitem)
    commits = {"offers": 0}
    real_commit = Puller._commit_page

    def failing_commit(self: Puller, stream: Any, work: Any, result: Any, state: Any) -> None:
        if stream.name == "offers":
            commits["offers"] += 1
            if commits["offers"] == 3:
                raise TransientVendorError("connection reset while writing (test)")
        real_commit(self, stream, work, result, state)

    monkeypatch.setattr(Puller, "_commit_page", failing_commit)
    case = make_case("happyoffer", db_url, make_runtime, served, rpm=30, sizes=SIZES)
    first = case.pull()
    offers_run = next(s for s in first.streams if s.stream == "offers")
    assert offers_run.error and "connection reset" in offers_run.error
    assert decoded_at_once and max(decoded_at_once) == 4
    with case.runtime.db.begin() as conn:
        written = conn.execute(select(func.count()).select_from(fingerprints).where(
            fingerprints.c.stream == "offers")).scalar_one()
    assert written == 8  # two slices of four committed before the failure

    case.sandbox.reset_log()
    second = case.pull()
    assert second.ok, second.errors
    offers_run = next(s for s in second.streams if s.stream == "offers")
    assert offers_run.skipped_unchanged >= 8
    assert case.sandbox.count("GET", r"/offers$") == 1  # the answer once more, nothing else
    assert case.live_counts() == case.sandbox.expected_counts()
    assert case.sandbox.count(status=429) == 0
