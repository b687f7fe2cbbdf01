"""Automa.Net contract and planning tests: every seed example validates and maps, and the
write plans are the exact bodies Automa.Net documents (Put Quote always whole)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from syncd import drift
from syncd.canonical import Entity, ProposalStatus
from syncd.drift import DriftKind
from syncd.engine.pull import kept_records, page_ids
from syncd.errors import VendorRefused, VendorUnsupported
from syncd.settings import AccountSettings
from syncd.vendors.automa import (
    QUOTE_EVENTS,
    AutomaConnector,
    CallRecord,
    Quote,
    Rfq,
    entry_fingerprint,
    entry_object_uuid,
    is_quote_entry,
    map_call,
    map_quote,
    map_rfq,
    normalize_delivery_time,
)
from syncd.vendors.base import Op

FIXTURES = Path(__file__).parent / "fixtures" / "automa"
SEED_WEBHOOK = "8695c3d8-7b60-49f5-aa5e-6adbdeaf46c8"
SEED_TIME = datetime(2019, 8, 24, 14, 15, 22, tzinfo=UTC)
# the seed shows every decimal string as "string": realistic values for the same keys
DECIMALS = {"nett_amount": "1000.00", "gross_amount": "1230.00", "tax_amount": "230.00",
            "unit_nett_price": "125.50", "tax_rate": "23.00", "nett_price": "40.00",
            "amount": "0.00"}


def load(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def realistic(value: Any, key: str = "") -> Any:
    """The seed example with its decimal-string placeholders filled in."""
    if isinstance(value, dict):
        return {k: realistic(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [realistic(v, key) for v in value]
    if value == "string" and key in DECIMALS:
        return DECIMALS[key]
    return value


def connector() -> AutomaConnector:
    return AutomaConnector(AccountSettings(
        name="am", vendor="automa", base_url="https://integration-api.automa.net",
        auth={"api_key": "k"}))


SEED_QUOTES = {
    "quote": lambda: load("quote")["data"],
    "quote_by_rfq": lambda: load("quote_by_rfq")["data"],
    "put_quote_response": lambda: load("put_quote_response")["data"]["data"],
    **{f"webhook_{e.lower()}": (lambda e=e: load(f"webhook_{e.lower()}")["object"])
       for e in QUOTE_EVENTS},
}


# ---- contract: quotes ------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SEED_QUOTES))
def test_seed_quote_examples_validate_and_map(name: str) -> None:
    raw = realistic(SEED_QUOTES[name]())
    bundle = map_quote(connector(), Quote.model_validate(raw), raw)
    (proposal,) = bundle.proposals
    assert proposal["remote_id"] == "string" and proposal["number"] == "string"
    assert proposal["title"] == "string"  # the quote's note is its title
    assert proposal["status"] == ProposalStatus.DRAFT and proposal["vendor_status"] == "draft"
    assert proposal["currency"] == "PLN"
    assert (proposal["total_net"], proposal["total_tax"], proposal["total_gross"]) == (
        Decimal("1000.00"), Decimal("230.00"), Decimal("1230.00"))
    assert proposal["created_at"] == proposal["updated_at"] == proposal["expires_at"] == SEED_TIME
    assert proposal["raw"] is raw
    (company,) = bundle.companies
    assert company["remote_id"] == proposal["company_id"] == "string"
    (contact,) = bundle.contacts
    assert contact["remote_id"] == proposal["contact_id"] == "string"
    assert contact["company_id"] == "string"
    (item,) = bundle.line_items
    assert item["proposal_remote_id"] == "string" and item["position"] == 1
    assert item["unit_price"] == Decimal("125.50") and item["tax_rate"] == Decimal("23.00")
    assert item["total_net"] == Decimal("1000.00") and item["discount"] == Decimal("0")
    assert item["quantity"] == Decimal(0)
    assert bundle.complete_line_items == {"string"}


@pytest.mark.parametrize("name", sorted(SEED_QUOTES))
def test_automa_seed_money_placeholders_are_null_and_noted_never_0(name: str) -> None:
    """The raw seed example keeps its quote: exactly its "string" money fields are NULL
    (never 0), each noted as unparseable; nothing else is noted."""
    raw = SEED_QUOTES[name]()
    with drift.collecting() as notes:
        bundle = map_quote(connector(), Quote.model_validate(raw), raw)
        drift.unknown_fields(Quote, raw)
    (proposal,) = bundle.proposals
    assert proposal["total_net"] is proposal["total_tax"] is proposal["total_gross"] is None
    (item,) = bundle.line_items
    assert item["unit_price"] is item["tax_rate"] is item["total_net"] is None
    assert "discount" not in item
    assert notes and {n.kind for n in notes} == {DriftKind.UNPARSEABLE_VALUE}
    assert {n.value for n in notes} == {"string"}
    assert {n.path.rsplit(".", 1)[-1] for n in notes} <= set(DECIMALS)
    assert "items[].unit_nett_price" in {n.path for n in notes}


def test_automa_quote_maps_buyer_company_user_and_items_with_real_values() -> None:
    raw = realistic(load("quote")["data"])
    company = raw["buyer"]["company"]
    company.update(uuid="c-1", name="Technopol", number="0000123456",
                   eu_vat={"code": "PL", "number": "5260001246"})
    company["billing_address"].update(
        city="Kraków", post_code="30-001", line1="ul. Długa 1", line2="hala 2",
        country={"id": 616, "code": "PL"}, email="biuro@technopol.pl",
        phone={"code": "+48", "number": "500600700"}, state=None)
    raw["buyer"]["user"].update(uuid="u-1", first_name="Anna", last_name="Nowak",
                                email="anna@technopol.pl", phone="500600700", phone_code="+48")
    item = raw["items"][0]
    item.update(uuid="i-1", quantity=3, unit_nett_price="100.00", tax_rate="23.00",
                discount={"type": "percentage", "percentage": 10, "amount": "30.00"})
    item["offer"].update(mpn="1746-IA16", brand={"name": "Allen Bradley"}, description="Input")
    item["total_price"] = {"regular": {"nett_amount": "300.00"},
                           "final": {"nett_amount": "270.00"}}
    raw["status"] = {"name": "sent", "set_at": "2024-05-01T10:00:00.000Z"}
    raw["tracked_openings"] = [{"type": "portal", "opened_at": "2024-05-02T10:00:00Z"}]
    bundle = map_quote(connector(), Quote.model_validate(raw), raw)
    assert bundle.companies[0] == {
        "remote_id": "c-1", "raw": company, "name": "Technopol",
        "registration_number": "0000123456", "vat_number": "PL5260001246",
        "street": "ul. Długa 1, hala 2", "postal_code": "30-001", "city": "Kraków",
        "state": None, "email": "biuro@technopol.pl", "country": "PL",
        "phone": "+48 500600700"}
    assert bundle.contacts[0] == {
        "remote_id": "u-1", "raw": raw["buyer"]["user"], "company_id": "c-1",
        "first_name": "Anna", "last_name": "Nowak", "full_name": "Anna Nowak",
        "email": "anna@technopol.pl", "phone": "+48 500600700"}
    line = bundle.line_items[0]
    assert (line["remote_id"], line["sku"], line["name"], line["description"]) == (
        "i-1", "1746-IA16", "Allen Bradley 1746-IA16", "Input")
    assert (line["quantity"], line["unit_price"], line["total_net"], line["discount"]) == (
        Decimal(3), Decimal("100.00"), Decimal("270.00"), Decimal("30.00"))
    proposal = bundle.proposals[0]
    # a sent quote the buyer opened is canonical "viewed"; Automa's own word stays "sent"
    assert proposal["status"] == ProposalStatus.VIEWED and proposal["vendor_status"] == "sent"
    assert proposal["sent_at"] == datetime(2024, 5, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(("word", "status"), [
    ("draft", ProposalStatus.DRAFT), ("sent", ProposalStatus.SENT),
    ("accepted", ProposalStatus.ACCEPTED), ("declined", ProposalStatus.REJECTED),
    ("expired", ProposalStatus.EXPIRED)])
def test_automa_status_words(word: str, status: ProposalStatus) -> None:
    assert connector().map_status(word) == status


def mapped(raw: dict[str, Any], conn: AutomaConnector | None = None) -> tuple[Any, list[Any]]:
    """A quote validated and mapped as the call-log stream does, with its drift notes."""
    record = {"call": None, "quote": raw}
    with drift.collecting() as notes:
        bundle = map_call(conn or connector(), CallRecord.model_validate(record), record)
        drift.unknown_fields(CallRecord, record)
    return bundle, notes


def test_automa_unknown_status_word_keeps_the_quote_with_status_null() -> None:
    raw = {**realistic(load("quote")["data"]), "status": {"name": "archived"}}
    bundle, notes = mapped(raw)
    (proposal,) = bundle.proposals
    assert proposal["status"] is None and proposal["vendor_status"] == "archived"
    assert len(bundle.line_items) == 1
    assert [(n.kind, n.path, n.value) for n in notes] == [
        (DriftKind.UNMAPPED_WORD, "quote.status.name", "archived")]


@pytest.mark.parametrize(("word", "status"), [
    ("ACCEPTED", ProposalStatus.ACCEPTED), ("Declined", ProposalStatus.REJECTED),
    (" draft ", ProposalStatus.DRAFT), ("EX-PIRED", ProposalStatus.EXPIRED),
    ("s_e_n_t", ProposalStatus.SENT)])
def test_automa_status_in_other_casing_or_spacing_maps(word: str, status: ProposalStatus) -> None:
    raw = {**realistic(load("quote")["data"]), "status": {"name": word}, "tracked_openings": []}
    bundle, notes = mapped(raw)
    assert bundle.proposals[0]["status"] == status
    assert bundle.proposals[0]["vendor_status"] == word  # Automa's own word, as it came
    assert notes == []


def test_automa_bare_status_word_is_the_status_name() -> None:
    bundle, notes = mapped({**realistic(load("quote")["data"]), "status": "accepted"})
    assert bundle.proposals[0]["status"] == ProposalStatus.ACCEPTED and notes == []


def test_automa_status_code_as_a_number_keeps_the_quote_and_is_noted() -> None:
    bundle, notes = mapped({**realistic(load("quote")["data"]), "status": 3})
    assert (bundle.proposals[0]["status"], bundle.proposals[0]["vendor_status"]) == (None, "3")
    assert [(n.kind, n.path) for n in notes] == [(DriftKind.UNMAPPED_WORD, "quote.status.name")]


def test_automa_brand_name_as_a_number_is_text() -> None:
    raw = realistic(load("quote")["data"])
    raw["items"][0]["offer"].update(brand={"name": 3000}, mpn="X1")
    bundle, notes = mapped(raw)
    assert bundle.line_items[0]["name"] == "3000 X1"
    assert [(n.kind, n.path) for n in notes] == [
        (DriftKind.COERCED_VALUE, "quote.items[].offer.brand.name")]


def test_automa_account_status_map_beats_the_table_and_maps_unknown_words() -> None:
    conn = AutomaConnector(AccountSettings(
        name="am", vendor="automa", base_url="https://integration-api.automa.net",
        status_map={"archived": "expired", "DRAFT": "sent"}))
    raw = {**realistic(load("quote")["data"]), "tracked_openings": []}
    assert mapped({**raw, "status": {"name": "Archived"}}, conn)[0].proposals[0]["status"] == (
        ProposalStatus.EXPIRED)
    assert mapped(raw, conn)[0].proposals[0]["status"] == ProposalStatus.SENT


@pytest.mark.parametrize(("given", "kept", "noted"), [
    ("PLN", "PLN", False), ("eur", "EUR", False), (" Gbp ", "GBP", False),
    ("CHF", "CHF", True), ("chf", "CHF", True), ("on_hold", None, True),
    ("Polish zloty", None, True), (None, None, False)])
def test_automa_currency_outside_the_enum_is_kept_when_iso_else_null_and_noted(
    given: Any, kept: str | None, noted: bool
) -> None:
    bundle, notes = mapped({**realistic(load("quote")["data"]), "currency": given})
    assert bundle.proposals[0]["currency"] == kept
    assert [(n.kind, n.path) for n in notes] == (
        [(DriftKind.UNMAPPED_WORD, "quote.currency")] if noted else [])


def test_automa_money_as_numbers_and_numbers_as_strings_are_coerced_exactly() -> None:
    raw = realistic(load("quote")["data"])
    item = raw["items"][0]
    item.update(quantity="3", unit_nett_price=12.35, tax_rate=23)
    item["total_price"] = {"regular": {"nett_amount": 37.05}, "final": {"nett_amount": "33.35"}}
    raw["totals"]["grand_price"]["final"] = {"nett_amount": 1000, "gross_amount": 1230.1,
                                             "tax_amount": "230.10"}
    bundle, notes = mapped(raw)
    (line,) = bundle.line_items
    assert (line["quantity"], line["unit_price"], line["tax_rate"]) == (
        Decimal(3), Decimal("12.35"), Decimal(23))
    assert (line["total_net"], line["discount"]) == (Decimal("33.35"), Decimal("3.70"))
    proposal = bundle.proposals[0]
    assert (proposal["total_net"], proposal["total_gross"], proposal["total_tax"]) == (
        Decimal(1000), Decimal("1230.1"), Decimal("230.10"))
    assert {(n.kind, n.path) for n in notes} == {
        (DriftKind.COERCED_VALUE, f"quote.{path}") for path in (
            "items[].quantity", "items[].unit_nett_price", "items[].tax_rate",
            "items[].total_price.regular.nett_amount", "totals.grand_price.final.nett_amount",
            "totals.grand_price.final.gross_amount")}


@pytest.mark.parametrize("amount", ["n/a", "12,5,0", {"value": "1.00"}, True])
def test_automa_unparseable_amount_is_null_and_noted_never_0(amount: Any) -> None:
    raw = realistic(load("quote")["data"])
    raw["items"][0]["unit_nett_price"] = amount
    raw["totals"]["grand_price"]["final"]["nett_amount"] = amount
    bundle, notes = mapped(raw)
    assert bundle.line_items[0]["unit_price"] is None
    assert bundle.proposals[0]["total_net"] is None
    assert {(n.kind, n.path) for n in notes} == {
        (DriftKind.UNPARSEABLE_VALUE, "quote.items[].unit_nett_price"),
        (DriftKind.UNPARSEABLE_VALUE, "quote.totals.grand_price.final.nett_amount")}


def test_automa_null_note_and_names_keep_the_quote() -> None:
    raw = realistic(load("quote")["data"])
    raw.update(note=None, number=None)
    raw["buyer"]["company"]["name"] = None
    raw["buyer"]["user"].update(first_name=None, last_name=None)
    raw["items"][0]["offer"]["mpn"] = None
    bundle, notes = mapped(raw)
    assert bundle.proposals[0]["title"] is None and bundle.proposals[0]["number"] is None
    assert bundle.companies[0]["name"] == "string"  # the billing address's company name
    assert bundle.contacts[0]["full_name"] is None
    assert bundle.line_items[0]["name"] == "string" and notes == []  # the brand alone


def test_automa_dates_with_or_without_zone_or_milliseconds_are_the_same_instant() -> None:
    raw = realistic(load("quote")["data"])
    raw.update(created_at="2019-08-24T14:15:22", updated_at="2019-08-24T16:15:22.000+02:00",
               expires_at="2019-08-24 14:15:22")
    raw["status"]["set_at"] = 1566656122000  # unix milliseconds
    bundle, notes = mapped({**raw, "status": {**raw["status"], "name": "sent"}})
    proposal = bundle.proposals[0]
    assert proposal["created_at"] == proposal["updated_at"] == proposal["expires_at"] == (
        SEED_TIME) == proposal["sent_at"]
    assert [(n.kind, n.path) for n in notes] == [
        (DriftKind.COERCED_VALUE, "quote.status.set_at")]


def test_automa_item_without_a_usable_uuid_gets_a_derived_id_and_keeps_the_quote() -> None:
    raw = draft()
    raw["items"][0].pop("uuid")
    raw["items"][1]["uuid"] = {"v": 1}
    bundle, notes = mapped(raw)
    assert [i["remote_id"] for i in bundle.line_items] == ["string:items:1", "string:items:2"]
    assert [(n.kind, n.path) for n in notes] == [
        (DriftKind.UNPARSEABLE_VALUE, "quote.items[].uuid")] * 2


def test_automa_buyer_company_without_uuid_keeps_the_quote_without_company() -> None:
    raw = realistic(load("quote")["data"])
    raw["buyer"]["company"]["uuid"] = None
    bundle, notes = mapped(raw)
    assert bundle.companies == [] and "company_id" not in bundle.proposals[0]
    assert bundle.contacts[0]["company_id"] is None
    assert [(n.kind, n.path) for n in notes] == [
        (DriftKind.UNPARSEABLE_VALUE, "quote.buyer.company.uuid")]


def test_automa_unknown_fields_are_noted_with_their_path_and_kept_in_raw() -> None:
    raw = realistic(load("quote")["data"])
    raw["x_new"] = 1
    raw["items"][0]["offer"]["x_colour"] = "red"
    bundle, notes = mapped(raw)
    assert {(n.kind, n.path) for n in notes} == {
        (DriftKind.UNKNOWN_FIELD, "quote.x_new"),
        (DriftKind.UNKNOWN_FIELD, "quote.items[].offer.x_colour")}
    assert bundle.proposals[0]["raw"]["x_new"] == 1


def test_automa_undocumented_list_with_prices_stays_in_raw_only() -> None:
    """Quote items carry no element type; a list nobody documented is not made into line
    items (Put Quote could not write them back), only counted as an unknown field."""
    raw = realistic(load("quote")["data"])
    raw["services"] = [{"name": "Installation", "nett_price": "100.00", "quantity": 1}]
    bundle, notes = mapped(raw)
    assert len(bundle.line_items) == 1
    assert [(n.kind, n.path) for n in notes] == [(DriftKind.UNKNOWN_FIELD, "quote.services")]


def test_automa_line_item_types_make_additional_costs_line_items() -> None:
    raw = realistic(load("quote")["data"])
    raw["additional_costs"][0].update(name="Shipping", nett_price="40.00", tax_rate="23.00")
    assert len(mapped(raw)[0].line_items) == 1  # by default costs are part of the totals
    conn = AutomaConnector(AccountSettings(
        name="am", vendor="automa", base_url="https://integration-api.automa.net",
        line_item_types=["Additional Costs"]))
    bundle, notes = mapped(raw, conn)
    _, cost = bundle.line_items
    assert cost == {"remote_id": "string:additional_costs:1", "proposal_remote_id": "string",
                    "position": 2, "name": "Shipping", "quantity": Decimal(1),
                    "unit_price": Decimal("40.00"), "tax_rate": Decimal("23.00"),
                    "total_net": Decimal("40.00"), "raw": raw["additional_costs"][0]}
    assert notes == [] and bundle.complete_line_items == {"string"}


@pytest.mark.parametrize(("key", "value"), [
    ("items", "unavailable"), ("items", {"uuid": "i-1"}), ("buyer", "portal"),
    ("additional_costs", 3), ("totals", "1000.00"), ("uuid", None), ("uuid", {"id": 1})])
def test_automa_unusable_structure_or_identity_is_quarantined(key: str, value: Any) -> None:
    """Only these fail validation (the engine then quarantines the record)."""
    raw = {**realistic(load("quote")["data"]), key: value}
    with pytest.raises(ValidationError):
        mapped(raw)


def test_automa_quote_without_items_keeps_its_proposal_and_its_line_items() -> None:
    raw = realistic(load("quote")["data"])
    del raw["items"]
    bundle, notes = mapped(raw)
    assert len(bundle.proposals) == 1 and bundle.line_items == []
    assert bundle.complete_line_items == set()  # unknown, not gone: nothing is deleted
    assert [(n.kind, n.path) for n in notes] == [(DriftKind.UNPARSEABLE_VALUE, "quote.items")]


# ---- contract: RFQs, call log, webhooks ------------------------------------------------------
@pytest.mark.parametrize("name", ["rfqs_received", "rfqs_sent"])
def test_seed_rfq_lists_are_kept_as_extras(name: str) -> None:
    body = load(name)
    assert set(body["data"]) == {"items", "perPage", "currentPage", "lastPage", "total"}
    (raw,) = body["data"]["items"]
    bundle = map_rfq(connector(), Rfq.model_validate(raw), raw)
    assert bundle.extras == [("rfqs", "095be615-a8ad-4c33-8e9c-c7612fbf6c9f", raw)]
    assert not bundle.proposals


def test_automa_rfq_delivery_time_is_upper_case_out_and_title_case_in() -> None:
    """Responses say "ANY", the create-RFQ request takes "Any": one spelling after mapping."""
    assert load("rfqs_received")["data"]["items"][0]["items"][0]["deliveryTime"] == "ANY"
    assert normalize_delivery_time("ANY") == normalize_delivery_time("Any") == "Any"
    assert normalize_delivery_time("NEXT_DAY") == "Next Day"
    assert normalize_delivery_time("2_3_DAYS") == "2-3 Days"
    assert normalize_delivery_time("10+ Days") == normalize_delivery_time("10_PLUS_DAYS") == (
        "10+ Days")
    assert normalize_delivery_time("EMERGENCY") == "Emergency"


def test_seed_call_log_entry_without_event_is_an_extra() -> None:
    (entry,) = load("webhook_calls")["data"]["items"]
    assert entry_object_uuid(entry) == "string" and not is_quote_entry(entry)
    record = CallRecord.model_validate(entry)  # unmerged: no quote was fetched for it
    assert map_call(connector(), record, entry).extras == [("webhook_calls", entry["uuid"], entry)]


def test_automa_call_log_entry_reads_event_and_object_from_the_request_body() -> None:
    entry = load("webhook_calls")["data"]["items"][0]
    payload = load("webhook_quote_accepted")
    entry = {**entry, "eventObjectUuid": None, "result": {**entry["result"],
                                                          "requestBody": payload}}
    assert is_quote_entry(entry) and entry_object_uuid(entry) == payload["objectUuid"]
    quote = realistic(payload["object"])
    merged = {"call": entry, "quote": quote}
    bundle = map_call(connector(), CallRecord.model_validate(merged), merged)
    assert bundle.proposals[0]["raw"] is quote
    newer = {**entry, "uuid": "later", "createdAt": "2019-08-25T00:00:00Z"}
    assert entry_fingerprint(newer) != entry_fingerprint(entry)
    assert entry_fingerprint(copy.deepcopy(entry)) == entry_fingerprint(entry)
    assert len(entry_fingerprint(entry)) <= 64


def test_automa_call_log_event_types_match_in_any_spelling_and_ids_must_be_usable() -> None:
    entry = {"uuid": "e", "eventType": "quote_accepted", "eventObjectUuid": {"bad": 1},
             "objectUuid": 77}
    assert is_quote_entry(entry) and entry_object_uuid(entry) == "77"
    assert not is_quote_entry({**entry, "eventType": "ORDER_RECEIVED"})
    with pytest.raises(KeyError):
        entry_object_uuid({"eventObjectUuid": "", "eventObject": {"uuid": None}})


def test_automa_call_log_pages_keep_only_the_newest_quote_entry_of_each_quote() -> None:
    def entry(uuid: str, obj: str, event: str) -> dict[str, Any]:
        return {"uuid": uuid, "eventObjectUuid": obj, "createdAt": f"2024-01-0{uuid}T00:00:00Z",
                "result": {"requestBody": {"eventType": event, "objectUuid": obj}}}

    records = [entry("1", "X", "QUOTE_RECEIVED"), entry("2", "O", "ORDER_RECEIVED"),
               entry("3", "Y", "QUOTE_DECLINED"), entry("4", "X", "QUOTE_ACCEPTED")]
    stream = AutomaConnector.streams[0]  # webhook_calls: skips entries without a quote
    paginator = stream.paginator(4, None)
    paginator.update({"data": {"currentPage": 1, "lastPage": 2}}, records)
    kept = kept_records(stream, records)
    ids, last = page_ids(stream, kept)  # the engine counts a record's last entry only
    records = [rec for index, rec in enumerate(kept) if last[ids[index]] == index]
    assert [r["uuid"] for r in records] == ["3", "4"]
    assert paginator.has_next and paginator.state == {"page": 2}  # positions are untouched
    assert paginator.request_params() == {"page": 2, "perPage": 4}


@pytest.mark.parametrize("event", [
    "RFQ_RECEIVED", "RFQ_SENT", *QUOTE_EVENTS, "ORDER_RECEIVED", "ORDER_PAYMENT_ASSIGNED",
    "PAYMENT_CREATED", "PAYMENT_STATUS_UPDATED"])
def test_seed_webhook_payloads_give_quote_hints(event: str) -> None:
    body = load(f"webhook_{event.lower()}")
    hints = connector().webhook_hints(body)
    if event.startswith("QUOTE_") or event == "ORDER_RECEIVED":
        (hint,) = hints
        assert hint.entity == Entity.PROPOSALS and hint.remote_id == "string"
        assert hint.event == event
        assert hint.event_id == f"{SEED_WEBHOOK}:string:{event}:0"
    else:
        assert hints == []


def test_automa_webhook_hint_time_is_the_millisecond_timestamp() -> None:
    body = {**load("webhook_quote_declined"), "timestamp": 1718000000123}
    (hint,) = connector().webhook_hints(body)
    assert hint.occurred_at == pytest.approx(1718000000.123)


def test_seed_error_body_gives_the_vendor_message() -> None:
    request = httpx.Request("PUT", "https://integration-api.automa.net/quotes/x")
    response = httpx.Response(400, json=load("error_400"), request=request)
    assert connector().refusal_message(response) == "string"
    listed = httpx.Response(400, json={"message": ["number should not be empty",
                                                   "items should not be empty"],
                                       "error": "Bad Request", "statusCode": 400},
                            request=request)
    assert connector().refusal_message(listed) == ("number should not be empty; "
                                                   "items should not be empty")


def test_seed_create_response_gives_the_quote_uuid() -> None:
    assert connector().created_id(Entity.PROPOSALS, load("create_quote_response")) == (
        "095be615-a8ad-4c33-8e9c-c7612fbf6c9f")


# ---- writes ----------------------------------------------------------------------------------
def draft() -> dict[str, Any]:
    raw = realistic(load("quote")["data"])
    raw["items"][0]["uuid"] = "item-1"
    second = copy.deepcopy(raw["items"][0])
    second.update(uuid="item-2", quantity=2)
    raw["items"].append(second)
    raw["expires_at"] = "2024-06-30T23:59:59.000Z"
    return raw


def children(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k != "proposal_remote_id"}
            for row in map_quote(connector(), Quote.model_validate(raw), raw).line_items]


def test_automa_put_always_sends_the_whole_quote() -> None:
    raw = draft()
    (put,) = connector().plan_update(Entity.PROPOSALS, "q-1", {"title": "New note"},
                                     {"vendor_status": "draft"}, raw, children(raw))
    assert (put.method, put.path, put.kind, put.fields) == ("PUT", "/quotes/q-1", "update",
                                                            ("title",))
    seed = load("put_quote_request")
    assert set(put.json) == set(seed)  # every required (and optional) top-level field
    assert put.json["note"] == "New note" and put.json["number"] == "string"
    assert put.json["expires_at"] == "2024-06-30"  # a date, as Put Quote takes it
    assert set(put.json["buyer"]) == set(seed["buyer"])
    assert set(put.json["buyer"]["user"]) == set(seed["buyer"]["user"])
    assert set(put.json["buyer"]["company"]) == set(seed["buyer"]["company"])
    assert set(put.json["seller"]["company"]) == set(seed["seller"]["company"])
    assert set(put.json["additional_costs"][0]) == set(seed["additional_costs"][0])
    assert [i["uuid"] for i in put.json["items"]] == ["item-1", "item-2"]
    assert set(put.json["items"][0]) == set(seed["items"][0])
    assert set(put.json["items"][0]["offer"]) == set(seed["items"][0]["offer"])
    assert put.json["payment_term"] == {"uuid": "string", "type": "pay_by_invoice"}


def test_automa_put_is_refused_unless_the_quote_is_a_draft() -> None:
    raw = {**draft(), "status": {"name": "sent"}}
    with pytest.raises(VendorRefused, match="only while a quote is a draft"):
        connector().plan_update(Entity.PROPOSALS, "q-1", {"number": "Q-2"}, {}, raw,
                                children(raw))


@pytest.mark.parametrize("changes", [{"number": "Q" * 33}, {"number": ""},
                                     {"title": "x" * 1025}, {"currency": "CHF"}])
def test_automa_put_limits_are_refused_before_any_request(changes: dict[str, Any]) -> None:
    raw = draft()
    with pytest.raises(VendorRefused):
        connector().plan_update(Entity.PROPOSALS, "q-1", changes, {}, raw, children(raw))


def test_automa_put_without_a_fetched_quote_is_refused() -> None:
    with pytest.raises(VendorRefused, match="has not been fetched"):
        connector().plan_update(Entity.PROPOSALS, "q-1", {"number": "Q-2"},
                                {"vendor_status": "draft"}, {}, [])


def test_automa_line_item_change_rewrites_the_parent_and_omitted_items_go() -> None:
    raw = draft()
    items = children(raw)
    kept = {**items[1], "quantity": Decimal("5"), "unit_price": Decimal("99.9")}
    added = {"remote_id": None, "position": 3, "sku": "S10", "name": "Samsung S10",
             "quantity": Decimal(1), "unit_price": Decimal("10"), "tax_rate": Decimal("23"),
             "raw": {}}
    now = [kept, added]
    (put,) = connector().plan_update(Entity.PROPOSALS, "q-1", {}, {}, raw, now)
    first, second = put.json["items"]
    assert first["uuid"] == "item-2" and first["quantity"] == 5
    assert first["unit_nett_price"] == "99.90" and first["offer"]["mpn"] == "string"
    assert "uuid" not in second
    assert second == {"offer": {"mpn": "S10", "brand": {"name": "Samsung"}},
                      "discount": {"type": "none"}, "quantity": 1, "unit_nett_price": "10.00",
                      "tax_rate": "23.00"}


def test_automa_put_writes_cost_line_items_back_as_additional_costs() -> None:
    conn = AutomaConnector(AccountSettings(
        name="am", vendor="automa", base_url="https://integration-api.automa.net",
        line_item_types=["additional_costs"]))
    raw = draft()
    raw["additional_costs"] = [{"name": "Shipping", "nett_price": "40.00", "tax_rate": "23.00"},
                               {"name": "Packing", "nett_price": "5.00", "tax_rate": "23.00"}]
    now = [{k: v for k, v in row.items() if k != "proposal_remote_id"}
           for row in mapped(raw, conn)[0].line_items]
    assert [c["remote_id"] for c in now] == [
        "item-1", "item-2", "string:additional_costs:1", "string:additional_costs:2"]
    now[2] = {**now[2], "unit_price": Decimal("45.5"), "name": "Express shipping"}
    del now[3]  # the packing cost line was deleted locally
    (put,) = conn.plan_update(Entity.PROPOSALS, "q-1", {}, {}, raw, now)
    assert [i["uuid"] for i in put.json["items"]] == ["item-1", "item-2"]
    assert put.json["additional_costs"] == [
        {"name": "Express shipping", "nett_price": "45.50", "tax_rate": "23.00"}]
    # without the override, the costs travel as the vendor holds them
    (plain,) = connector().plan_update(Entity.PROPOSALS, "q-1", {"title": "x"}, {}, raw,
                                       children(raw))
    assert plain.json["additional_costs"] == raw["additional_costs"]


def test_automa_put_sends_documented_types_whatever_the_answer_used() -> None:
    """A quote read with money as numbers and a lower-case currency is put back with
    decimal strings, numeric quantities and Put Quote's currency spelling."""
    raw = draft()
    raw["currency"] = "pln"
    raw["items"][0].update(quantity="3", unit_nett_price=125.5, tax_rate=23)
    raw["items"][1]["uuid"] = None  # an item syncd gave a derived id
    (put,) = connector().plan_update(Entity.PROPOSALS, "q-1", {"title": "x"},
                                     {"vendor_status": "draft"}, raw, children(raw))
    first, second = put.json["items"]
    assert (first["quantity"], first["unit_nett_price"], first["tax_rate"]) == (
        3, "125.50", "23.00")
    assert "uuid" not in second and put.json["currency"] == "PLN"


@pytest.mark.parametrize("word", ["DRAFT", "Draft", {"name": " draft "}])
def test_automa_put_accepts_a_draft_in_any_spelling(word: Any) -> None:
    raw = {**draft(), "status": word if isinstance(word, dict) else {"name": word}}
    (put,) = connector().plan_update(Entity.PROPOSALS, "q-1", {"title": "x"}, {}, raw,
                                     children(raw))
    assert put.method == "PUT"


def test_automa_put_needs_at_least_one_item() -> None:
    with pytest.raises(VendorRefused, match="at least one item"):
        connector().plan_update(Entity.PROPOSALS, "q-1", {}, {}, draft(), [])


@pytest.mark.parametrize(("status", "path", "body", "kind"), [
    ("sent", "/quotes/q-1/send", None, "send"),
    ("rejected", "/quotes/q-1/decline", {"reason": "Declined in syncd"}, "status")])
def test_automa_status_changes_use_send_and_decline(
    status: str, path: str, body: Any, kind: str
) -> None:
    (request,) = connector().plan_update(Entity.PROPOSALS, "q-1", {"status": status}, {},
                                         draft(), [])
    assert (request.method, request.path, request.json, request.kind, request.fields) == (
        "POST", path, body, kind, ("status",))


def test_automa_field_change_and_send_put_first_then_send() -> None:
    raw = draft()
    put, send = connector().plan_update(Entity.PROPOSALS, "q-1",
                                        {"number": "Q/1", "status": "sent"}, {}, raw,
                                        children(raw))
    assert (put.method, put.json["number"], send.path) == ("PUT", "Q/1", "/quotes/q-1/send")


@pytest.mark.parametrize("changes", [{"status": "accepted"}, {"total_net": Decimal(1)},
                                     {"company_id": "other"}])
def test_automa_what_it_cannot_take_is_unsupported(changes: dict[str, Any]) -> None:
    with pytest.raises(VendorUnsupported):
        connector().plan_update(Entity.PROPOSALS, "q-1", changes, {}, draft(), [])


def test_automa_cannot_send_a_sent_quote_again() -> None:
    with pytest.raises(VendorRefused, match="sends only draft"):
        connector().plan_update(Entity.PROPOSALS, "q-1", {"status": "sent"}, {},
                                {**draft(), "status": {"name": "sent"}}, [])


def test_automa_capabilities() -> None:
    conn = connector()
    assert conn.capability(Entity.PROPOSALS, Op.UPDATE) is None
    assert conn.capability(Entity.LINE_ITEMS, Op.UPDATE) is None
    assert "delete" in str(conn.capability(Entity.PROPOSALS, Op.DELETE))
    assert conn.capability(Entity.COMPANIES, Op.UPDATE)
    with pytest.raises(VendorUnsupported):
        conn.plan_delete(Entity.PROPOSALS, "q-1", {})


def test_automa_create_names_the_contractor_and_carries_the_marker() -> None:
    raw = draft()
    company = {**raw["buyer"]["company"], "contractor_uuid": "ctr-1"}
    row = {"title": "Pumps", "company_remote_id": "c-1", "contact_remote_id": "u-1",
           "company_id": 1, "contact_id": 2, "company": {"remote_id": "c-1", "raw": company}}
    item = {"remote_id": None, "sku": "1746-IA16", "name": "Allen Bradley 1746-IA16",
            "quantity": Decimal(2), "raw": None}
    (create,) = connector().plan_create(Entity.PROPOSALS, row, [item], "syncd-abc")
    seed = load("create_quote_request")
    assert set(create.json) == set(seed)
    assert create.json["referenceNumber"] == "syncd-abc" and create.json["note"] == "Pumps"
    assert create.json["buyer"]["contractorUuid"] == "ctr-1"
    assert create.json["buyer"]["contractorContactPersonUuid"] == "u-1"
    assert set(create.json["buyer"]["company"]["address"]) <= set(
        seed["buyer"]["company"]["address"]) | {"email"}
    assert create.json["items"] == [{"quantity": 2, "offer": {"mpn": "1746-IA16",
                                                              "brandName": "Allen Bradley"}}]
    assert (create.method, create.path, create.kind) == ("POST", "/quotes", "create")
    assert create.fields == ("title", "company_id", "contact_id", "line_items")


def test_automa_create_without_a_known_contractor_is_unsupported() -> None:
    with pytest.raises(VendorUnsupported, match="contractor"):
        connector().plan_create(Entity.PROPOSALS, {"company_remote_id": "c-1"}, [], "m")


def test_automa_paths_are_overridable() -> None:
    conn = AutomaConnector(AccountSettings(
        name="am", vendor="automa", base_url="https://integration-api.automa.net",
        paths={"quote_put": "/v2/quotes/{id}", "quote_send": "/v2/quotes/{id}/dispatch"}))
    put, send = conn.plan_update(Entity.PROPOSALS, "q", {"number": "1", "status": "sent"}, {},
                                 draft(), children(draft()))
    assert (put.path, send.path) == ("/v2/quotes/q", "/v2/quotes/q/dispatch")


# ---- webhooks --------------------------------------------------------------------------------
def test_automa_webhook_subscriptions_one_per_quote_event() -> None:
    requests = connector().webhook_subscriptions("https://syncd.example/webhooks/am", "s3cret")
    assert [r.json["eventType"] for r in requests] == list(QUOTE_EVENTS)
    assert all(r.method == "POST" and r.path == "/webhooks" for r in requests)
    assert requests[0].json == {"eventType": "QUOTE_ACCEPTED",
                                "url": "https://syncd.example/webhooks/am",
                                "authorization": "s3cret"}
    assert set(load("webhook_create_request")) <= set(requests[0].json)
    with pytest.raises(VendorUnsupported):
        connector().webhook_subscriptions("https://x", "x" * 129)


@pytest.mark.parametrize(("headers", "ok"), [
    ({"Authorization": "s3cret"}, True), ({"authorization": "s3cret"}, True),
    ({"Authorization": "Bearer s3cret"}, False), ({"Authorization": "other"}, False), ({}, False)])
def test_automa_webhook_authorization_must_equal_the_secret(
    headers: dict[str, str], ok: bool
) -> None:
    assert connector().authenticate_webhook(headers, b"{}", None, "s3cret") is ok
    assert connector().authenticate_webhook(headers, b"{}", None, "") is False
