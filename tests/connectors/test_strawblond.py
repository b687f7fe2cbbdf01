"""StrawBlond connector: seed 001's examples, mapping, status words and write plans (no I/O).

The seed's "Retrieve an offer" example is copied below as a Python literal (its `// ...`
placeholder relations dropped, which is what the API returns when nothing is included);
a second variant adds included elements, contact and company in the sandbox's shapes.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from syncd import drift
from syncd.canonical import Entity, ProposalStatus
from syncd.errors import SettingsError, VendorRefused, VendorUnsupported
from syncd.http.paginators import LastPagePaginator
from syncd.settings import AccountSettings
from syncd.vendors import connector_class
from syncd.vendors.strawblond import (
    OFFER_DOCUMENT_TYPE,
    StrawBlondConnector,
    StrawBlondOffer,
    map_offer,
    offer_fingerprint,
)

# seed 001, "Retrieve an offer" (HTTP 200), relations not included
SEED_OFFER: dict[str, Any] = {
    "id": "EO6YGvqMRV",
    "number": "A-01025",
    "name": "CMS Upgrade",
    "description": None,
    "address": "<p><strong>StrawBlond</strong><br> Alice Cooper<br>R\u00fctistrasse 2<br>"
               "CH-8645 Rapperswil</p>",
    "header": "<p>Sehr geehrte Damen und Herren</p><p>Vielen Dank f\u00fcr Ihr Interesse</p>",
    "footer": "<p>Vielen Dank f\u00fcr eine fristgerechte Zahlung.</p><p>Freundliche "
              "Gr\u00fcsse<br>StrawBlond GmbH</p>",
    "has_page_break_after_header": False,
    "has_page_break_before_footer": False,
    "approved_at": "2022-02-09T08:51:59.000000Z",
    "rejected_at": None,
    "locked_at": "2022-02-09T08:51:59.000000Z",
    "is_approved": True,
    "is_rejected": False,
    "is_locked": True,
    "address_personalized": "<p><strong>StrawBlond</strong><br> Alice Cooper<br>Rütistrasse 2"
                            "<br>CH-8645 Rapperswil</p>",
    "header_personalized": "<p>Sehr geehrte Damen und Herren</p><p>Vielen Dank für Ihr "
                           "Interesse</p>",
    "footer_personalized": "<p>Vielen Dank für eine fristgerechte Zahlung.</p><p>Freundliche "
                           "Grüsse<br>StrawBlond GmbH</p>",
    "total": 5640.0,
    "total_with_vat": 5640.0,
    "total_optional": 0.0,
    "show_vat": True,
    "vat_detailed": {"0.0": {"rate": 0.0, "net": 5640.0, "tax": 0.0}},
    "pdf_url": "http://localhost:8000/api/offer/EO6YGvqMRV/pdf?expires=1666341757&signature=331e"
               "3d4442bb23f4f9803fa56d27f581127836c240fd5b46917b7a33769f6c60",
    "order_confirmation_pdf_url": "http://localhost:8000/api/offer/EO6YGvqMRV/pdf?expires="
                                  "1666341757&options%5Border_confirmation%5D=1&signature=abc123",
    "preview_url": "http://localhost:8000/api/offer/339/view?signature=686f2f15cda2a5d95657e463ac"
                   "550aba7be9465ad80cca2787da11c8e04244e7",
    "approve_url": "http://localhost:8000/api/offer/EO6YGvqMRV/approve?expires=1666341757&"
                   "signature=cb1b209e99bad2a7c18cc6b48d0f2123ad4cc3f6a47e0309b21be074218c58f9",
    "reject_url": "http://localhost:8000/api/offer/EO6YGvqMRV/reject?expires=1666341757&"
                  "signature=67280f02330d155611a9694f73726df64628c7c13b5f34f369abbf89ed5fddc1",
    "share_url": "http://localhost:3000/offer/feedback/?lang=de&api=http%3A%2F%2Flocalhost%3A800"
                 "0%2Fapi%2Foffer%2FEO6YGvqMRV%2Ffeedback%3Fexpires%3D1664959357%26signature%3D91"
                 "ddff48f1d85dedd8c932badf736c319fffb976e30ef44034dba3c9d609fdb9",
    "mail_preview_url": "https://api.strawblond.com/api/document/mail-preview?type=offer&id="
                        "EO6YGvqMRV",
    "show_terms": True,
    "show_signature": False,
    "billable_total": 5640.0,
    "billed_total": 0.0,
    "custom_fields": {},
    "updated_at": "2022-02-09T08:52:00.000000Z",
    "created_at": "2021-12-09T09:05:28.000000Z",
    "deleted_at": None,
}

# seed 001, "Add products to an offer" example request
SEED_ADD_PRODUCTS = {"products": ["6k2KpJY3By", "8m3LqKZ4Cx"], "beforeOrder": 2}

COMPANY = {
    "id": "zzgEOzdmen", "name": "StrawBlond GmbH", "email": "info@strawblond.ch",
    "phone": "+41 55 123 45 67", "website": "https://strawblond.ch",
    "vat_number": "CHE-266.212.448 MWST", "street": "Rütistrasse 2", "zip": "8645",
    "city": "Rapperswil", "country": "CH", "created_at": "2021-01-04T10:00:00.000000Z",
    "updated_at": "2021-06-01T10:00:00.000000Z", "deleted_at": None,
}
CONTACT = {
    "id": "FjsUNPjc01", "company_id": "zzgEOzdmen", "salutation": "Frau", "firstname": "Alice",
    "lastname": "Cooper", "email": "alice@strawblond.ch", "phone": None,
    "mobile": "+41 79 625 45 67", "title": "CEO", "created_at": "2021-01-04T10:05:00.000000Z",
    "updated_at": "2021-01-04T10:05:00.000000Z", "deleted_at": None,
}


def _element(eid: str, order: int, kind: str, **attrs: Any) -> dict[str, Any]:
    base = {
        "id": eid, "document_type": OFFER_DOCUMENT_TYPE, "document_id": "EO6YGvqMRV",
        "order": order, "type": kind, "name": None, "description": None, "remark": None,
        "unit": None, "quantity": None, "amount": None, "discount_type": None,
        "discount_value": None, "vat_rate_id": None, "vat_rate": None, "tag_id": None,
        "product_id": None, "is_optional": False, "is_external": False,
        "is_excluded_from_budget": False, "page_break": None, "revenue_account_no": None,
        "total": None, "created_at": "2021-12-09T09:05:28.000000Z",
        "updated_at": "2021-12-09T09:05:28.000000Z",
    }
    base.update(attrs)
    return base


ELEMENTS = [
    _element("hEaD000001", 1, "heading", name="Leistungen"),
    _element("pArA000002", 2, "paragraph", name="Konzept", description="<p>Workshop &amp; "
             "Konzept</p>", unit="h", quantity=24.0, amount=150.0, vat_rate=0.0, total=3600.0),
    _element("tExT000003", 3, "text", description="<p>Gemäss Besprechung.</p>"),
    _element("pRoD000004", 4, "product", name="Lizenz", quantity=2, amount=1200.0,
             discount_type="percentage", discount_value=10.0, vat_rate=0.0, total=2160.0,
             product_id="6k2KpJY3By"),
    _element("sUbT000005", 5, "subtotal", name="Zwischentotal", total=5760.0),
    _element("pErC000006", 6, "percentage", name="Rabatt", amount=-2.5, vat_rate=0.0,
             total=-144.0),
    _element("oPtI000007", 7, "paragraph", name="Support", quantity=1.0, amount=500.0,
             vat_rate=0.0, total=500.0, is_optional=True),
]


def offer_with_relations() -> dict[str, Any]:
    """The seed offer with `include=elements,contact,company` (totals made consistent)."""
    offer = copy.deepcopy(SEED_OFFER)
    offer.update(contact=copy.deepcopy(CONTACT), company=copy.deepcopy(COMPANY),
                 elements=copy.deepcopy(ELEMENTS), total=5616.0, total_with_vat=5616.0,
                 total_optional=500.0)
    return offer


@pytest.fixture
def connector() -> StrawBlondConnector:
    account = AccountSettings(name="sb", vendor="strawblond", base_url="http://127.0.0.1:9/api",
                              auth={"api_key": "k"})  # type: ignore[arg-type]
    return StrawBlondConnector(account)


def _map(connector: StrawBlondConnector, raw: dict[str, Any]) -> Any:
    return map_offer(connector, StrawBlondOffer.model_validate(raw), raw)


def _map_noted(connector: StrawBlondConnector, raw: dict[str, Any]
               ) -> tuple[Any, list[tuple[str, str]]]:
    """The bundle and the (kind, path) of every drift note, as a pull would collect them."""
    with drift.collecting() as notes:
        bundle = _map(connector, raw)
        drift.unknown_fields(StrawBlondOffer, raw)
    return bundle, [(str(n.kind), n.path) for n in notes]


class TestSeedContract:
    def test_registered_under_its_vendor_key(self) -> None:
        assert connector_class("strawblond") is StrawBlondConnector

    def test_seed_offer_maps_with_decimal_utc_and_text(self, connector: StrawBlondConnector) -> None:
        bundle = _map(connector, SEED_OFFER)
        (row,) = bundle.proposals
        assert row["remote_id"] == "EO6YGvqMRV" and row["number"] == "A-01025"
        assert row["title"] == "CMS Upgrade"
        assert row["vendor_status"] == "approved" and row["status"] == ProposalStatus.ACCEPTED
        assert row["total_net"] == Decimal("5640.0") and isinstance(row["total_net"], Decimal)
        assert row["total_tax"] == Decimal("0") and row["total_gross"] == Decimal("5640.0")
        assert row["created_at"] == datetime(2021, 12, 9, 9, 5, 28, tzinfo=UTC)
        assert row["updated_at"] == datetime(2022, 2, 9, 8, 52, 0, tzinfo=UTC)
        assert row["decided_at"] == datetime(2022, 2, 9, 8, 51, 59, tzinfo=UTC)
        assert row["sent_at"] == row["decided_at"]  # locked when approved
        assert row["raw"] is SEED_OFFER

    def test_relations_not_included_are_omitted_not_nulled(
        self, connector: StrawBlondConnector
    ) -> None:
        bundle = _map(connector, SEED_OFFER)
        row = bundle.proposals[0]
        assert "company_id" not in row and "contact_id" not in row
        assert not bundle.line_items and not bundle.complete_line_items
        assert "url" not in row  # only expiring signed URLs exist; they stay in raw

    def test_included_relations_map_to_their_rows(self, connector: StrawBlondConnector) -> None:
        bundle = _map(connector, offer_with_relations())
        (company,) = bundle.companies
        (contact,) = bundle.contacts
        (row,) = bundle.proposals
        assert company["remote_id"] == "zzgEOzdmen" and company["postal_code"] == "8645"
        assert company["vat_number"] == "CHE-266.212.448 MWST" and company["country"] == "CH"
        assert contact["full_name"] == "Alice Cooper" and contact["company_id"] == "zzgEOzdmen"
        assert contact["created_at"] == datetime(2021, 1, 4, 10, 5, tzinfo=UTC)
        assert row["company_id"] == "zzgEOzdmen" and row["contact_id"] == "FjsUNPjc01"
        assert row["total_net"] == Decimal("5616.0")

    def test_priced_elements_become_line_items_and_layout_rows_do_not(
        self, connector: StrawBlondConnector
    ) -> None:
        bundle = _map(connector, offer_with_relations())
        items = {i["remote_id"]: i for i in bundle.line_items}
        assert set(items) == {"pArA000002", "pRoD000004", "pErC000006", "oPtI000007"}
        assert bundle.complete_line_items == {"EO6YGvqMRV"}
        para = items["pArA000002"]
        assert para["position"] == 2 and para["proposal_remote_id"] == "EO6YGvqMRV"
        assert para["quantity"] == Decimal("24.0") and para["unit_price"] == Decimal("150.0")
        assert para["description"] == "Workshop & Konzept" and para["tax_rate"] == Decimal("0.0")
        product = items["pRoD000004"]
        assert product["discount"] == Decimal("240.00")  # 10 % of 2 × 1200 as money
        assert product["total_net"] == Decimal("2160.0")
        percent = items["pErC000006"]
        assert percent["quantity"] is None and percent["unit_price"] is None
        assert percent["total_net"] == Decimal("-144.0")
        assert items["oPtI000007"]["optional"] is True

    def test_included_empty_elements_are_a_complete_empty_item_set(
        self, connector: StrawBlondConnector
    ) -> None:
        raw = offer_with_relations()
        raw["elements"] = []
        bundle = _map(connector, raw)
        assert bundle.line_items == [] and bundle.complete_line_items == {"EO6YGvqMRV"}

    def test_seed_add_products_example_names_hash_ids(self) -> None:
        assert all(isinstance(p, str) and len(p) == 10 for p in SEED_ADD_PRODUCTS["products"])

    @pytest.mark.parametrize("patch", [
        {"elements": "siehe Beilage"},
        {"elements": 3},
        {"elements": {"0": ELEMENTS[1]}},
        {"contact": "FjsUNPjc01"},
        {"company": ["zzgEOzdmen"]},
        {"id": None},
        {"id": ""},
        {"id": {"hash": "EO6YGvqMRV"}},
        {"id": True},
    ])
    def test_unusable_structure_or_id_fails_validation(self, patch: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            StrawBlondOffer.model_validate({**SEED_OFFER, **patch})

    def test_an_offer_without_an_id_fails_validation(self) -> None:
        with pytest.raises(ValidationError):
            StrawBlondOffer.model_validate({k: v for k, v in SEED_OFFER.items() if k != "id"})

    @pytest.mark.parametrize(("patch", "field", "value", "note"), [
        ({"total": "5'640.00"}, "total_net", Decimal("5640.00"), ("coerced_value", "total")),
        ({"total": "5640.10"}, "total_net", Decimal("5640.10"), ("coerced_value", "total")),
        ({"total": "n/a"}, "total_net", None, ("unparseable_value", "total")),
        ({"total_with_vat": {"CHF": 1}}, "total_gross", None,
         ("unparseable_value", "total_with_vat")),
        ({"is_approved": "yes"}, "status", ProposalStatus.ACCEPTED,
         ("coerced_value", "is_approved")),
        ({"name": 339}, "title", "339", ("coerced_value", "name")),
        ({"created_at": "gestern"}, "created_at", None, ("unparseable_value", "created_at")),
        ({"id": 339}, "remote_id", "339", None),
    ])
    def test_drifted_values_degrade_and_are_noted_the_offer_stays(
        self, connector: StrawBlondConnector, patch: dict[str, Any], field: str, value: Any,
        note: tuple[str, str] | None,
    ) -> None:
        bundle, notes = _map_noted(connector, {**SEED_OFFER, **patch})
        assert bundle.proposals[0][field] == value
        if note is not None:
            assert note in notes

    def test_custom_fields_of_another_shape_stay_in_raw(
        self, connector: StrawBlondConnector
    ) -> None:
        raw = {**SEED_OFFER, "custom_fields": "syncd_ref=1"}
        bundle, notes = _map_noted(connector, raw)
        assert bundle.proposals[0]["raw"]["custom_fields"] == "syncd_ref=1" and notes == []

    def test_contradictory_flags_give_no_status_and_a_note(
        self, connector: StrawBlondConnector
    ) -> None:
        bundle, notes = _map_noted(connector, {**SEED_OFFER, "is_rejected": True})
        row = bundle.proposals[0]
        assert (row["status"], row["vendor_status"]) == (None, None)
        assert ("unparseable_value", "is_approved") in notes

    def test_an_element_that_is_not_an_object_keeps_the_offer_and_deletes_nothing(
        self, connector: StrawBlondConnector
    ) -> None:
        raw = offer_with_relations()
        raw["elements"] = [raw["elements"][1], None, "x"]
        bundle, notes = _map_noted(connector, raw)
        assert [i["remote_id"] for i in bundle.line_items] == ["pArA000002"]
        assert bundle.complete_line_items == set()  # the set is not known to be whole
        assert notes.count(("unparseable_value", "elements[]")) == 2

    def test_unknown_element_types_are_priced_only_with_a_quantity_or_price(
        self, connector: StrawBlondConnector
    ) -> None:
        raw = offer_with_relations()
        raw["elements"] = [
            _element("a", 1, "bundle_item", quantity=2.0, amount=10.0, total=20.0),
            _element("b", 2, "running_total", total=20.0),  # a total alone does not count
            _element("c", 3, "SubTotal", total=20.0),
        ]
        bundle, notes = _map_noted(connector, raw)
        assert [i["remote_id"] for i in bundle.line_items] == ["a"]
        assert bundle.line_items[0]["unit_price"] == Decimal("10.0")
        assert notes.count(("unmapped_word", "elements[].type")) == 2  # not "SubTotal"

    def test_extra_legacy_fields_are_allowed_and_kept(self, connector: StrawBlondConnector) -> None:
        raw = {**SEED_OFFER, "legacy_state": 3}
        assert _map(connector, raw).proposals[0]["raw"]["legacy_state"] == 3


class TestStatusAndFingerprint:
    @pytest.mark.parametrize(("flags", "word", "status"), [
        ({"is_locked": False, "is_approved": False, "is_rejected": False}, "draft", "draft"),
        ({"is_locked": True, "is_approved": False, "is_rejected": False}, "pending", "sent"),
        ({"is_locked": True, "is_approved": True, "is_rejected": False}, "approved", "accepted"),
        ({"is_locked": True, "is_approved": False, "is_rejected": True}, "rejected", "rejected"),
    ])
    def test_vendor_status_is_derived_from_the_flags(
        self, connector: StrawBlondConnector, flags: dict[str, bool], word: str, status: str
    ) -> None:
        row = _map(connector, {**SEED_OFFER, **flags}).proposals[0]
        assert (row["vendor_status"], row["status"]) == (word, status)

    def test_unknown_status_word_maps_to_none_and_is_noted(
        self, connector: StrawBlondConnector
    ) -> None:
        with drift.collecting() as notes:
            assert connector.map_status("archived") is None
            assert connector.map_status("APPROVED") == ProposalStatus.ACCEPTED
        assert [(n.kind, n.path, n.value) for n in notes] == [
            ("unmapped_word", "status", "archived")]

    @pytest.mark.parametrize(("word", "status"), [
        ("Archiviert", None), ("APPROVED", ProposalStatus.ACCEPTED),
        ("not-yet draft", None), (" pending ", ProposalStatus.SENT),
    ])
    def test_an_explicit_status_word_beats_the_flags(
        self, connector: StrawBlondConnector, word: str, status: ProposalStatus | None
    ) -> None:
        row = _map(connector, {**SEED_OFFER, "status": word}).proposals[0]
        assert (row["status"], row["vendor_status"]) == (status, word)

    def test_signed_urls_do_not_change_the_fingerprint(self) -> None:
        later = {**SEED_OFFER, "pdf_url": SEED_OFFER["pdf_url"].replace("1666341757", "1766341757")}
        assert offer_fingerprint(later) == offer_fingerprint(SEED_OFFER)
        assert offer_fingerprint({**SEED_OFFER, "name": "x"}) != offer_fingerprint(SEED_OFFER)

    def test_streams_list_offers_with_includes_at_50_and_sweep_the_trash(
        self, connector: StrawBlondConnector
    ) -> None:
        offers, trashed = connector.streams
        assert offers.params == {"include": "elements,contact,company", "sort": "-created_at"}
        assert offers.page_size == 50 and offers.detail is None and offers.deletes_missing
        assert trashed.params["filter[trashed]"] == "true" and trashed.sweep_only
        assert not trashed.deletes_missing and trashed.is_deleted is not None
        assert trashed.is_deleted({"deleted_at": "2024-01-01T00:00:00.000000Z"})
        assert not trashed.is_deleted({"deleted_at": None})
        assert [s.name for s in connector.active_streams(sweep=False)] == ["offers"]
        # a sweep reads the trash first: when it holds live offers too, it is the sweep
        assert trashed.covers == "offers" and offers.covers is None
        assert [s.name for s in connector.active_streams(sweep=True)] == [
            "offers_trashed", "offers"]
        paginator = offers.paginator(50, None)
        assert isinstance(paginator, LastPagePaginator)
        assert paginator.request_params() == {"page": 1, "per_page": 50}

    def test_auth_is_bearer_and_accept_json_is_always_sent(
        self, connector: StrawBlondConnector
    ) -> None:
        import httpx

        request = httpx.Request("GET", "http://127.0.0.1:9/api/offer")
        flow = connector.auth(None).auth_flow(request)  # type: ignore[arg-type, union-attr]
        assert next(flow).headers["Authorization"] == "Bearer k"
        assert connector.headers() == {"Accept": "application/json"}

    def test_missing_api_key_is_a_settings_error(self) -> None:
        account = AccountSettings(name="sb", vendor="strawblond",
                                  base_url="http://127.0.0.1:9/api")
        with pytest.raises(SettingsError, match="api_key"):
            StrawBlondConnector(account).auth(None)  # type: ignore[arg-type]


def _raw(word: str) -> dict[str, Any]:
    flags = {"draft": (False, False, False), "pending": (True, False, False),
             "approved": (True, True, False), "rejected": (True, False, True)}[word]
    return {**SEED_OFFER, "is_locked": flags[0], "is_approved": flags[1],
            "is_rejected": flags[2]}


class TestWritePlans:
    def test_title_edit_of_a_draft_patches_only_the_name(
        self, connector: StrawBlondConnector
    ) -> None:
        (req,) = connector.plan_update(Entity.PROPOSALS, "EO6YGvqMRV", {"title": "New"}, {},
                                       _raw("draft"), [])
        assert (req.method, req.path, req.kind) == ("PATCH", "/offer/EO6YGvqMRV", "update")
        assert req.json == {"name": "New"} and req.fields == ("title",)

    @pytest.mark.parametrize("word", ["approved", "rejected"])
    def test_strawblond_decided_offer_is_locked_refused_without_a_request(
        self, connector: StrawBlondConnector, word: str
    ) -> None:
        with pytest.raises(VendorRefused, match="locked"):
            connector.plan_update(Entity.PROPOSALS, "EO6YGvqMRV", {"title": "x"}, {},
                                  _raw(word), [])
        with pytest.raises(VendorRefused, match="locked"):
            connector.plan_update(Entity.PROPOSALS, "EO6YGvqMRV", {"status": "draft"}, {},
                                  _raw(word), [])

    def test_lock_is_read_from_vendor_status_when_raw_has_no_flags(
        self, connector: StrawBlondConnector
    ) -> None:
        with pytest.raises(VendorRefused):
            connector.plan_update(Entity.PROPOSALS, "EO6YGvqMRV", {"title": "x"},
                                  {"vendor_status": "approved"}, {}, [])
        raw = {"offers": _raw("draft"), "webhook": {**_raw("approved"),
                                                    "updated_at": "2030-01-01T00:00:00Z"}}
        with pytest.raises(VendorRefused):  # the newest copy of the raw decides
            connector.plan_update(Entity.PROPOSALS, "EO6YGvqMRV", {"title": "x"}, {}, raw, [])

    def test_sent_offer_refuses_content_but_takes_a_decision(
        self, connector: StrawBlondConnector
    ) -> None:
        with pytest.raises(VendorRefused, match="unlock"):
            connector.plan_update(Entity.PROPOSALS, "EO6YGvqMRV", {"title": "x"}, {},
                                  _raw("pending"), [])
        (req,) = connector.plan_update(Entity.PROPOSALS, "EO6YGvqMRV", {"status": "accepted"},
                                       {}, _raw("pending"), [])
        assert req.method == "PATCH" and set(req.json) == {"approved_at"}
        assert datetime.fromisoformat(req.json["approved_at"].replace("Z", "+00:00")).tzinfo
        (req,) = connector.plan_update(Entity.PROPOSALS, "EO6YGvqMRV", {"status": "rejected"},
                                       {}, _raw("pending"), [])
        assert set(req.json) == {"rejected_at"} and req.fields == ("status",)

    def test_back_to_draft_unlocks_and_may_carry_content(
        self, connector: StrawBlondConnector
    ) -> None:
        (req,) = connector.plan_update(Entity.PROPOSALS, "EO6YGvqMRV",
                                       {"status": "draft", "title": "Neu"}, {},
                                       _raw("pending"), [])
        assert req.json == {"name": "Neu", "locked_at": None}
        assert set(req.fields) == {"title", "status"}

    def test_sending_a_draft_posts_send_after_the_patch(
        self, connector: StrawBlondConnector
    ) -> None:
        patch, send = connector.plan_update(
            Entity.PROPOSALS, "EO6YGvqMRV", {"title": "T", "status": "sent"}, {},
            _raw("draft"), [])
        assert patch.json == {"name": "T"} and patch.fields == ("title",)
        assert (send.method, send.path, send.kind) == ("POST", "/offer/EO6YGvqMRV/send", "send")
        assert send.json == {} and send.fields == ("status",)

    def test_contact_change_sends_the_remote_contact_id(
        self, connector: StrawBlondConnector
    ) -> None:
        (req,) = connector.plan_update(Entity.PROPOSALS, "EO6YGvqMRV",
                                       {"contact_id": "FjsUNPjc01"}, {}, _raw("draft"), [])
        assert req.json == {"contact_id": "FjsUNPjc01"}

    @pytest.mark.parametrize(("changes", "reason"), [
        ({"total_net": Decimal("1")}, "total_net"),
        ({"company_id": "zzgEOzdmen"}, "company_id"),
        ({"currency": "CHF"}, "currency"),
        ({"status": "expired"}, "expired"),
        ({"status": "viewed"}, "viewed"),
    ])
    def test_what_strawblond_cannot_take_is_unsupported(
        self, connector: StrawBlondConnector, changes: dict[str, Any], reason: str
    ) -> None:
        with pytest.raises(VendorUnsupported, match=reason):
            connector.plan_update(Entity.PROPOSALS, "EO6YGvqMRV", changes, {}, _raw("draft"), [])

    def test_create_offer_carries_contact_title_and_marker(
        self, connector: StrawBlondConnector
    ) -> None:
        row = {"title": "Relaunch", "contact_remote_id": "FjsUNPjc01", "status": "draft"}
        (req,) = connector.plan_create(Entity.PROPOSALS, row, [], "syncd-abc")
        assert (req.method, req.path, req.kind) == ("POST", "/offer", "create")
        assert req.json == {"contact_id": "FjsUNPjc01", "name": "Relaunch",
                            "custom_fields": {"syncd_ref": "syncd-abc"}}
        assert set(req.fields) == {"contact_id", "title", "status"}

    def test_create_accepted_sets_approved_at_and_sent_is_left_for_an_update(
        self, connector: StrawBlondConnector
    ) -> None:
        row = {"title": "A", "contact_remote_id": "FjsUNPjc01", "status": "accepted"}
        (req,) = connector.plan_create(Entity.PROPOSALS, row, [], "m")
        assert "approved_at" in req.json and "status" in req.fields
        row["status"] = "sent"
        (req,) = connector.plan_create(Entity.PROPOSALS, row, [], "m")
        assert "status" not in req.fields and "approved_at" not in req.json

    def test_create_without_contact_is_refused(self, connector: StrawBlondConnector) -> None:
        with pytest.raises(VendorRefused, match="contact"):
            connector.plan_create(Entity.PROPOSALS, {"title": "x"}, [], "m")

    def test_line_item_create_is_a_document_element_with_marker_in_remark(
        self, connector: StrawBlondConnector
    ) -> None:
        row = {"proposal_remote_id": "EO6YGvqMRV", "name": "Hosting", "quantity": Decimal("2"),
               "unit_price": Decimal("99.50"), "optional": False, "description": None,
               "tax_rate": Decimal("8.1")}
        (req,) = connector.plan_create(Entity.LINE_ITEMS, row, [], "syncd-li")
        assert (req.method, req.path) == ("POST", "/document_element")
        assert req.json == {
            "document_type": "Modules\\Salesforce\\Offer", "document_id": "EO6YGvqMRV",
            "type": "paragraph", "name": "Hosting", "remark": "syncd_ref:syncd-li",
            "quantity": 2.0, "amount": 99.5, "is_optional": False,
        }
        assert set(req.fields) == {"name", "quantity", "unit_price", "optional"}
        json.dumps(req.json)  # plain JSON, no Decimal

    def test_line_item_update_and_delete(self, connector: StrawBlondConnector) -> None:
        (req,) = connector.plan_update(Entity.LINE_ITEMS, "pArA000002",
                                       {"unit_price": Decimal("10.05"), "name": "N"}, {}, {}, [])
        assert (req.method, req.path) == ("PUT", "/document_element/pArA000002")
        assert req.json == {"name": "N", "amount": 10.05}
        with pytest.raises(VendorUnsupported, match="tax_rate"):
            connector.plan_update(Entity.LINE_ITEMS, "x", {"tax_rate": Decimal("8.1")}, {}, {}, [])
        (req,) = connector.plan_delete(Entity.LINE_ITEMS, "pArA000002", {})
        assert (req.method, req.path, req.kind) == ("DELETE", "/document_element/pArA000002",
                                                    "delete")
        (req,) = connector.plan_delete(Entity.PROPOSALS, "EO6YGvqMRV", {})
        assert (req.method, req.path) == ("DELETE", "/offer/EO6YGvqMRV")

    def test_contacts_and_companies_are_read_only(self, connector: StrawBlondConnector) -> None:
        for entity in (Entity.CONTACTS, Entity.COMPANIES):
            with pytest.raises(VendorUnsupported, match="read-only"):
                connector.plan_create(entity, {}, [], "m")
            with pytest.raises(VendorUnsupported):
                connector.plan_update(entity, "x", {"name": "n"}, {}, {}, [])

    def test_paths_are_overridable(self) -> None:
        account = AccountSettings(
            name="sb", vendor="strawblond", base_url="http://127.0.0.1:9/api",
            paths={"offer": "/v2/offer/{id}", "send_offer": "/v2/offer/{id}/mail",
                   "offers": "/v2/offer", "document_elements": "/v2/element"})
        conn = StrawBlondConnector(account)
        patch, send = conn.plan_update(Entity.PROPOSALS, "X", {"title": "t", "status": "sent"},
                                       {}, _raw("draft"), [])
        assert (patch.path, send.path) == ("/v2/offer/X", "/v2/offer/X/mail")
        row = {"title": "t", "contact_remote_id": "C"}
        assert conn.plan_create(Entity.PROPOSALS, row, [], "m")[0].path == "/v2/offer"
        item = {"proposal_remote_id": "X", "name": "n"}
        assert conn.plan_create(Entity.LINE_ITEMS, item, [], "m")[0].path == "/v2/element"

    def test_created_id_reads_the_bare_object(self, connector: StrawBlondConnector) -> None:
        assert connector.created_id(Entity.PROPOSALS, SEED_OFFER) == "EO6YGvqMRV"
        assert connector.created_id(Entity.LINE_ITEMS, {"data": {"id": "e1"}}) == "e1"


class TestWebhooks:
    SECRET = "whsec-test"

    def _body(self, event: str = "offer.updated", **extra: Any) -> bytes:
        payload = {"id": "evt_1", "event": event, "created": 1663762684, "test": False,
                   "data": {**SEED_OFFER}, **extra}
        return json.dumps(payload).encode()

    def _sign(self, body: bytes, secret: str | None = None) -> str:
        return hmac.new((secret or self.SECRET).encode(), body, hashlib.sha256).hexdigest()

    def test_strawblond_signature_verifies_over_the_raw_body(
        self, connector: StrawBlondConnector
    ) -> None:
        body = self._body()
        headers = {"X-StrawBlond-Webhook-Signature": self._sign(body)}
        assert connector.authenticate_webhook(headers, body, None, self.SECRET)
        lower = {"x-strawblond-webhook-signature": self._sign(body).upper()}
        assert connector.authenticate_webhook(lower, body, None, self.SECRET)

    @pytest.mark.parametrize("case", ["forged", "other_secret", "missing", "body_changed",
                                      "no_secret"])
    def test_strawblond_forged_signatures_are_rejected(
        self, connector: StrawBlondConnector, case: str
    ) -> None:
        body = self._body()
        headers = {"X-StrawBlond-Webhook-Signature": {
            "forged": "0" * 64, "other_secret": self._sign(body, "nope"),
            "missing": None, "body_changed": self._sign(body), "no_secret": self._sign(body),
        }[case]}
        if case == "missing":
            headers = {}
        if case == "body_changed":
            body = body.replace(b"CMS Upgrade", b"CMS Downgrade")
        secret = "" if case == "no_secret" else self.SECRET
        assert not connector.authenticate_webhook(headers, body, None, secret)  # type: ignore[arg-type]

    def test_hints_name_the_offer_and_deletions(self, connector: StrawBlondConnector) -> None:
        (hint,) = connector.webhook_hints(json.loads(self._body()))
        assert (hint.entity, hint.remote_id, hint.event_id) == (Entity.PROPOSALS, "EO6YGvqMRV",
                                                                "evt_1")
        assert not hint.deleted and hint.occurred_at == 1663762684.0
        (gone,) = connector.webhook_hints(json.loads(self._body("offer.deleted")))
        assert gone.deleted

    def test_element_events_hint_their_offer_and_others_are_ignored(
        self, connector: StrawBlondConnector
    ) -> None:
        element = {"id": "e", "event": "document_element.updated", "created": 1, "test": False,
                   "data": ELEMENTS[1]}
        (hint,) = connector.webhook_hints(element)
        assert hint.remote_id == "EO6YGvqMRV" and not hint.deleted
        assert connector.webhook_hints({"event": "invoice.paid", "data": {"id": "i"}}) == []
        assert connector.webhook_hints(json.loads(self._body(test=True))) == []

    def test_subscription_is_one_star_webhook_and_the_secret_comes_back(
        self, connector: StrawBlondConnector
    ) -> None:
        (req,) = connector.webhook_subscriptions("https://sync.example/webhooks/sb", "ignored")
        assert (req.method, req.path) == ("POST", "/webhook")
        assert req.json == {"event": "*", "url": "https://sync.example/webhooks/sb"}
        assert connector.webhook_secret_from({"id": "w", "secret": "s3"}) == "s3"
        assert connector.webhook_secret_from({"id": "w"}) is None
