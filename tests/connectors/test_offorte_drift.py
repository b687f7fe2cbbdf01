"""Offorte saying things our seed never says, through the sandbox and the engine.

Strict about identity and money, tolerant about vocabulary: a proposal is kept whatever
words or types its fields hold (the odd value degrades to NULL, or is coerced, and the
drift table says so); only an unusable structure quarantines it. Each test is named
after the quirk it pins.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from syncd.canonical import Entity
from syncd.clock import FakeClock
from syncd.db.tables import drift, quarantine
from syncd.engine.runtime import Runtime
from syncd.engine.webhooks import receive, run_pending_fetches
from syncd.sandbox.base import ServedApp
from syncd.sandbox.offorte import OfforteSandbox
from tests.connectors.standard import Case

SIZES = {"companies": 3, "proposals": 10, "max_items": 3, "seed": 2}
ROWS = "content.pricetables[].rows[]"


def offorte_case(db_url: str, make_runtime: Callable[..., Runtime],
                 served: Callable[..., ServedApp], **account: Any) -> Case:
    """A seeded v1 sandbox and one account (with extra account settings) pointed at it."""
    clock = FakeClock()
    sandbox = OfforteSandbox(requests_per_minute=30, clock=clock)
    sandbox.seed_data(**SIZES)
    served(sandbox)
    entry = {**sandbox.account_entry("acct"), **account}
    return Case("offorte", sandbox, make_runtime(db_url, [entry], clock), clock)


def some_proposal(case: Case, status: str = "won") -> str:
    """A proposal in `status` whose first price table starts with a price row."""
    box = case.sandbox
    assert isinstance(box, OfforteSandbox)
    return next(k for k, p in sorted(box.proposals.items())
                if p["status"] == status and p["pricetables"][0]["rows"][0]["type"] == "price")


def backfill(case: Case) -> None:
    result = case.pull()
    assert result.ok, result.errors
    with case.runtime.db.begin() as conn:
        assert conn.execute(select(quarantine)).all() == []


def proposal_row(case: Case, remote_id: str) -> dict[str, Any]:
    return next(r for r in case.rows(Entity.PROPOSALS) if r["remote_id"] == remote_id)


def items_of(case: Case, remote_id: str) -> list[dict[str, Any]]:
    parent = proposal_row(case, remote_id)["id"]
    return sorted((i for i in case.rows(Entity.LINE_ITEMS)
                   if i["proposal_id"] == parent and i["deleted_at"] is None),
                  key=lambda i: i["position"])


def drift_rows(case: Case) -> set[tuple[str, str, str]]:
    with case.runtime.db.begin() as conn:
        return {(r.kind, r.path, r.word) for r in conn.execute(
            select(drift.c.kind, drift.c.path, drift.c.word).where(
                drift.c.account == case.account))}


def test_offorte_unknown_status_word_keeps_the_proposal_with_status_null(
    db_url, make_runtime, served
):
    case = offorte_case(db_url, make_runtime, served)
    remote_id = some_proposal(case)
    case.sandbox.override_fields(remote_id, status="Archiviert")
    backfill(case)
    row = proposal_row(case, remote_id)
    assert (row["status"], row["vendor_status"], row["deleted_at"]) == (None, "Archiviert", None)
    assert len(items_of(case, remote_id)) >= 1
    assert ("unmapped_word", "status", "archiviert") in drift_rows(case)


def test_offorte_known_status_words_in_other_casing_and_spacing_map(
    db_url, make_runtime, served
):
    case = offorte_case(db_url, make_runtime, served)
    won, lost = some_proposal(case, "won"), some_proposal(case, "lost")
    case.sandbox.override_fields(won, status="WON")
    case.sandbox.override_fields(lost, status=" Lost ")
    backfill(case)
    assert (proposal_row(case, won)["status"], proposal_row(case, lost)["status"]) == (
        "accepted", "rejected")
    assert not any(kind == "unmapped_word" for kind, _, _ in drift_rows(case))


def test_offorte_account_status_map_entry_takes_effect(db_url, make_runtime, served):
    case = offorte_case(db_url, make_runtime, served,
                        status_map={"archiviert": "expired", "won": "ordered"})
    archived, won = some_proposal(case, "won"), some_proposal(case, "open")
    case.sandbox.override_fields(archived, status="Archiviert")
    case.sandbox.override_fields(won, status="won")
    backfill(case)
    assert proposal_row(case, archived)["status"] == "expired"
    assert proposal_row(case, won)["status"] == "ordered"  # the account's word beats the table
    assert not any(kind == "unmapped_word" for kind, _, _ in drift_rows(case))


def test_offorte_numbers_as_strings_and_money_in_the_other_type_are_coerced_exactly(
    db_url, make_runtime, served
):
    case = offorte_case(db_url, make_runtime, served)
    remote_id = some_proposal(case)
    case.sandbox.override_row(remote_id, 0, 0, quantity="3", price="12.34", subtotal="37.02",
                              discount_type=False, vat_percentage="9")
    case.sandbox.override_fields(remote_id, price_total_original="1234.56", proposal_nr=2047)
    backfill(case)
    row = proposal_row(case, remote_id)
    assert (Decimal(str(row["total_gross"])), row["number"]) == (Decimal("1234.56"), "2047")
    first = items_of(case, remote_id)[0]
    assert [Decimal(str(first[k])) for k in ("quantity", "unit_price", "total_net", "tax_rate")] == [
        Decimal(3), Decimal("12.34"), Decimal("37.02"), Decimal(9)]
    found = drift_rows(case)
    for field in ("quantity", "price", "subtotal", "vat_percentage"):
        assert ("coerced_value", f"{ROWS}.{field}", "") in found


def test_offorte_unparseable_amount_is_null_and_noted_never_zero(db_url, make_runtime, served):
    case = offorte_case(db_url, make_runtime, served)
    remote_id = some_proposal(case)
    case.sandbox.override_row(remote_id, 0, 0, price="on request", subtotal="on request")
    case.sandbox.override_fields(remote_id, price_total_original="TBD", price_total="TBD")
    backfill(case)
    row = proposal_row(case, remote_id)
    assert (row["total_gross"], row["currency"], row["deleted_at"]) == (None, None, None)
    first = items_of(case, remote_id)[0]
    assert (first["unit_price"], first["total_net"]) == (None, None)
    assert first["quantity"] is not None
    found = drift_rows(case)
    for path in ("price_total_original", "price_total", f"{ROWS}.price", f"{ROWS}.subtotal"):
        assert ("unparseable_value", path, "") in found


def test_offorte_null_title_keeps_the_proposal(db_url, make_runtime, served):
    case = offorte_case(db_url, make_runtime, served)
    remote_id = some_proposal(case)
    case.sandbox.override_fields(remote_id, name=None)
    backfill(case)
    row = proposal_row(case, remote_id)
    assert (row["title"], row["status"], row["deleted_at"]) == (None, "accepted", None)


def test_offorte_unknown_row_type_with_a_price_becomes_a_line_item_without_one_stays_raw(
    db_url, make_runtime, served
):
    case = offorte_case(db_url, make_runtime, served)
    remote_id = some_proposal(case)
    before = len(case.sandbox.proposals[remote_id]["pricetables"][0]["rows"])
    case.sandbox.add_row(remote_id, {"id": "trbundle", "type": "bundle_item", "quantity": 2,
                                     "price": 10, "content": "<p>Bundle</p>"})
    case.sandbox.add_row(remote_id, {"id": "trnote", "type": "note",
                                     "content": "<p>Delivery in May</p>"})
    backfill(case)
    items = items_of(case, remote_id)
    assert [i["remote_id"] for i in items][-1] == "trbundle"
    bundle = items[-1]
    assert (bundle["name"], Decimal(str(bundle["total_net"]))) == ("Bundle", Decimal(20))
    assert "trnote" not in [i["remote_id"] for i in items]
    raw = proposal_row(case, remote_id)["raw"]
    raw = json.loads(raw) if isinstance(raw, str) else raw
    rows = raw["proposals"]["content"]["pricetables"][0]["rows"]
    assert [r["id"] for r in rows[before:]] == ["trbundle", "trnote"]  # kept in raw
    found = drift_rows(case)
    assert {("unmapped_word", f"{ROWS}.type", w) for w in ("bundleitem", "note")} <= found


def test_offorte_account_line_item_types_entry_makes_a_row_type_a_line_item(
    db_url, make_runtime, served
):
    case = offorte_case(db_url, make_runtime, served, line_item_types=["Note"])
    remote_id = some_proposal(case)
    case.sandbox.add_row(remote_id, {"id": "trnote", "type": "note",
                                     "content": "<p>Delivery in May</p>"})
    backfill(case)
    last = items_of(case, remote_id)[-1]
    assert (last["remote_id"], last["name"], last["unit_price"]) == (
        "trnote", "Delivery in May", None)
    assert not any(kind == "unmapped_word" for kind, _, _ in drift_rows(case))


def test_offorte_webhook_fetch_of_an_unusable_record_is_skipped_not_fatal(
    sqlite_url, make_runtime, served
):
    case = offorte_case(sqlite_url, make_runtime, served, webhook_secret="path-token")
    backfill(case)
    bad = case.sandbox.corrupt_one_record()
    good = next(k for k in sorted(case.sandbox.proposals) if k != bad)
    case.sandbox.remote_edit_title(good, "Renamed at Offorte")
    for remote_id in (bad, good):
        body = json.dumps({"type": "proposal_details_updated",
                           "date_created": "2020-10-16 18:05:00",
                           "data": {"id": int(remote_id)}}).encode()
        assert receive(case.runtime, case.account, {}, body, "path-token")[0] == 202
    assert run_pending_fetches(case.runtime, case.account) == 1
    assert proposal_row(case, good)["title"] == "Renamed at Offorte"
    assert proposal_row(case, bad)["deleted_at"] is None  # unreadable is not gone
