"""StrawBlond drift quirks through the engine: the served sandbox says things in other words
(`StrawBlondSandbox.override`), a backfill runs, and the mirror, the quarantine and the
`drift` table show what syncd kept, coerced, left NULL and noted.

Strict about identity and money, tolerant about vocabulary: every offer below is kept,
except the one whose `elements` is not a list.
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
from syncd.engine.remap import remap_accounts
from syncd.engine.runtime import Runtime
from syncd.sandbox.strawblond import StrawBlondSandbox
from syncd.sandbox.strawblond_data import elements_of
from tests.connectors.standard import Case

SIZES = {"companies": 3, "proposals": 8, "max_items": 4, "seed": 5}


def _case(db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any],
          **account: Any) -> Case:
    """A small served sandbox and an account on it (`account`: extra account settings)."""
    clock = FakeClock()
    sandbox = StrawBlondSandbox(requests_per_minute=10_000, clock=clock)
    sandbox.seed_data(**SIZES)
    served(sandbox)
    entry = {**sandbox.account_entry("acct"), "requests_per_minute": 10_000, **account}
    return Case("strawblond", sandbox, make_runtime(db_url, [entry], clock), clock)


def _sb(case: Case) -> StrawBlondSandbox:
    assert isinstance(case.sandbox, StrawBlondSandbox)
    return case.sandbox


def _offer(case: Case, word: str | None = None, priced: int = 1) -> str:
    """A live offer (in vendor state `word`, if given) with at least `priced` priced rows."""
    sandbox = _sb(case)
    with sandbox.lock:
        for offer in sorted(sandbox.collection("offers").values(), key=lambda o: o["seq"]):
            rows = [e for e in elements_of(sandbox.store, offer["id"])
                    if e["type"] in ("paragraph", "product")]
            if (offer["deleted_at"] is None and len(rows) >= priced
                    and word in (None, sandbox._status_of(offer))):
                return str(offer["id"])
    raise LookupError(word)


def _priced_index(case: Case, offer_id: str, nth: int = 0) -> tuple[int, dict[str, Any]]:
    """(index by order, element) of the offer's `nth` priced row (`override` takes it)."""
    with _sb(case).lock:
        rows = sorted(elements_of(_sb(case).store, offer_id), key=lambda e: e["order"])
    found = [(i, e) for i, e in enumerate(rows) if e["type"] in ("paragraph", "product")]
    return found[nth]


def _proposal(case: Case, remote_id: str) -> dict[str, Any]:
    [row] = [r for r in case.rows(Entity.PROPOSALS) if r["remote_id"] == remote_id]
    return row


def _items(case: Case, remote_id: str) -> dict[str, dict[str, Any]]:
    proposal = _proposal(case, remote_id)
    return {r["remote_id"]: r for r in case.rows(Entity.LINE_ITEMS)
            if r["proposal_id"] == proposal["id"] and r["deleted_at"] is None}


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _drift(case: Case) -> dict[tuple[str, str, str], int]:
    """(kind, path, word) -> count of the account's drift rows."""
    with case.runtime.db.begin() as conn:
        return {(r.kind, r.path, r.word): r.count for r in conn.execute(
            select(drift).where(drift.c.account == case.account))}


def _held(case: Case) -> list[str]:
    with case.runtime.db.begin() as conn:
        return [r[0] for r in conn.execute(select(quarantine.c.remote_id).where(
            quarantine.c.account == case.account, quarantine.c.resolved_at.is_(None)))]


def _backfill(case: Case) -> None:
    """A backfill that keeps every offer the sandbox lists (nothing quarantined)."""
    result = case.pull()
    assert result.ok, result.errors
    assert _held(case) == []
    assert case.live_counts()["proposals"] == case.sandbox.expected_counts()["proposals"]


def test_strawblond_unknown_status_word_keeps_the_offer_with_status_null(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    oid = _offer(case, "approved")
    _sb(case).override(oid, status="Archiviert")
    _backfill(case)
    row = _proposal(case, oid)
    assert (row["status"], row["vendor_status"]) == (None, "Archiviert")
    assert _drift(case)[("unmapped_word", "status", "archiviert")] == 1
    priced = [e for e in elements_of(_sb(case).store, oid)
              if e["type"] in ("paragraph", "product", "percentage")]
    assert len(_items(case, oid)) == len(priced)


@pytest.mark.parametrize(("word", "status"), [
    ("APPROVED", "accepted"), (" Pending ", "sent"), ("re-jected", "rejected"),
    ("DRAFT", "draft"), ("approved", "accepted"),
])
def test_strawblond_status_word_in_other_casing_or_spacing_maps(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any], word: str,
    status: str,
) -> None:
    case = _case(db_url, make_runtime, served)
    oid = _offer(case, "draft")
    _sb(case).override(oid, status=word)  # the answer's own word beats the flags
    _backfill(case)
    row = _proposal(case, oid)
    assert (row["status"], row["vendor_status"]) == (status, word)
    assert not [k for k in _drift(case) if k[0] == "unmapped_word"]


def test_strawblond_missing_or_null_flags_are_read_from_their_timestamps(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    approved, pending = _offer(case, "approved"), _offer(case, "pending")
    _sb(case).override(approved, is_approved=None, is_locked="1")
    _sb(case).override(pending, is_locked=None, is_approved="false")
    _backfill(case)
    assert (_proposal(case, approved)["status"], _proposal(case, approved)["vendor_status"]) \
        == ("accepted", "approved")
    assert (_proposal(case, pending)["status"], _proposal(case, pending)["vendor_status"]) \
        == ("sent", "pending")
    notes = _drift(case)
    assert notes[("coerced_value", "is_locked", "")] == 1
    assert notes[("coerced_value", "is_approved", "")] == 1


def test_strawblond_flags_both_approved_and_rejected_give_no_status(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    oid = _offer(case, "approved")
    _sb(case).override(oid, is_rejected=True)
    _backfill(case)
    row = _proposal(case, oid)
    assert (row["status"], row["vendor_status"]) == (None, None)
    assert _drift(case)[("unparseable_value", "is_approved", "")] == 1


def test_strawblond_numbers_as_strings_and_money_as_strings_are_coerced_exactly(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    oid = _offer(case)
    index, element = _priced_index(case, oid)
    _sb(case).override(oid, total="1234.56", total_with_vat="1334.56",
                       created_at="2023-01-05T10:00:00+02:00", updated_at="2023-01-06 08:00:00")
    _sb(case).override(oid, index, quantity="2.5", amount="150.10", total="375.25",
                       vat_rate="8.1", order=str(element["order"]), is_optional=0)
    _backfill(case)
    row = _proposal(case, oid)
    assert (row["total_net"], row["total_gross"], row["total_tax"]) == (
        Decimal("1234.56"), Decimal("1334.56"), Decimal("100.00"))
    assert _utc(row["created_at"]) == datetime(2023, 1, 5, 8, 0, tzinfo=UTC)
    assert _utc(row["updated_at"]) == datetime(2023, 1, 6, 8, 0, tzinfo=UTC)
    item = _items(case, oid)[element["id"]]
    assert (item["quantity"], item["unit_price"], item["total_net"], item["tax_rate"]) == (
        Decimal("2.5"), Decimal("150.10"), Decimal("375.25"), Decimal("8.1"))
    assert (item["position"], item["optional"]) == (element["order"], False)
    notes = _drift(case)
    for path in ("total", "total_with_vat", "elements[].quantity", "elements[].amount",
                 "elements[].total", "elements[].vat_rate", "elements[].order",
                 "elements[].is_optional"):
        assert notes[("coerced_value", path, "")] == 1, path


def test_strawblond_unparseable_amount_is_null_and_noted_never_zero(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    oid = _offer(case)
    index, element = _priced_index(case, oid)
    _sb(case).override(oid, total="auf Anfrage")
    _sb(case).override(oid, index, amount="n/a", discount_type="percentage",
                       discount_value=10.0)
    _backfill(case)
    row = _proposal(case, oid)
    assert (row["total_net"], row["total_tax"]) == (None, None)
    assert row["total_gross"] is not None
    item = _items(case, oid)[element["id"]]
    assert item["unit_price"] is None and item["discount"] is None  # never 0
    assert item["total_net"] is not None  # the vendor's own total still reads
    notes = _drift(case)
    assert notes[("unparseable_value", "total", "")] == 1
    assert notes[("unparseable_value", "elements[].amount", "")] == 1


def test_strawblond_null_title_and_names_keep_the_offer(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    oid = _offer(case)
    index, element = _priced_index(case, oid)
    _sb(case).override(oid, name=None, number=None)
    _sb(case).override(oid, index, name=None, description=None)
    _backfill(case)
    row = _proposal(case, oid)
    assert (row["title"], row["number"]) == (None, None)
    item = _items(case, oid)[element["id"]]
    assert (item["name"], item["description"]) == (None, None)
    assert item["unit_price"] == Decimal(str(element["amount"]))


def test_strawblond_unknown_element_type_with_a_price_is_a_line_item_without_one_raw_only(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    oid = _offer(case, priced=2)
    (first, priced), (second, bare) = _priced_index(case, oid, 0), _priced_index(case, oid, 1)
    _sb(case).override(oid, first, type="bundle_item")
    _sb(case).override(oid, second, type="Banner", quantity=None, amount=None)
    _backfill(case)
    items = _items(case, oid)
    assert items[priced["id"]]["unit_price"] == Decimal(str(priced["amount"]))
    assert items[priced["id"]]["quantity"] == Decimal(str(priced["quantity"]))
    assert bare["id"] not in items  # stays in the offer's raw only
    raw_elements = _proposal(case, oid)["raw"]["offers"]["elements"]
    assert any(e["id"] == bare["id"] for e in raw_elements)
    notes = _drift(case)
    assert notes[("unmapped_word", "elements[].type", "bundleitem")] == 1
    assert notes[("unmapped_word", "elements[].type", "banner")] == 1


def test_strawblond_element_types_and_discount_types_in_other_casing_map(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    oid = _offer(case)
    index, element = _priced_index(case, oid)
    _sb(case).override(oid, index, type=" PARAGRAPH ", quantity=2.0, amount=100.0,
                       discount_type="Percentage", discount_value=10.0)
    _backfill(case)
    item = _items(case, oid)[element["id"]]
    assert (item["quantity"], item["unit_price"], item["discount"]) == (
        Decimal("2.0"), Decimal("100.0"), Decimal("20.00"))
    assert not [k for k in _drift(case) if k[0] == "unmapped_word"]


def test_strawblond_unknown_discount_type_gives_no_discount_and_is_noted(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    oid = _offer(case)
    index, element = _priced_index(case, oid)
    _sb(case).override(oid, index, discount_type="Staffel", discount_value=5.0)
    _backfill(case)
    assert _items(case, oid)[element["id"]]["discount"] is None
    assert _drift(case)[("unmapped_word", "elements[].discount_type", "staffel")] == 1


def test_strawblond_element_without_usable_id_stays_raw_and_deletes_nothing(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    oid = _offer(case, priced=2)
    _backfill(case)
    before = _items(case, oid)
    index, element = _priced_index(case, oid, 0)
    _sb(case).override(oid, index, id=None, name="ohne Id")
    _sb(case).remote_edit_title(oid, "Neu")  # the offer changed: it is read again
    result = case.pull()
    assert result.ok and _held(case) == []
    assert _proposal(case, oid)["title"] == "Neu"
    assert set(_items(case, oid)) == set(before)  # the unidentified row deleted nothing
    assert _items(case, oid)[element["id"]]["name"] == before[element["id"]]["name"]
    assert _drift(case)[("unparseable_value", "elements[].id", "")] == 1


def test_strawblond_contact_without_usable_id_leaves_the_link_as_it_was(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    oid = _offer(case)
    _backfill(case)
    linked = _proposal(case, oid)["contact_id"]
    with _sb(case).lock:
        offer = _sb(case).collection("offers")[oid]
        contact = dict(_sb(case).collection("contacts")[offer["contact_id"]])
    _sb(case).override(oid, name="Neu", contact={"id": None, "firstname": contact["firstname"]})
    result = case.pull()
    assert result.ok and _held(case) == []
    row = _proposal(case, oid)
    assert (row["title"], row["contact_id"]) == ("Neu", linked)
    assert _drift(case)[("unparseable_value", "contact.id", "")] == 1


def test_strawblond_unknown_fields_stay_in_raw_and_are_counted_per_path(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    oid = _offer(case)
    index, _ = _priced_index(case, oid)
    _sb(case).override(oid, workflow={"stage": 2})
    _sb(case).override(oid, index, cost_center="4400")
    _backfill(case)
    raw = _proposal(case, oid)["raw"]["offers"]
    assert raw["workflow"] == {"stage": 2}
    notes = _drift(case)
    assert notes[("unknown_field", "workflow", "")] == 1
    assert notes[("unknown_field", "elements[].cost_center", "")] == 1
    # documented keys syncd does not map are not "unknown"
    assert {k[1] for k in notes if k[0] == "unknown_field"} == {
        "workflow", "elements[].cost_center"}


def test_strawblond_account_status_map_and_line_item_types_take_effect(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served, status_map={"ARCHIVIERT": "canceled",
                                                           "pending": "viewed"},
                 line_item_types=["Banner", "subtotal"])
    oid, pending = _offer(case, "approved", priced=1), _offer(case, "pending")
    index, element = _priced_index(case, oid)
    _sb(case).override(oid, status="archiviert")
    _sb(case).override(oid, index, type="banner", quantity=None, amount=None)
    _backfill(case)
    row = _proposal(case, oid)
    assert (row["status"], row["vendor_status"]) == ("canceled", "archiviert")
    assert _proposal(case, pending)["status"] == "viewed"  # the account's word beats ours
    items = _items(case, oid)
    assert element["id"] in items  # a `line_item_types` entry is a priced line
    subtotals = [e["id"] for e in elements_of(_sb(case).store, oid) if e["type"] == "subtotal"]
    assert all(s in items for s in subtotals)
    assert not [k for k in _drift(case) if k[0] == "unmapped_word"]


def test_strawblond_status_map_then_remap_fixes_unmapped_offers_without_requests(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    oid = _offer(case)
    _sb(case).override(oid, status="on hold")
    _backfill(case)
    assert _proposal(case, oid)["status"] is None
    entry = {**case.sandbox.account_entry("acct"), "requests_per_minute": 10_000,
             "status_map": {"on_hold": "sent"}}
    mapped = make_runtime(db_url, [entry], case.clock)
    before = len(case.sandbox.requests)
    remap_accounts(mapped, ["acct"])
    assert len(case.sandbox.requests) == before
    assert (_proposal(case, oid)["status"], _proposal(case, oid)["vendor_status"]) == (
        "sent", "on hold")


def test_strawblond_elements_not_a_list_is_quarantined_and_the_others_are_kept(
    db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., Any]
) -> None:
    case = _case(db_url, make_runtime, served)
    bad = case.sandbox.corrupt_one_record()
    result = case.pull()
    assert result.ok, result.errors
    assert _held(case) == [bad]
    with case.runtime.db.begin() as conn:
        held = conn.execute(select(func.count()).select_from(quarantine)).scalar_one()
    assert held == 1
    assert case.live_counts()["proposals"] == case.sandbox.expected_counts()["proposals"] - 1
