"""Quick Quote drift quirks through the engine: the served sandbox says things in other words
(`QuickQuoteSandbox.override`), a backfill runs, and the mirror, the quarantine and the
`drift` table show what syncd kept, coerced, left NULL and noted.

Strict about identity and money, tolerant about vocabulary: every quote below is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from syncd.canonical import Entity
from syncd.clock import FakeClock
from syncd.db.tables import drift, quarantine
from syncd.engine.runtime import Runtime
from syncd.sandbox.quickquote import QuickQuoteSandbox
from tests.connectors.standard import Case

SIZES = {"companies": 3, "proposals": 6, "max_items": 3, "seed": 5}


def _case(db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any],
          **account: Any) -> Case:
    """A small served sandbox and an account on it (`account`: extra account settings)."""
    clock = FakeClock()
    sandbox = QuickQuoteSandbox(requests_per_minute=10_000, clock=clock)
    sandbox.seed_data(**SIZES)
    served(sandbox)
    entry = {**sandbox.account_entry("acct"), "requests_per_minute": 10_000, **account}
    return Case("quickquote", sandbox, make_runtime(db_url, [entry], clock), clock)


def _quote_ids(case: Case) -> list[str]:
    with case.sandbox.lock:
        return sorted(case.sandbox.quotes, key=int)


def _proposal(case: Case, remote_id: str) -> dict[str, Any]:
    [row] = [r for r in case.rows(Entity.PROPOSALS) if r["remote_id"] == remote_id]
    return row


def _items(case: Case, remote_id: str) -> list[dict[str, Any]]:
    proposal = _proposal(case, remote_id)
    return sorted((r for r in case.rows(Entity.LINE_ITEMS)
                   if r["proposal_id"] == proposal["id"] and r["deleted_at"] is None),
                  key=lambda r: r["position"])


def _drift(case: Case) -> dict[tuple[str, str, str], int]:
    """(kind, path, word) -> count of the account's drift rows."""
    with case.runtime.db.begin() as conn:
        return {(r.kind, r.path, r.word): r.count for r in conn.execute(
            select(drift).where(drift.c.account == case.account))}


def _backfill(case: Case) -> None:
    """A backfill that keeps every quote the sandbox lists (nothing quarantined)."""
    result = case.pull()
    assert result.ok, result.errors
    with case.runtime.db.begin() as conn:
        held = conn.execute(select(func.count()).select_from(quarantine).where(
            quarantine.c.account == case.account)).scalar_one()
    assert held == 0
    assert case.live_counts()["proposals"] == case.sandbox.expected_counts()["proposals"]


def test_quickquote_unknown_status_word_keeps_the_quote_with_status_null(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    qid = _quote_ids(case)[2]
    case.sandbox.override(qid, status="Archived")
    _backfill(case)
    row = _proposal(case, qid)
    assert (row["status"], row["vendor_status"]) == (None, "Archived")
    assert _drift(case)[("unmapped_word", "status", "archived")] == 1
    assert len(_items(case, qid)) == len(case.sandbox.quotes[qid]["line_items"])


@pytest.mark.parametrize(("word", "status"), [
    ("ACCEPTED", "accepted"), ("accepted", "accepted"), (" Viewed ", "viewed"),
    ("DECLINED", "rejected"), ("canceled", "canceled"), ("Order-ed", "ordered"),
    ("CREATED", "draft"),
])
def test_quickquote_known_status_in_other_casing_or_spacing_maps(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any], word: str,
    status: str,
) -> None:
    case = _case(db_url, make_runtime, served)
    qid = _quote_ids(case)[0]
    case.sandbox.override(qid, status=word)
    _backfill(case)
    row = _proposal(case, qid)
    assert (row["status"], row["vendor_status"]) == (status, word)
    assert not [k for k in _drift(case) if k[0] == "unmapped_word"]


def test_quickquote_numbers_as_strings_and_money_as_text_are_coerced_exactly(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    qid = _quote_ids(case)[1]
    with case.sandbox.lock:
        customer = case.sandbox.quotes[qid].get("customer_id")
    case.sandbox.override(qid, id=qid, total="1234.56", total_tax="112.23", quote_number="77",
                          customer_id=None if customer is None else str(customer))
    case.sandbox.override(qid, 0, quantity="3", line_price="30.30", original_line_price="30.30",
                          total="30.30", discount_total=None, id=str(2**53 + 101))
    _backfill(case)
    row = _proposal(case, qid)
    assert (row["total_gross"], row["total_tax"], row["total_net"], row["number"]) == (
        Decimal("1234.56"), Decimal("112.23"), Decimal("1122.33"), "77")
    first = _items(case, qid)[0]
    assert first["remote_id"] == "9007199254741093"
    assert (first["quantity"], first["unit_price"], first["total_net"]) == (
        Decimal(3), Decimal("10.10"), Decimal("30.30"))
    noted = _drift(case)
    for path in ("total", "total_tax", "line_items[].quantity", "line_items[].total",
                 "line_items[].line_price", "line_items[].original_line_price"):
        assert noted[("coerced_value", path, "")] == 1, path
    assert not [k for k in noted if k[1] in ("id", "quote_number", "customer_id")]


def test_quickquote_unparseable_amount_is_null_and_noted_never_zero(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    qid = _quote_ids(case)[3]
    case.sandbox.override(qid, total="call us", total_tax={"amount": 3})
    case.sandbox.override(qid, 0, total="n/a", original_line_price="TBD", quantity="two")
    _backfill(case)
    row = _proposal(case, qid)
    assert (row["total_gross"], row["total_tax"], row["total_net"]) == (None, None, None)
    first = _items(case, qid)[0]
    assert (first["total_net"], first["unit_price"], first["quantity"]) == (None, None, None)
    noted = _drift(case)
    for path in ("total", "total_tax", "line_items[].total", "line_items[].original_line_price",
                 "line_items[].quantity"):
        assert noted[("unparseable_value", path, "")] == 1, path


def test_quickquote_null_title_and_names_keep_the_record(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    qid = _quote_ids(case)[4]
    case.sandbox.override(qid, internal_notes=None, first_name=None, last_name=None,
                          created_on=None, status=None)
    case.sandbox.override(qid, 0, title=None, sku=None, variant_title=None)
    _backfill(case)
    row = _proposal(case, qid)
    assert (row["title"], row["status"], row["created_at"]) == (None, None, None)
    assert _items(case, qid)[0]["name"] is None


@pytest.mark.parametrize("created_on", [
    "2023-03-04T05:06:07.5", "2023-03-04T05:06:07.500Z", "2023-03-04T07:06:07.500+02:00",
    "2023-03-04 05:06:07.500",
])
def test_quickquote_created_on_with_or_without_zone_and_milliseconds(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any],
    created_on: str,
) -> None:
    case = _case(db_url, make_runtime, served)
    qid = _quote_ids(case)[0]
    case.sandbox.override(qid, created_on=created_on)
    _backfill(case)
    stored = _proposal(case, qid)["created_at"]
    stored = stored if stored.tzinfo else stored.replace(tzinfo=UTC)
    assert stored == datetime(2023, 3, 4, 5, 6, 7, 500000, tzinfo=UTC)


def test_quickquote_unknown_element_type_with_a_price_becomes_a_line_item(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    qid = _quote_ids(case)[0]
    with case.sandbox.lock:
        count = len(case.sandbox.quotes[qid]["line_items"])
    case.sandbox.override(qid, 0, type="shipping_line")
    _backfill(case)
    assert len(_items(case, qid)) == count
    assert _drift(case)[("unmapped_word", "line_items[].type", "shippingline")] == 1


def test_quickquote_unknown_element_type_without_an_amount_stays_raw_only(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    """A heading-like element is no line item; a mirror line it replaced is deleted (the
    quote's set is complete), and the element stays in the proposal's raw."""
    case = _case(db_url, make_runtime, served)
    qid = next(q for q in _quote_ids(case) if len(case.sandbox.quotes[q]["line_items"]) > 1)
    _backfill(case)
    before = _items(case, qid)
    case.sandbox.override(qid, 0, type="Section Break", quantity=None, line_price=None,
                          original_line_price=None, total=None, discount_total=None)
    _backfill(case)
    after = _items(case, qid)
    assert [i["remote_id"] for i in after] == [i["remote_id"] for i in before[1:]]
    raw = _proposal(case, qid)["raw"]["quotes"]  # the raw column is keyed by stream
    assert raw["line_items"][0]["type"] == "Section Break"
    assert _drift(case)[("unmapped_word", "line_items[].type", "sectionbreak")] == 1


def test_quickquote_account_status_map_and_line_item_types_take_effect(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served, status_map={"Archived": "canceled"},
                 line_item_types=["note"])
    first, second = _quote_ids(case)[:2]
    with case.sandbox.lock:
        count = len(case.sandbox.quotes[second]["line_items"])
    case.sandbox.override(first, status="ARCHIVED")
    case.sandbox.override(second, 0, type="Note", quantity=None, line_price=None,
                          original_line_price=None, total=None, discount_total=None)
    _backfill(case)
    assert (_proposal(case, first)["status"], _proposal(case, first)["vendor_status"]) == (
        "canceled", "ARCHIVED")
    assert len(_items(case, second)) == count  # a note counts as a line for this account
    assert not [k for k in _drift(case) if k[0] == "unmapped_word"]


def test_quickquote_line_item_without_a_usable_id_keeps_the_quote_and_its_mirror_lines(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    """A float id beyond 2^53 names another line: that line stays in raw only, the quote
    and its other lines are kept, and no mirror line is deleted for the quote."""
    case = _case(db_url, make_runtime, served)
    qid = _quote_ids(case)[0]
    _backfill(case)
    before = _items(case, qid)
    with case.sandbox.lock:
        line_id = case.sandbox.quotes[qid]["line_items"][0]["id"]
    case.sandbox.override(qid, 0, id=float(line_id), title="Renamed")
    _backfill(case)
    after = _items(case, qid)
    assert [i["remote_id"] for i in after] == [i["remote_id"] for i in before]
    assert after[0]["name"] == before[0]["name"]  # not read from a line it cannot name
    assert _drift(case)[("unparseable_value", "line_items[].id", "")] == 1


def test_quickquote_unknown_fields_are_counted_per_path(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    first, second = _quote_ids(case)[:2]
    case.sandbox.override(first, x_loyalty_tier="gold")
    case.sandbox.override(second, x_loyalty_tier="silver")
    case.sandbox.override(second, 0, x_gift_wrap=True)
    _backfill(case)
    noted = _drift(case)
    assert noted[("unknown_field", "x_loyalty_tier", "")] == 2
    assert noted[("unknown_field", "line_items[].x_gift_wrap", "")] == 1
    assert {k[1] for k in noted if k[0] == "unknown_field"} == {
        "x_loyalty_tier", "line_items[].x_gift_wrap"}  # documented keys are not unknown


def test_quickquote_documented_answers_leave_no_drift(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    """Every key the sandbox sends is documented: a plain backfill notes nothing."""
    case = _case(db_url, make_runtime, served)
    _backfill(case)
    assert _drift(case) == {}
