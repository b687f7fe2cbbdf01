"""Happyoffer under vendor drift: strict about identity and money, tolerant about words.

Each quirk is played through the sandbox and a backfill (rows in the mirror, rows in the
`drift` table, nothing quarantined), or, where no request is involved, through the record
models and mappings the pull uses. A record is quarantined only when it cannot be
identified or its structure is unusable.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from syncd import drift as drift_notes
from syncd.canonical import Entity, ProposalStatus
from syncd.clock import FakeClock
from syncd.db.tables import drift, quarantine
from syncd.engine.remap import remap_accounts
from syncd.engine.runtime import Runtime
from syncd.errors import VendorRefused
from syncd.sandbox.happyoffer import HappyofferSandbox
from syncd.settings import AccountSettings
from syncd.vendors.happyoffer import (
    ExternalOfferRecord,
    HappyofferConnector,
    OfferRecord,
    map_offer,
)
from tests.connectors.standard import Case

SIZES = {"companies": 3, "proposals": 10, "max_items": 3, "seed": 4}
# seed 003's `article_others` entry: an option shown with its parent article, priced
ARTICLE_OTHER = {
    "alert_text": "Vast laadkabel van 4.5 meter", "article_number": "LAADPAL-003",
    "icon": "heroicon-o-adjustments-vertical", "name": "BlueBuilt vaste laadkabel",
    "short_description": "Op onze laadpalen krijg je 5 jaar productgarantie.",
    "price": 1749, "amount": 1, "images": [], "3d_render": {"url": None, "name": None},
    "documents": [], "order_column": 1, "parent_article_number": "LAADPAL-001",
}


def drift_case(db_url: str, make_runtime: Callable[..., Runtime], served: Any,
               **account: Any) -> Case:
    """A served, seeded sandbox and an account (with `account` settings such as
    `status_map` or `line_item_types`) pointed at it."""
    clock = FakeClock()
    sandbox = HappyofferSandbox(requests_per_minute=1000, clock=clock)
    sandbox.seed_data(**SIZES)
    served(sandbox)
    entry = {**sandbox.account_entry("acct"), "requests_per_minute": 1000, **account}
    return Case("happyoffer", sandbox, make_runtime(db_url, [entry], clock), clock)


def backfill(case: Case) -> None:
    result = case.pull()
    assert result.ok, result.errors


def joined_offer(case: Case) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A live offer made through the API: (offer id, its /offers attributes, its
    products object)."""
    live = case.sandbox.live_offers()  # type: ignore[attr-defined]
    for ext in case.sandbox.collection("external_offers").values():
        offer_id = ext["attributes"]["offer_id"]
        if offer_id in live:
            return offer_id, live[offer_id]["attributes"], ext["attributes"]["products"][0]
    raise LookupError("no live external offer")


def dashboard_offer(case: Case) -> tuple[str, dict[str, Any]]:
    """A live offer made in the dashboard (only in /offers)."""
    externals = case.sandbox.collection("external_offers").values()
    joined = {e["attributes"]["offer_id"] for e in externals}
    live = case.sandbox.live_offers()  # type: ignore[attr-defined]
    offer_id = next(k for k in live if k not in joined)
    return offer_id, live[offer_id]["attributes"]


def external_of(case: Case, offer_id: str) -> dict[str, Any]:
    return next(e for e in case.sandbox.collection("external_offers").values()
                if e["attributes"]["offer_id"] == offer_id)


def proposal(case: Case, remote_id: str) -> dict[str, Any]:
    return next(r for r in case.rows(Entity.PROPOSALS) if r["remote_id"] == remote_id)


def items_of(case: Case, remote_id: str) -> list[dict[str, Any]]:
    local_id = proposal(case, remote_id)["id"]
    return sorted((i for i in case.rows(Entity.LINE_ITEMS)
                   if i["proposal_id"] == local_id and i["deleted_at"] is None),
                  key=lambda i: i["position"])


def drift_rows(case: Case) -> list[dict[str, Any]]:
    with case.runtime.db.begin() as conn:
        return [dict(r) for r in conn.execute(
            select(drift).where(drift.c.account == case.account)).mappings()]


def notes_of(case: Case, kind: str) -> dict[str, dict[str, Any]]:
    """Drift rows of one kind by path (unmapped words: by "path word")."""
    return {(f"{r['path']} {r['word']}" if r["word"] else r["path"]): r
            for r in drift_rows(case) if r["kind"] == kind}


def quarantined(case: Case) -> list[dict[str, Any]]:
    with case.runtime.db.begin() as conn:
        return [dict(r) for r in conn.execute(
            select(quarantine).where(quarantine.c.account == case.account)).mappings()]


@pytest.fixture
def conn() -> HappyofferConnector:
    return HappyofferConnector(AccountSettings(
        name="ho", vendor="happyoffer", base_url="https://my-online-offer.com/api",
        auth={"token": "1|abc"}))


def offer_raw(**attributes: Any) -> dict[str, Any]:
    return {"id": "7", "attributes": {"offer_status": "active", "name": "Offerte",
                                      "total_price_once": "10.00", **attributes}}


def mapped_offer(conn: HappyofferConnector, raw: dict[str, Any]
                 ) -> tuple[dict[str, Any], list[drift_notes.DriftNote]]:
    with drift_notes.collecting() as notes:
        row = map_offer(conn, OfferRecord.model_validate(raw), raw).proposals[0]
    return row, notes


# ---- the vocabulary ----------------------------------------------------------------------------
def test_happyoffer_clean_backfill_notes_no_drift_and_quarantines_nothing(
    db_url, make_runtime, served
):
    """Every key the sandbox sends is declared or documented: drift rows mean drift."""
    case = drift_case(db_url, make_runtime, served)
    backfill(case)
    assert drift_rows(case) == [] and quarantined(case) == []
    assert case.live_counts() == case.sandbox.expected_counts()


def test_happyoffer_unknown_status_word_keeps_the_offer_with_status_null_and_the_word(
    db_url, make_runtime, served
):
    case = drift_case(db_url, make_runtime, served)
    offer_id, attrs = dashboard_offer(case)
    attrs["offer_status"] = "Gearchiveerd"
    backfill(case)
    row = proposal(case, offer_id)
    assert row["status"] is None and row["vendor_status"] == "Gearchiveerd"
    assert row["title"] == attrs["name"] and row["total_net"] == Decimal(attrs["total_price_once"])
    assert quarantined(case) == []
    (note,) = notes_of(case, "unmapped_word").values()
    assert (note["stream"], note["path"], note["word"], note["example_value"], note["count"],
            note["example_remote_id"]) == (
        "offers", "attributes.offer_status", "gearchiveerd", "Gearchiveerd", 1, offer_id)


def test_happyoffer_account_status_map_entry_maps_an_unknown_word(db_url, make_runtime, served):
    case = drift_case(db_url, make_runtime, served, status_map={"GEARCHIVEERD": "expired"})
    offer_id, attrs = dashboard_offer(case)
    attrs["offer_status"] = "Gearchiveerd"
    backfill(case)
    row = proposal(case, offer_id)
    assert row["status"] == "expired" and row["vendor_status"] == "Gearchiveerd"
    assert notes_of(case, "unmapped_word") == {}


def test_happyoffer_status_map_entry_and_a_remap_fix_an_unknown_word_without_requests(
    db_url, make_runtime, served
):
    """Both streams' stored raw is the record last read (the external offer's create
    tokens are redacted, and fingerprinted redacted), so a remap re-reads all of it."""
    case = drift_case(db_url, make_runtime, served)
    offer_id, attrs = dashboard_offer(case)
    attrs["offer_status"] = "Gearchiveerd"
    backfill(case)
    case.sandbox.reset_log()
    entry = {**case.sandbox.account_entry("acct"), "status_map": {"Gearchiveerd": "expired"}}
    mapped = make_runtime(db_url, [entry], case.clock)
    (result,) = remap_accounts(mapped, ["acct"])
    assert case.sandbox.requests == []
    assert result.unverified == {} and result.skipped == {} and result.quarantined == []
    assert proposal(case, offer_id)["status"] == "expired"
    assert notes_of(case, "unmapped_word") == {}


def test_happyoffer_account_status_map_entry_beats_the_built_in_table(conn):
    conn = HappyofferConnector(conn.account.model_copy(
        update={"status_map": {"active": ProposalStatus.VIEWED}}))
    row, notes = mapped_offer(conn, offer_raw(offer_status="Active"))
    assert row["status"] == ProposalStatus.VIEWED and notes == []


@pytest.mark.parametrize(("word", "status"), [
    ("ACCEPTED", ProposalStatus.ACCEPTED),
    ("not-yet send", ProposalStatus.DRAFT),
    ("NOT_YET_SEND", ProposalStatus.DRAFT),
    ("Not Yet Sent", ProposalStatus.DRAFT),
    (" Opened ", ProposalStatus.VIEWED),
    ("Active", ProposalStatus.SENT),
    ("rejected", ProposalStatus.REJECTED),
])
def test_happyoffer_status_in_other_casing_and_spacing_maps(conn, word, status):
    row, notes = mapped_offer(conn, offer_raw(offer_status=word))
    assert row["status"] == status and row["vendor_status"] == word
    assert notes == []


def test_happyoffer_missing_status_is_null_not_a_quarantine(conn):
    raw = offer_raw()
    del raw["attributes"]["offer_status"]
    row, notes = mapped_offer(conn, raw)
    assert row["status"] is None and row["vendor_status"] is None and notes == []


# ---- types ----------------------------------------------------------------------------------
def test_happyoffer_numbers_as_strings_and_money_in_the_other_type_are_coerced_exactly(
    db_url, make_runtime, served
):
    case = drift_case(db_url, make_runtime, served)
    offer_id, attrs, products = joined_offer(case)
    offer = case.sandbox.collection("offers")[offer_id]
    offer["id"] = int(offer_id)  # ids as numbers: the same offer, joined as before
    external_of(case, offer_id)["attributes"]["offer_id"] = int(offer_id)
    attrs.update(total_price_once=1234.5, offer_number=4711, is_manually_rejected="0",
                 offer_status="Accepted")
    article = products["articles"][0]
    article.update(price="1550.25", amount="3")
    backfill(case)
    assert quarantined(case) == []
    row = proposal(case, offer_id)
    assert row["company_id"] is not None  # both halves in one row
    assert row["total_net"] == Decimal("1234.50") and row["number"] == "4711"
    assert row["status"] == "accepted"
    first = items_of(case, offer_id)[0]
    assert first["remote_id"] == f"{offer_id}:1"
    assert (first["unit_price"], first["quantity"], first["total_net"]) == (
        Decimal("1550.25"), Decimal("3"), Decimal("4650.75"))
    assert set(notes_of(case, "coerced_value")) == {
        "attributes.total_price_once", "attributes.offer_number",
        "attributes.is_manually_rejected", "attributes.products[].articles[].price",
        "attributes.products[].articles[].amount"}


def test_happyoffer_unparseable_amount_is_null_and_noted_never_zero(
    db_url, make_runtime, served
):
    case = drift_case(db_url, make_runtime, served)
    offer_id, attrs, products = joined_offer(case)
    attrs["total_price_once"] = "op aanvraag"
    products["articles"][0]["price"] = "n.t.b."
    backfill(case)
    assert quarantined(case) == []
    assert proposal(case, offer_id)["total_net"] is None
    first = items_of(case, offer_id)[0]
    assert first["unit_price"] is None and first["total_net"] is None
    assert first["quantity"] == Decimal(products["articles"][0]["amount"])
    unparseable = notes_of(case, "unparseable_value")
    assert set(unparseable) == {"attributes.total_price_once",
                                "attributes.products[].articles[].price"}
    assert unparseable["attributes.total_price_once"]["example_value"] == "op aanvraag"


def test_happyoffer_the_app_total_is_read_when_the_docs_total_is_unreadable(conn):
    row, notes = mapped_offer(conn, offer_raw(total_price_once="—",
                                              total_offer_price_once="99.95"))
    assert row["total_net"] == Decimal("99.95")
    assert [(n.kind, n.path) for n in notes] == [
        (drift_notes.DriftKind.UNPARSEABLE_VALUE, "attributes.total_price_once")]


def test_happyoffer_null_names_and_an_empty_php_array_client_keep_the_record(
    db_url, make_runtime, served
):
    case = drift_case(db_url, make_runtime, served)
    offer_id, attrs, products = joined_offer(case)
    attrs["name"] = None
    external = external_of(case, offer_id)["attributes"]
    # a client of its own, so no other offer fills its name
    external.update(external_client_id="CRM-ONLY-HERE", client_name=None, contact_firstname=None)
    products["client"] = []  # PHP's empty array for an empty object
    products["articles"][0]["name"] = None
    backfill(case)
    assert quarantined(case) == []
    row = proposal(case, offer_id)
    assert row["title"] is None and row["status"] is not None
    company = next(c for c in case.rows(Entity.COMPANIES) if c["id"] == row["company_id"])
    assert company["remote_id"] == "CRM-ONLY-HERE"
    assert company["name"] is None and company["street"] is None
    contact = next(c for c in case.rows(Entity.CONTACTS) if c["id"] == row["contact_id"])
    assert contact["first_name"] is None and contact["last_name"] == external["contact_lastname"]
    assert items_of(case, offer_id)[0]["name"] is None


@pytest.mark.parametrize("stamp", [
    "2024-01-08T09:00:00.000000Z", "2024-01-08T09:00:00Z", "2024-01-08T09:00:00",
    "2024-01-08T09:00:00.000Z", "2024-01-08T11:00:00+02:00", "2024-01-08 09:00:00",
])
def test_happyoffer_dates_with_or_without_zone_or_milliseconds_are_the_same_instant(
    conn, stamp
):
    row, notes = mapped_offer(conn, offer_raw(created_at=stamp, updated_at=stamp))
    assert row["created_at"] == row["updated_at"] == datetime(2024, 1, 8, 9, tzinfo=UTC)
    assert notes == []


def test_happyoffer_unreadable_date_is_null_and_noted(conn):
    row, notes = mapped_offer(conn, offer_raw(expiration_date="binnenkort"))
    assert "expires_at" not in row
    assert [(n.kind, n.path) for n in notes] == [
        (drift_notes.DriftKind.UNPARSEABLE_VALUE, "attributes.expiration_date")]


# ---- element types --------------------------------------------------------------------------
def test_happyoffer_unknown_element_list_with_an_amount_becomes_line_items_without_stays_raw(
    db_url, make_runtime, served
):
    case = drift_case(db_url, make_runtime, served)
    offer_id, _, products = joined_offer(case)
    articles = len(products["articles"])
    products["services"] = [{"name": "Montage", "price": "250.00", "amount": 2}]
    products["notes"] = [{"text": "Levering in week 12"}]
    backfill(case)
    assert quarantined(case) == []
    items = items_of(case, offer_id)
    assert len(items) == articles + 1
    service = items[-1]
    assert (service["remote_id"], service["position"], service["name"]) == (
        f"{offer_id}:services:1", articles + 1, "Montage")
    assert (service["unit_price"], service["total_net"]) == (Decimal("250.00"), Decimal("500.00"))
    assert service["raw"]["external_offers"] == products["services"][0]  # as sent
    words = notes_of(case, "unmapped_word")
    assert set(words) == {"attributes.products[] services", "attributes.products[] notes"}
    assert "attributes.products[].services[].price" in notes_of(case, "coerced_value")
    assert {"attributes.products[].services", "attributes.products[].notes"} <= set(
        notes_of(case, "unknown_field"))


@pytest.mark.parametrize("listed", [False, True])
def test_happyoffer_line_item_types_entry_makes_article_others_line_items(
    db_url, make_runtime, served, listed
):
    account = {"line_item_types": ["Article Others"]} if listed else {}
    case = drift_case(db_url, make_runtime, served, **account)
    offer_id, _, products = joined_offer(case)
    articles = len(products["articles"])
    products["article_others"] = [copy.deepcopy(ARTICLE_OTHER)]
    backfill(case)
    items = items_of(case, offer_id)
    assert drift_rows(case) == []  # documented either way: no drift
    if not listed:
        assert len(items) == articles  # stays in raw
        return
    other = items[-1]
    assert (other["remote_id"], other["position"], other["sku"], other["optional"]) == (
        f"{offer_id}:article_others:1", articles + 1, "LAADPAL-003", True)
    assert other["unit_price"] == Decimal("1749") and other["total_net"] == Decimal("1749")


# ---- structure and identity: what still quarantines ---------------------------------------------
def test_happyoffer_articles_that_are_not_a_list_quarantine_the_external_offer_only(
    db_url, make_runtime, served
):
    case = drift_case(db_url, make_runtime, served)
    offer_id, attrs, products = joined_offer(case)
    products["articles"] = "LAADPAL-001"
    backfill(case)
    (held,) = quarantined(case)
    assert (held["stream"], held["remote_id"]) == ("external_offers", offer_id)
    assert "articles" in held["error"]
    row = proposal(case, offer_id)  # the /offers half is kept
    assert row["status"] is not None and row["title"] == attrs["name"]
    assert row["company_id"] is None and items_of(case, offer_id) == []


@pytest.mark.parametrize("products", [
    "{not json", 12, [12], {"articles": {"name": "A"}}, {"client": "Test B.V."},
])
def test_happyoffer_products_of_an_unusable_shape_fail_validation(products):
    raw = {"id": "u-1", "attributes": {"offer_id": "5", "products": products}}
    with pytest.raises((ValidationError, ValueError)):
        ExternalOfferRecord.model_validate(raw)


@pytest.mark.parametrize("offer_id", [None, "", "  ", True, 1.5, {"id": 1}])
def test_happyoffer_offer_without_a_usable_id_is_not_identified(conn, offer_id):
    offers, externals = conn.streams
    with pytest.raises(ValueError):
        offers.id_of({"id": offer_id, "attributes": {}})
    with pytest.raises(ValueError):
        externals.id_of({"id": "u-1", "attributes": {"offer_id": offer_id}})


@pytest.mark.parametrize(("offer_id", "key"), [(12, "12"), ("12", "12"), (12.0, "12")])
def test_happyoffer_ids_as_number_or_string_are_one_key(conn, offer_id, key):
    offers, externals = conn.streams
    assert offers.id_of({"id": offer_id}) == key
    assert externals.id_of({"attributes": {"offer_id": offer_id}}) == key


# ---- push reads the stored offer as tolerantly -------------------------------------------------
@pytest.mark.parametrize(("row", "raw", "account", "reason"), [
    ({"vendor_status": "ACCEPTED"}, {}, {}, "accepted or rejected"),
    ({"vendor_status": "Opened"}, {"offers": {"attributes": {"is_manually_rejected": "TRUE"}}},
     {}, "accepted or rejected"),
    ({"vendor_status": "Gearchiveerd"}, {}, {"status_map": {"gearchiveerd": ProposalStatus.REJECTED}},
     "accepted or rejected"),
    ({"vendor_status": "active"}, {"offers": {"attributes": {"expiration_date": "07.02.2020"}}},
     {}, "expired on 2020-02-07"),
])
def test_happyoffer_send_check_reads_words_flags_and_dates_tolerantly(
    conn, row, raw, account, reason
):
    conn = HappyofferConnector(conn.account.model_copy(update=account))
    with pytest.raises(VendorRefused, match=reason):
        conn.plan_update(Entity.PROPOSALS, "7", {"status": "sent"}, row, raw, [])


def test_happyoffer_send_check_ignores_the_external_offers_attributes(conn):
    row = {"vendor_status": "Not Yet Send"}
    raw = {"attributes": {"offer_id": "7", "expiration_date": "2020-01-01"}}  # not the offer's
    (request,) = conn.plan_update(Entity.PROPOSALS, "7", {"status": "sent"}, row, raw, [])
    assert request.path == "/external-offers/7/send"
