"""Offorte connector, without HTTP: seed contract, quirks, write plans, webhook parsing.

Every JSON example of the v1 seed (tests/connectors/fixtures/offorte/v1_seed_examples.json)
validates and maps; the v2 file holds payloads observed from real v2 clients.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from syncd import drift
from syncd.canonical import Entity, ProposalStatus
from syncd.drift import DriftKind, DriftNote
from syncd.errors import SettingsError, VendorRefused, VendorUnsupported
from syncd.settings import AccountSettings
from syncd.vendors import connector_class
from syncd.vendors.offorte import (
    CompanyModel,
    OfforteConnector,
    PersonModel,
    ProposalModel,
    UserModel,
    map_company,
    map_person,
    map_proposal,
    map_user,
    proposal_fingerprint,
)

FIXTURES = Path(__file__).parent / "fixtures" / "offorte"
V1 = json.loads((FIXTURES / "v1_seed_examples.json").read_text(encoding="utf-8"))
V2 = json.loads((FIXTURES / "v2_observed_examples.json").read_text(encoding="utf-8"))


def connector(version: str = "v1", **extra: Any) -> OfforteConnector:
    base = f"https://connect.offorte.com/api/{version}/acme"
    account = AccountSettings(name="off", vendor="offorte", base_url=base, api_version=version,
                              **extra)
    return OfforteConnector(account)


def merged_v1() -> dict[str, Any]:
    return {**V1["proposals_list"][0], **V1["proposal_details"]}


def proposal(raw: dict[str, Any], version: str = "v1") -> Any:
    return map_proposal(connector(version), ProposalModel.model_validate(raw), raw)


# ---- contract: every seed example parses and maps ------------------------------------------------
def test_offorte_is_registered_with_both_dialects() -> None:
    assert connector_class("offorte") is OfforteConnector
    assert [s.name for s in connector("v1").streams] == ["companies", "proposals", "users"]
    assert [s.name for s in connector("v2").streams] == [
        "organisations", "people", "proposals", "users"]
    with pytest.raises(SettingsError):
        connector("v3")


def test_seed_companies_list_maps_companies_and_their_complete_people() -> None:
    raw = V1["companies_list"][0]
    bundle = map_company(connector(), CompanyModel.model_validate(raw), raw)
    (company,) = bundle.companies
    assert company["remote_id"] == "1234"
    assert company["name"] == "Example Inc"
    assert company["website"] == "https://www.example.com"
    assert company["registration_number"] == "12345678"
    assert company["postal_code"] == "4800AA"
    assert company["vat_number"] == "NL123455678"
    assert "people" not in company["raw"]
    (person,) = bundle.contacts
    assert person == {**person, "remote_id": "1234", "company_id": "1234", "first_name": "Chuck",
                      "last_name": "Norris", "full_name": "Chuck Norris",
                      "mobile": "+31 76 12344567", "email": "[email protected]"}
    assert bundle.complete_contacts_of == {"1234"}


def test_seed_company_details_with_deprecated_proposal_list_still_map() -> None:
    raw = V1["company_details"]
    bundle = map_company(connector(), CompanyModel.model_validate(raw), raw)
    assert bundle.companies[0]["raw"]["proposals"][0]["price_total"] == "$999.99"
    assert len(bundle.contacts) == 1


@pytest.mark.parametrize("raw", [V1["people_list"][0], V1["person_details"],
                                 V1["person_create_body"] | {"id": 1}])
def test_seed_people_payloads_validate(raw: dict[str, Any]) -> None:
    PersonModel.model_validate(raw)


def test_seed_proposals_list_record_maps_without_details() -> None:
    raw = V1["proposals_list"][0]
    (row,) = proposal(raw).proposals
    assert row["remote_id"] == "1234" and row["number"] == "nr 000123"
    assert row["status"] == ProposalStatus.ACCEPTED and row["vendor_status"] == "won"
    assert row["total_gross"] == Decimal("999.99") and row["currency"] == "USD"
    assert row["created_at"] == datetime(2018, 6, 15, 6, 49, tzinfo=UTC)
    assert row["company_id"] == "1234"


def test_seed_proposal_details_merged_with_list_record() -> None:
    bundle = proposal(merged_v1())
    (row,) = bundle.proposals
    assert row["title"] == "Proposal you can't refuse"
    assert row["company_id"] == "1234" and row["contact_id"] == "1234"
    assert row["updated_at"] == datetime(2018, 6, 15, 6, 49, tzinfo=UTC)
    assert row["sent_at"] == datetime(2018, 6, 15, 6, 49, tzinfo=UTC)
    assert row["raw"]["remarks"].startswith("Make some")
    (item,) = bundle.line_items
    assert item == {**item, "remote_id": "1234", "proposal_remote_id": "1234", "position": 1,
                    "name": "Product Awesome", "sku": "2452345", "quantity": Decimal(3),
                    "unit_price": Decimal(100), "discount": Decimal(10), "tax_rate": Decimal(21),
                    "total_net": Decimal(290), "optional": True}
    assert item["raw"]["unique_id"] == "identifier-1234"
    assert bundle.complete_line_items == {"1234"}


def test_seed_users_are_kept_as_extras() -> None:
    raw = V1["users"][0]
    bundle = map_user(connector(), UserModel.model_validate(raw), raw)
    assert bundle.extras == [("users", "1234", raw)]
    users = connector().streams[-1]
    assert users.entity == "users" and users.deletes_missing is False


def test_seed_webhook_payloads_give_hints() -> None:
    (hint,) = connector().webhook_hints(V1["webhook_payload"])
    assert (hint.entity, hint.remote_id, hint.deleted) == (Entity.COMPANIES, "1234", False)
    assert hint.occurred_at == datetime(2020, 10, 16, 18, 5, tzinfo=UTC).timestamp()


def test_seed_create_response_gives_the_new_id() -> None:
    assert connector().created_id(Entity.PROPOSALS, V1["proposal_create_response"]) == "1234"
    assert connector("v2").created_id(Entity.PROPOSALS, {"id": 77, "version_id": 3}) == "77"


# ---- quirks ---------------------------------------------------------------------------------
def test_offorte_price_total_is_a_display_string() -> None:
    raw = {**V1["proposals_list"][0]}
    del raw["price_total_original"]
    assert proposal(raw).proposals[0]["total_gross"] == Decimal("999.99")
    raw["price_total"] = "$12,345.60"
    assert proposal(raw).proposals[0]["total_gross"] == Decimal("12345.60")


def test_offorte_price_total_original_number_wins_over_the_display_string() -> None:
    raw = {**V1["proposals_list"][0], "price_total": "$1,000", "price_total_original": 999.99}
    assert proposal(raw).proposals[0]["total_gross"] == Decimal("999.99")


@pytest.mark.parametrize(("text", "expected"), [
    ("15 jun 2018 (06:49)", datetime(2018, 6, 15, 6, 49, tzinfo=UTC)),
    ("2020-06-15 18:05:59", datetime(2020, 6, 15, 18, 5, 59, tzinfo=UTC)),
    ("2024-03-22T08:26:46.000000Z", datetime(2024, 3, 22, 8, 26, 46, tzinfo=UTC)),
    ("2024-03-22T08:26:46", datetime(2024, 3, 22, 8, 26, 46, tzinfo=UTC)),
    ("2024-03-22T08:26:46.123Z", datetime(2024, 3, 22, 8, 26, 46, 123000, tzinfo=UTC)),
    ("2024-03-22T10:26:46+02:00", datetime(2024, 3, 22, 8, 26, 46, tzinfo=UTC)),
])
def test_offorte_dates_become_utc(text: str, expected: datetime) -> None:
    raw = {**V1["proposals_list"][0], "date_created": text}
    assert proposal(raw).proposals[0]["created_at"] == expected


@pytest.mark.parametrize(("shown", "original", "expected"), [
    ("€ 1000,00", "1000.00", Decimal("1000.00")),
    ("€45,521.00", None, Decimal("45521.00")),
    ("€ 1.234,56", None, Decimal("1234.56")),
])
def test_offorte_v2_locale_money(shown: str, original: str | None, expected: Decimal) -> None:
    raw = {**V2["proposals_list"][0], "price_total": shown, "price_total_original": original}
    (row,) = proposal(raw, "v2").proposals
    assert row["total_gross"] == expected and row["currency"] == "EUR"


def test_offorte_false_ids_mean_no_reference() -> None:
    raw = {**V1["proposals_list"][0], "company_id": False, "account_user_id": False}
    assert proposal(raw).proposals[0]["company_id"] is None
    details = {**merged_v1(), "company": {"id": False, "name": ""}, "receivers": []}
    row = proposal(details).proposals[0]
    assert row["company_id"] is None and row["contact_id"] is None


def test_offorte_open_proposal_with_views_is_viewed() -> None:
    raw = {**merged_v1(), "status": "open"}
    assert proposal(raw).proposals[0]["status"] == ProposalStatus.VIEWED
    raw["logs"] = {"summary": {"views": 0}}
    assert proposal(raw).proposals[0]["status"] == ProposalStatus.SENT


@pytest.mark.parametrize(("word", "status"), [
    ("edit", "draft"), ("open", "sent"), ("won", "accepted"), ("lost", "rejected"),
    ("closed", "expired")])
def test_offorte_status_words(word: str, status: str) -> None:
    raw = {**V1["proposals_list"][0], "status": word}
    assert proposal(raw).proposals[0]["status"] == status


def test_offorte_unknown_status_word_keeps_the_proposal_with_status_null() -> None:
    with drift.collecting() as notes:
        (row,) = proposal({**V1["proposals_list"][0], "status": "archived"}).proposals
    assert (row["remote_id"], row["status"], row["vendor_status"]) == ("1234", None, "archived")
    assert DriftNote(DriftKind.UNMAPPED_WORD, "status", "archived") in notes


@pytest.mark.parametrize(("word", "status"), [
    ("WON", "accepted"), (" won ", "accepted"), ("Lost", "rejected"), ("EDIT", "draft"),
    ("Closed", "expired"), ("o-p-e-n", "sent")])
def test_offorte_status_words_in_other_casing_and_spacing_map(word: str, status: str) -> None:
    with drift.collecting() as notes:
        (row,) = proposal({**V1["proposals_list"][0], "status": word}).proposals
    assert (row["status"], row["vendor_status"]) == (status, word) and notes == []


def test_offorte_account_status_map_beats_the_built_in_table() -> None:
    conn = connector(status_map={"archived": "canceled", "closed": "canceled"})
    for word in ("Archived", "closed"):
        raw = {**V1["proposals_list"][0], "status": word}
        (row,) = map_proposal(conn, ProposalModel.model_validate(raw), raw).proposals
        assert (row["status"], row["vendor_status"]) == ("canceled", word)


def test_offorte_only_an_unusable_id_or_structure_fails_validation() -> None:
    from pydantic import ValidationError

    details = merged_v1()
    for broken in ({"id": True}, {"id": None}, {"id": {"x": 1}}, {"id": ""},
                   {"content": "pricetable1"}, {"content": {"pricetables": "pricetable1"}},
                   {"content": {"pricetables": [{"rows": "row"}]}},
                   {"content": {"pricetables": [{"rows": ["row"]}]}}, {"company": "Example"},
                   {"receivers": {"id": 1}}, {"emails": "none"}, {"logs": [1]}):
        with pytest.raises(ValidationError):
            ProposalModel.model_validate({**details, **broken})
    with pytest.raises(ValidationError):
        CompanyModel.model_validate({**V1["companies_list"][0], "people": "Chuck"})
    for odd in ({"version_id": {"x": 1}}, {"price_total_original": [1]}, {"name": None},
                {"status": 7}, {"proposal_nr": {"nr": 1}}, {"date_created": "yesterday"},
                {"logs": {"summary": {"views": "many"}}}):
        ProposalModel.model_validate({**details, **odd})


def test_offorte_null_name_keeps_the_proposal_without_a_title() -> None:
    (row,) = proposal({**merged_v1(), "name": None}).proposals
    assert row["remote_id"] == "1234" and row["title"] is None
    raw = {k: v for k, v in merged_v1().items() if k not in ("name", "status")}
    (row,) = proposal(raw).proposals  # absent fields are unknown: left out, not NULL
    assert "title" not in row and "status" not in row and "vendor_status" not in row


def test_offorte_ids_as_numbers_or_strings_give_the_same_remote_ids() -> None:
    raw = merged_v1()
    as_text = {**raw, "id": "1234", "company": {**raw["company"], "id": "1234"},
               "receivers": [{**raw["receivers"][0], "id": 1234.0}]}
    assert proposal(as_text).proposals[0] == {**proposal(raw).proposals[0], "raw": as_text}
    stream = next(s for s in connector().streams if s.name == "proposals")
    assert stream.id_of({"id": 1234}) == stream.id_of({"id": "1234"}) == "1234"
    with pytest.raises(ValueError):
        stream.id_of({"id": True})


def test_offorte_numbers_as_strings_and_money_in_the_other_type_are_coerced_exactly() -> None:
    raw = merged_v1()
    row = {**raw["content"]["pricetables"][0]["rows"][0], "quantity": "3", "price": "100.10",
           "subtotal": "300.30", "vat_percentage": "21", "discount_value": "10"}
    raw = {**raw, "price_total_original": None, "price_total": 999.99,
           "content": {"pricetables": [{**raw["content"]["pricetables"][0], "rows": [row]}]}}
    with drift.collecting() as notes:
        bundle = proposal(raw)
    assert bundle.proposals[0]["total_gross"] == Decimal("999.99")
    (item,) = bundle.line_items
    assert (item["quantity"], item["unit_price"], item["tax_rate"], item["discount"],
            item["total_net"]) == (Decimal(3), Decimal("100.10"), Decimal(21), Decimal(10),
                                   Decimal("290.30"))
    coerced = {n.path for n in notes if n.kind == DriftKind.COERCED_VALUE}
    assert coerced == {"price_total", *(f"content.pricetables[].rows[].{k}" for k in (
        "quantity", "price", "subtotal", "vat_percentage"))}
    # price_total_original and discount_value are numbers in v1 and strings in v2: both
    # are native (exact either way), so neither is noted
    for version, value in (("v1", "999.99"), ("v2", 999.99)):
        base = merged_v1() if version == "v1" else V2["proposal_details"]
        with drift.collecting() as notes:
            (row,) = proposal({**base, "price_total_original": value}, version).proposals
        assert row["total_gross"] == Decimal("999.99") and notes == []


def test_offorte_unparseable_amount_is_null_and_noted_never_zero() -> None:
    raw = merged_v1()
    row = {**raw["content"]["pricetables"][0]["rows"][0], "price": "n/a", "subtotal": None,
           "discount_type": "percentage"}
    raw = {**raw, "price_total_original": "about 1000", "price_total": "call us",
           "content": {"pricetables": [{**raw["content"]["pricetables"][0], "rows": [row]}]}}
    with drift.collecting() as notes:
        bundle = proposal(raw)
    assert bundle.proposals[0]["total_gross"] is None
    (item,) = bundle.line_items
    assert (item["unit_price"], item["discount"], item["total_net"]) == (None, None, None)
    assert item["quantity"] == Decimal(3)
    bad = {n.path for n in notes if n.kind == DriftKind.UNPARSEABLE_VALUE}
    assert bad == {"price_total_original", "price_total", "content.pricetables[].rows[].price"}


def test_offorte_unknown_currency_symbol_is_noted_and_an_iso_code_is_kept() -> None:
    raw = {**V1["proposals_list"][0], "price_total": "CHF 999.99"}
    assert proposal(raw).proposals[0]["currency"] == "CHF"
    raw = {**V1["proposals_list"][0], "price_total": "SEK 999.99"}
    assert proposal(raw).proposals[0]["currency"] == "SEK"
    raw = {**V1["proposals_list"][0], "price_total": "¥999.99"}
    with drift.collecting() as notes:
        (row,) = proposal(raw).proposals
    assert "currency" not in row and row["total_gross"] == Decimal("999.99")
    assert DriftNote(DriftKind.UNMAPPED_WORD, "price_total.currency", "¥") in notes


def with_rows(*rows: dict[str, Any]) -> dict[str, Any]:
    raw = merged_v1()
    table = {**raw["content"]["pricetables"][0], "rows": list(rows)}
    return {**raw, "content": {"pricetables": [table]}}


def test_offorte_unknown_row_type_with_a_price_is_a_line_item_without_one_stays_raw() -> None:
    raw = with_rows(
        {"id": "tr1", "type": "bundle_item", "content": "<p>Bundle</p>", "quantity": 2,
         "price": 10},
        {"id": "tr2", "type": "text", "content": "<p>Delivery in May</p>"},
        {"id": "tr3", "type": "PRICE", "content": "<p>Recased</p>", "quantity": 1, "price": 5},
        {"id": "tr4", "type": None, "content": "<p>No type</p>", "subtotal": 7},
        {"id": "tr5", "type": "Sub-Total", "content": "<p>Subtotal</p>", "subtotal": 17})
    with drift.collecting() as notes:
        items = proposal(raw).line_items
    assert [(i["remote_id"], i["position"], i["total_net"]) for i in items] == [
        ("tr1", 1, Decimal(20)), ("tr3", 2, Decimal(5)), ("tr4", 3, Decimal(7))]
    unmapped = [n.value for n in notes if n.kind == DriftKind.UNMAPPED_WORD]
    assert unmapped == ["bundle_item", "text"]


def test_offorte_account_line_item_types_make_a_row_type_a_line_item() -> None:
    raw = with_rows({"id": "tr1", "type": "option", "content": "<p>Free option</p>"},
                    {"id": "tr2", "type": "subtotal", "content": "<p>Subtotal</p>"})
    conn = connector(line_item_types=["Option", "subtotal"])
    bundle = map_proposal(conn, ProposalModel.model_validate(raw), raw)
    assert [(i["remote_id"], i["name"]) for i in bundle.line_items] == [
        ("tr1", "Free option"), ("tr2", "Subtotal")]
    assert proposal(raw).line_items == []


def test_offorte_row_without_a_usable_id_gets_the_derived_id() -> None:
    raw = with_rows({"id": {"uuid": "x"}, "type": "price", "content": "<p>A</p>", "price": 1},
                    {"id": True, "type": "price", "content": "<p>B</p>", "price": 2},
                    {"id": 77, "type": "price", "content": "<p>C</p>", "price": 3})
    with drift.collecting() as notes:
        items = proposal(raw).line_items
    assert [i["remote_id"] for i in items] == ["1234:0:0", "1234:0:1", "77"]
    assert [n.path for n in notes] == ["content.pricetables[].rows[].id"] * 2


def test_offorte_unknown_discount_type_leaves_discount_and_total_net_null() -> None:
    raw = with_rows({"id": "tr1", "type": "price", "quantity": 2, "price": 10,
                     "discount_type": "voucher", "discount_value": 5},
                    {"id": "tr2", "type": "price", "quantity": 2, "price": 10,
                     "discount_type": "Percentage", "discount_value": "10"},
                    {"id": "tr3", "type": "price", "quantity": 2, "price": 10,
                     "discount_type": True, "discount_value": "4"})
    first, second, third = proposal(raw).line_items
    assert (first["discount"], first["total_net"]) == (None, None)
    assert (second["discount"], second["total_net"]) == (Decimal(2), Decimal(18))
    assert (third["discount"], third["total_net"]) == (Decimal(4), Decimal(16))


def test_offorte_selectable_words_and_booleans_and_an_unknown_word_is_null() -> None:
    rows = [{"id": f"tr{n}", "type": "price", "price": 1, "selectable": flag}
            for n, flag in enumerate(("CHECK", "radio", True, False, None, "", "maybe"))]
    with drift.collecting() as notes:
        items = proposal(with_rows(*rows)).line_items
    assert [i["optional"] for i in items] == [True, True, True, False, False, False, None]
    assert [n.value for n in notes] == ["maybe"]


def test_offorte_person_without_a_usable_id_is_left_out_and_people_are_not_complete() -> None:
    raw = {**V1["companies_list"][0]}
    raw["people"] = [*raw["people"], {**raw["people"][0], "id": None, "fullname": "No Id"}]
    with drift.collecting() as notes:
        bundle = map_company(connector(), CompanyModel.model_validate(raw), raw)
    assert [p["full_name"] for p in bundle.contacts] == ["Chuck Norris"]
    assert bundle.complete_contacts_of == set()
    assert [n.path for n in notes] == ["people[].id"]


def test_offorte_company_fields_of_another_type_are_coerced_or_null() -> None:
    raw = {**V1["companies_list"][0], "coc_number": 12345678, "vat_number": {"nl": "x"},
           "name": None}
    (company,) = map_company(connector(), CompanyModel.model_validate(raw), raw).companies
    assert (company["registration_number"], company["vat_number"], company["name"]) == (
        "12345678", None, None)


def test_offorte_unknown_contact_type_leaves_the_references_unknown() -> None:
    raw = {**V2["proposal_details"]}
    raw["contact"] = {**raw["contact"], "type": "Kontakt"}
    with drift.collecting() as notes:
        (row,) = proposal(raw, "v2").proposals
    assert "company_id" not in row and row["contact_id"] == "257141"  # from the receivers
    assert DriftNote(DriftKind.UNMAPPED_WORD, "contact.type", "Kontakt") in notes
    raw["contact"] = {**raw["contact"], "type": "PERSON"}
    (row,) = proposal(raw, "v2").proposals
    assert (row["company_id"], row["contact_id"]) == ("221840", "257141")
    listed = {**V2["proposals_list"][0], "contact_type": "Organization"}
    assert proposal(listed, "v2").proposals[0]["company_id"] == "221840"


def test_offorte_edit_lock_reads_the_status_word_in_any_casing() -> None:
    (req,) = connector().plan_update(Entity.PROPOSALS, "5", {"title": "x"},
                                     {"vendor_status": " EDIT "}, {}, [])
    assert req.json == {"name": "x"}
    with pytest.raises(VendorRefused):
        connector().plan_update(Entity.PROPOSALS, "5", {"title": "x"},
                                {"vendor_status": "archived"}, {}, [])


def test_offorte_layout_rows_are_not_line_items_and_null_ids_get_stable_ones() -> None:
    raw = merged_v1()
    rows = [{"id": None, "type": "title", "content": "<p>Options</p>"},
            {"id": None, "type": "price", "content": "<p>A</p><p>more text</p>", "quantity": 2,
             "price": 10, "discount_type": "percentage", "discount_value": 10},
            {"id": "tr1", "type": "subtotal", "content": "<p>Subtotal</p>"},
            {"id": "tr2", "type": "price", "content": "<p>B</p>", "quantity": 1, "price": 5,
             "vat_percentage": None, "selectable": False}]
    raw["content"] = {"pricetables": [{"id": None, "rows": rows,
                                       "settings": {"vat_default_percentage": 9}}]}
    first, second = proposal(raw).line_items
    assert (first["remote_id"], first["position"], second["remote_id"], second["position"]) == (
        "1234:0:1", 1, "tr2", 2)
    assert first["name"] == "A" and first["description"] == "more text"
    assert first["discount"] == Decimal(2) and first["total_net"] == Decimal(18)
    assert second["tax_rate"] == Decimal(9) and second["optional"] is False


def test_offorte_v2_observed_details_map_person_contact_and_organisation() -> None:
    raw = V2["proposal_details"]
    bundle = proposal(raw, "v2")
    (row,) = bundle.proposals
    assert (row["company_id"], row["contact_id"]) == ("221840", "257141")
    assert row["total_gross"] == Decimal("5524.00") and row["currency"] == "EUR"
    assert row["number"] == "2747" and row["status"] == ProposalStatus.ACCEPTED
    assert row["decided_at"] == datetime(2025, 9, 5, 12, 48, 3, tzinfo=UTC)
    first, second = bundle.line_items
    assert first["remote_id"] == "o-80675cc7-5601-4a21-b420-fd3696155c5f"
    assert first["discount"] == Decimal(400) and first["total_net"] == Decimal(5169)
    assert first["tax_rate"] == Decimal(21) and first["optional"] is True
    assert first["name"] == "Dubbele tuindeuren met vaste zijlichten"
    assert second["remote_id"] == "tr6415370dc2077" and second["discount"] is None


def test_offorte_v2_list_record_references_the_organisation() -> None:
    (row,) = proposal(V2["proposals_list"][0], "v2").proposals
    assert row["company_id"] == "221840" and "contact_id" not in row
    assert row["number"] == "2748" and row["status"] == ProposalStatus.SENT


def test_offorte_v2_person_maps_to_contact_of_its_organisation() -> None:
    raw = {**V2["proposal_details"]["contact"]}
    (contact,) = map_person(connector("v2"), PersonModel.model_validate(raw), raw).contacts
    assert contact["company_id"] == "221840" and contact["full_name"] == "Freddy Verhaegh"
    assert contact["created_at"] == datetime(2025, 9, 1, 19, 52, 3, tzinfo=UTC)


def test_offorte_fingerprint_ignores_fields_outside_the_list_identity() -> None:
    rec = V1["proposals_list"][0]
    assert proposal_fingerprint(rec) == proposal_fingerprint({**rec, "company_name": "Renamed"})
    assert proposal_fingerprint(rec) != proposal_fingerprint({**rec, "version_id": 1235})
    assert proposal_fingerprint(rec) != proposal_fingerprint({**rec, "price_total": "$1.00"})


def test_offorte_v2_proposals_are_sorted_newest_first_with_a_high_water_mark() -> None:
    stream = next(s for s in connector("v2").streams if s.name == "proposals")
    assert stream.params == {"sort": "date_modified"} and stream.high_water is not None
    marks = [stream.high_water({"date_modified": d}) for d in
             ("2024-03-22T08:26:46.000000Z", "2024-03-22T09:00:00.000000Z")]
    assert marks[0] < marks[1]
    assert next(s for s in connector().streams if s.name == "proposals").high_water is None


# ---- write plans ---------------------------------------------------------------------------
def test_plan_update_sends_only_the_changed_fields_in_offorte_words() -> None:
    (req,) = connector().plan_update(
        Entity.PROPOSALS, "55", {"title": "New", "total_gross": Decimal("12.30")},
        {"vendor_status": "edit"}, {}, [])
    assert (req.method, req.path, req.kind) == ("PATCH", "/proposals/55/details/", "update")
    assert req.json == {"name": "New", "price_total": 12.3}
    assert req.fields == ("title", "total_gross")


def test_plan_update_company_and_contact_of_a_proposal() -> None:
    (req,) = connector().plan_update(Entity.PROPOSALS, "55", {"company_id": "7", "contact_id": "9"},
                                     {"vendor_status": "edit"}, {}, [])
    assert req.json == {"company_id": 7, "company_contacts": [9]}
    (req,) = connector("v2").plan_update(Entity.PROPOSALS, "55", {"company_id": "7"},
                                         {"vendor_status": "edit"}, {}, [])
    assert (req.path, req.json) == ("/proposals/55/details", {"contact_id": 7})


@pytest.mark.parametrize(("status", "word"), [
    ("draft", "edit"), ("sent", "open"), ("accepted", "won"), ("rejected", "lost"),
    ("expired", "closed"), ("canceled", "closed")])
def test_plan_status_change_is_allowed_in_every_status(status: str, word: str) -> None:
    (req,) = connector().plan_update(Entity.PROPOSALS, "5", {"status": status},
                                     {"vendor_status": "won"}, {}, [])
    assert (req.kind, req.json, req.fields) == ("status", {"status": word}, ("status",))


@pytest.mark.parametrize("status", ["viewed", "ordered"])
def test_plan_status_offorte_cannot_set_is_unsupported(status: str) -> None:
    with pytest.raises(VendorUnsupported):
        connector().plan_update(Entity.PROPOSALS, "5", {"status": status}, {}, {}, [])


def test_offorte_locked_status_refuses_content_changes_up_front() -> None:
    with pytest.raises(VendorRefused, match="only while the proposal is in 'edit'"):
        connector().plan_update(Entity.PROPOSALS, "5", {"title": "x"}, {"vendor_status": "won"},
                                {}, [])


def test_offorte_content_edit_and_status_change_are_ordered_around_edit() -> None:
    leave = connector().plan_update(Entity.PROPOSALS, "5", {"title": "x", "status": "sent"},
                                    {"vendor_status": "edit"}, {}, [])
    assert [r.json for r in leave] == [{"name": "x"}, {"status": "open"}]
    back = connector().plan_update(Entity.PROPOSALS, "5", {"title": "x", "status": "draft"},
                                   {"vendor_status": "lost"}, {}, [])
    assert [r.json for r in back] == [{"status": "edit"}, {"name": "x"}]


def test_offorte_fields_it_does_not_store_are_unsupported() -> None:
    with pytest.raises(VendorUnsupported):
        connector().plan_update(Entity.PROPOSALS, "5", {"currency": "EUR"},
                                {"vendor_status": "edit"}, {}, [])


def test_offorte_price_rows_only_at_create() -> None:
    for plan in (lambda c: c.plan_update(Entity.LINE_ITEMS, "1", {"name": "x"}, {}, {}, []),
                 lambda c: c.plan_create(Entity.LINE_ITEMS, {"name": "x"}, [], "m"),
                 lambda c: c.plan_delete(Entity.LINE_ITEMS, "1", {})):
        with pytest.raises(VendorUnsupported, match="only be added when the proposal is created"):
            plan(connector())
    assert connector().capability(Entity.LINE_ITEMS, "update")


def test_plan_create_proposal_with_marker_in_remarks_and_rows() -> None:
    items = [{"position": 2, "name": "B", "quantity": Decimal(1), "unit_price": Decimal("5.5")},
             {"position": 1, "name": "A & co", "quantity": Decimal(2), "unit_price": Decimal(10),
              "tax_rate": Decimal(21), "sku": "S1", "optional": True, "discount": Decimal(1)}]
    (req,) = connector().plan_create(
        Entity.PROPOSALS, {"title": "Deal", "company_remote_id": "7", "contact_remote_id": "9"},
        items, "m-123")
    assert (req.method, req.path, req.kind) == ("POST", "/proposals/", "create")
    assert req.json["remarks"] == "syncd:m-123"
    assert {k: req.json[k] for k in ("name", "company_id", "company_contacts")} == {
        "name": "Deal", "company_id": 7, "company_contacts": [9]}
    (table,) = req.json["content"]["pricetables"]
    assert table["id"] == "pricetable1"
    assert table["rows"][0] == {"type": "price", "content": "<p>A &amp; co</p>", "quantity": 2.0,
                                "price": 10.0, "selectable": "check", "vat_percentage": 21.0,
                                "sku": "S1", "discount_type": "amount", "discount_value": 1.0}
    assert table["rows"][1]["content"] == "<p>B</p>"
    assert req.fields == ("title", "company_id", "contact_id", "status", "line_items")


def test_plan_create_proposal_needs_a_company() -> None:
    with pytest.raises(VendorRefused, match="needs a company"):
        connector().plan_create(Entity.PROPOSALS, {"title": "x"}, [], "m")


def test_plan_company_and_person_writes_in_both_dialects() -> None:
    (create,) = connector().plan_create(Entity.COMPANIES, {"name": "Acme", "website": "w",
                                                           "postal_code": "1"}, [], "m")
    assert (create.path, create.json) == ("/companies/", {"name": "Acme", "internet": "w",
                                                          "zipcode": "1"})
    (create2,) = connector("v2").plan_create(Entity.COMPANIES, {"name": "Acme"}, [], "m")
    assert (create2.path, create2.json) == ("/contacts/", {"name": "Acme", "type": "organisation"})
    (person,) = connector().plan_create(
        Entity.CONTACTS, {"first_name": "A", "last_name": "B", "email": "a@b",
                          "company_remote_id": "7"}, [], "m")
    assert (person.path, person.json) == ("/companies/7/people/", {
        "firstname": "A", "lastname": "B", "email": "a@b", "fullname": "A B"})
    (patch,) = connector().plan_update(Entity.CONTACTS, "9", {"mobile": "1"}, {},
                                       {"company_id": 7}, [])
    assert (patch.method, patch.path, patch.json) == ("PATCH", "/companies/7/people/9/",
                                                      {"mobile": "1"})
    (patch2,) = connector("v2").plan_update(Entity.COMPANIES, "7", {"city": "X"}, {}, {}, [])
    assert (patch2.path, patch2.json) == ("/contacts/7", {"city": "X"})
    with pytest.raises(VendorRefused):
        connector().plan_create(Entity.CONTACTS, {"full_name": "A"}, [], "m")


def test_plan_delete_paths_are_overridable() -> None:
    (req,) = connector().plan_delete(Entity.PROPOSALS, "5", {})
    assert (req.method, req.path, req.kind) == ("DELETE", "/proposals/5/", "delete")
    custom = connector(paths={"proposal_delete": "/p/{id}"})
    assert custom.plan_delete(Entity.PROPOSALS, "5", {})[0].path == "/p/5"


# ---- webhooks -------------------------------------------------------------------------------
def test_offorte_webhook_auth_is_the_secret_path_token() -> None:
    conn = connector()
    assert conn.authenticate_webhook({}, b"{}", "s3cret", "s3cret")
    assert not conn.authenticate_webhook({}, b"{}", "wrong", "s3cret")
    assert not conn.authenticate_webhook({}, b"{}", None, "s3cret")
    assert not conn.authenticate_webhook({}, b"{}", "", "")


@pytest.mark.parametrize(("event", "data", "expected"), [
    ("proposal_deleted", {"id": 5}, (Entity.PROPOSALS, "5", True)),
    ("proposal_won", {"id": "6"}, (Entity.PROPOSALS, "6", False)),
    ("company_deleted", {"id": 7}, (Entity.COMPANIES, "7", True)),
    ("company_contact_deleted", {"id": 8, "company_id": 7}, (Entity.COMPANIES, "7", False)),
    ("contact_person_updated", {"id": "8", "contact_id": "7"}, (Entity.COMPANIES, "7", False)),
    ("contact_deleted", {"id": "7", "type": "organisation"}, (Entity.COMPANIES, "7", True)),
])
def test_offorte_webhook_events_become_hints(event: str, data: dict[str, Any],
                                             expected: tuple[Entity, str, bool]) -> None:
    (hint,) = connector().webhook_hints({"type": event, "date_created": "2020-10-16 18:05:00",
                                         "data": data})
    assert (hint.entity, hint.remote_id, hint.deleted) == expected


def test_offorte_v2_webhook_payload_with_string_ids() -> None:
    (hint,) = connector("v2").webhook_hints(json.dumps(V2["webhook_payload"]).encode())
    assert (hint.entity, hint.remote_id) == (Entity.CONTACTS, "210996")
    assert connector().webhook_hints({"type": "product_created", "data": {"id": 1}}) == []


def test_offorte_webhook_subscription_carries_the_secret_in_the_url() -> None:
    (req,) = connector().webhook_subscriptions("https://hooks.example/webhooks/off", "tok")
    assert (req.method, req.path) == ("POST", "/webhooks/")
    assert req.json == {"payload_url": "https://hooks.example/webhooks/off/tok",
                        "payload_content_type": "json", "active": True, "events": ["all"]}
    (same,) = connector().webhook_subscriptions("https://hooks.example/webhooks/off/tok", "tok")
    assert same.json["payload_url"] == req.json["payload_url"]


def test_offorte_plans_read_the_mirror_raw_keyed_by_stream() -> None:
    (req,) = connector().plan_update(Entity.CONTACTS, "9", {"email": "e"}, {},
                                     {"companies": {"id": 9, "company_id": 7}}, [])
    assert req.path == "/companies/7/people/9/"
    with pytest.raises(VendorRefused):
        connector().plan_update(Entity.PROPOSALS, "5", {"title": "t"}, {},
                                {"proposals": {"id": 5, "status": "won"}}, [])
