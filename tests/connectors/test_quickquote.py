"""Quick Quote contract tests: every example of seed 002 validates and maps; plans are exact.

The seed's JSON is not valid as printed (trailing commas, `"value: null`, a `custom_fields`
array holding bare key/value pairs); the literals below are those examples with exactly
these typos repaired and nothing else changed.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from syncd import drift
from syncd.canonical import Entity, ProposalStatus
from syncd.engine.pull import map_record
from syncd.errors import VendorRefused, VendorUnsupported
from syncd.http.paginators import CursorPaginator
from syncd.settings import AccountSettings
from syncd.vendors import connector_class
from syncd.vendors.quickquote import (
    PRICED_TYPES,
    UNPRICED_TYPES,
    QQQuote,
    QuickQuoteConnector,
    map_quote,
)

SEED_QUOTE: dict[str, Any] = {
    "assignee": {"assignee_id": 234234, "assignee_name": "Staff User"},
    "created_on": "2022-11-22T15:14:27.597",
    "custom_fields": [{"id": 4767458, "name": "Shipping Address", "value": None}],
    "customer_id": 123123123,
    "discount_amount": None,
    "discount_reason": None,
    "discount_total": None,
    "discount_type": None,
    "email": "johnSmith@email.com",
    "first_name": "John",
    "id": 2453,
    "internal_notes": "double check pricing",
    "last_name": "Smith",
    "line_items": [
        {
            "barcode": None,
            "custom_image_path": None,
            "custom_product": False,
            "discount_amount": None,
            "discount_reason": None,
            "discount_total": None,
            "discount_type": None,
            "grams": 1300,
            "id": 24234,
            "image": "https://cdn.shopify.com/s/files/1/0741/5951/products/babys-room_925x_a0353b7b-e8a4-4ead-8a1d-f52ba1ae998d.jpg?v=1602785660",
            "item_properties": [],
            "line_price": 225.00,
            "original_line_price": 225.00,
            "product_id": 234523452345,
            "quantity": 1,
            "requires_shipping": False,
            "sku": None,
            "taxable": False,
            "title": "Antique Drawers",
            "total": 225.00,
            "url": None,
            "variant_id": 123123123123,
            "variant_title": "5 Drawer",
        }
    ],
    "phone": None,
    "public_notes": None,
    "quote_number": 458,
    "remarks": "Please line the drawers",
    "shipping": {
        "shipping_handle": None,
        "shipping_name": None,
        "shipping_price": None,
        "shipping_total": 0,
    },
    "shopify_order_id": None,
    "shopify_order_number": None,
    "status": "Accepted",
    "subtotal": 235.25,
    "tags": None,
    "total": 235.25,
    "total_tax": 10.25,
}
# "Get Quotes" and "Get Quotes by CustomerID" share this envelope (the cursor is a number there).
SEED_LIST: dict[str, Any] = {"total_records": 52, "next_page": 2116349, "data": [SEED_QUOTE]}

SEED_CREATE_REQUEST: dict[str, Any] = {
    "email": "johnsmith@myemail.com",
    "first_name": "John",
    "last_name": "Smith",
    "phone": "122-123-1234",
    "remarks": "",
    "customer_id": 123127982734,
    "assignee_id": 12123,
    "internal_notes": "",
    "public_notes": "",
    "tags": "priority, needs review",
    "discount": {"discount_amount": 10, "discount_type": "fixed",
                 "discount_reason": "$10 off special"},
    "custom_fields": [{"id": 12121, "value": "Company Name"},
                      {"id": 2569, "value": "1234 somewhere street"}],
    "line_items": [
        {
            "quantity": 1, "custom_product": True, "price": 15.25,
            "title": "Big Brown Bear Boots", "sku": "23j4h22344", "barcode": None,
            "image_url": "https://hostedimatges.com/new-image.jpg", "weight": 1300,
            "weight_units": "g", "requires_shipping": True, "taxable": True,
            "discount": {"discount_amount": 10, "discount_type": "fixed",
                         "reason": "$10 off special"},
            "properties": {"key": "property name", "value": "property value"},
        },
        {"variant_id": 23452345234523, "quantity": 1, "custom_product": False},
    ],
}
SEED_UPDATE_REQUESTS: list[dict[str, Any]] = [
    {"internal_notes": "Make sure this quote is complete before the end of the month"},
    {"status": "accepted"},
    {"customer_id": None},
    {"first_name": "Susan", "last_name": "Johnson", "email": "susan.johnson@email.com",
     "phone": "123-123-4455"},
    {"custom_fields": [{"id": 7781, "value": "option1"}]},
    {"custom_fields": [{"id": 7781, "value": {
        "city": "Ocean View", "country": "us", "countryName": "UNITED STATES",
        "line1": "305452 Spring Ct", "postalOrZip": "19970", "provinceOrState": "DE",
        "provinceOrStateName": "Delaware"}}]},
    {"discount": {"discount_type": "percentage", "discount_amount": 50,
                  "discount_reason": "50% off giveaway"}},
    {"shipping": {"shipping_name": "Local Delivery", "shipping_price": 25.50}},
]
SEED_EMAIL_REQUEST: dict[str, Any] = {
    "quote_id": 1231, "include_link": False, "include_pdf": False, "email_assignee": True,
}


@pytest.fixture
def connector() -> QuickQuoteConnector:
    account = AccountSettings(name="qq", vendor="quickquote",
                              base_url="https://requestquote.w3apps.co/api/v1",
                              auth={"api_key": "k"})
    return QuickQuoteConnector(account)


class TestSeedExamplesMap:
    def test_registered_under_its_vendor_key(self) -> None:
        assert connector_class("quickquote") is QuickQuoteConnector

    def test_get_quote_example_maps_to_canonical_rows(self, connector: QuickQuoteConnector) -> None:
        raw = copy.deepcopy(SEED_QUOTE)
        bundle = map_quote(connector, QQQuote.model_validate(raw), raw)
        [proposal] = bundle.proposals
        assert proposal == {
            "remote_id": "2453", "number": "458", "title": "double check pricing",
            "status": ProposalStatus.ACCEPTED, "vendor_status": "Accepted",
            "company_id": None, "contact_id": "123123123",
            "total_gross": Decimal("235.25"), "total_tax": Decimal("10.25"),
            "total_net": Decimal("225.00"),
            "created_at": datetime(2022, 11, 22, 15, 14, 27, 597000, tzinfo=UTC),
            "raw": raw,
        }
        [item] = bundle.line_items
        assert item == {
            "remote_id": "24234", "proposal_remote_id": "2453", "position": 1, "sku": None,
            "name": "Antique Drawers", "description": "5 Drawer", "quantity": Decimal(1),
            "unit_price": Decimal("225.0"), "discount": None, "total_net": Decimal("225.0"),
            "raw": raw["line_items"][0],
        }
        [contact] = bundle.contacts
        assert contact["remote_id"] == "123123123"
        assert (contact["first_name"], contact["last_name"], contact["full_name"]) == (
            "John", "Smith", "John Smith")
        assert contact["email"] == "johnSmith@email.com" and contact["phone"] is None
        assert "company_id" not in contact  # unknown, not "no company"
        assert bundle.companies == []  # no "Company Name" field on this quote
        assert bundle.complete_line_items == {"2453"}

    @pytest.mark.parametrize("path", ["/quotes", "/customers/123123123/quotes"])
    def test_list_examples_page_and_validate(self, path: str) -> None:
        """Both list examples: records under `data`, a numeric cursor taken as is."""
        spec = QuickQuoteConnector.streams[0]
        assert spec.records_path == ("data",) and spec.page_size == 100
        paginator = spec.paginator(spec.page_size, None)
        assert paginator.request_params() == {"page_size": 100}
        body = copy.deepcopy(SEED_LIST)
        for record in body["data"]:
            spec.model.model_validate(record)
        paginator.update(body, body["data"])
        assert paginator.has_next
        assert paginator.request_params() == {"page": 2116349, "page_size": 100}
        paginator.update({"total_records": 52, "next_page": None, "data": []}, [])
        assert not paginator.has_next

    def test_create_example_is_what_the_create_plan_sends(
        self, connector: QuickQuoteConnector
    ) -> None:
        row = {"title": "", "contact_remote_id": "123127982734",
               "contact": {"email": "johnsmith@myemail.com", "first_name": "John",
                           "last_name": "Smith", "phone": "122-123-1234"}}
        children = [
            {"name": "Big Brown Bear Boots", "unit_price": Decimal("15.25"),
             "quantity": Decimal(1), "sku": "23j4h22344"},
            {"name": "Wool Rug", "quantity": Decimal(1),
             "raw": {"custom_product": False, "variant_id": 23452345234523}},
        ]
        [req] = connector.plan_create(Entity.PROPOSALS, row, children, "m-1")
        assert (req.method, req.path, req.kind) == ("POST", "/quotes", "create")
        for key in ("email", "first_name", "last_name", "phone", "customer_id"):
            assert req.json[key] == SEED_CREATE_REQUEST[key]
        assert req.json["tags"] == "syncd:m-1"
        assert req.fields == ("contact_id", "line_items")
        assert req.json["line_items"] == [
            {"custom_product": True, "title": "Big Brown Bear Boots", "price": 15.25,
             "quantity": 1, "sku": "23j4h22344"},
            SEED_CREATE_REQUEST["line_items"][1],
        ]

    def test_update_examples_are_what_the_update_plan_sends(
        self, connector: QuickQuoteConnector
    ) -> None:
        row = {"vendor_status": "Sent"}
        [notes] = connector.plan_update(
            Entity.PROPOSALS, "1", {"title": SEED_UPDATE_REQUESTS[0]["internal_notes"]}, row,
            {}, [])
        assert (notes.method, notes.path, notes.json) == ("PUT", "/quotes/1",
                                                          SEED_UPDATE_REQUESTS[0])
        [status] = connector.plan_update(Entity.PROPOSALS, "1", {"status": "accepted"}, row,
                                         {}, [])
        assert status.json == SEED_UPDATE_REQUESTS[1] and status.fields == ("status",)

    def test_email_example_is_what_the_send_plan_sends(
        self, connector: QuickQuoteConnector
    ) -> None:
        [req] = connector.plan_send("1231")
        assert (req.method, req.path, req.kind) == ("POST", "/quotes/email", "send")
        assert set(req.json) == set(SEED_EMAIL_REQUEST)
        assert req.json["quote_id"] == SEED_EMAIL_REQUEST["quote_id"]


class TestMapping:
    def test_company_from_the_company_name_custom_field(
        self, connector: QuickQuoteConnector
    ) -> None:
        raw = copy.deepcopy(SEED_QUOTE)
        raw["custom_fields"].append({"id": 12121, "name": "Company Name",
                                     "value": "  Blue  Fern Interiors "})
        bundle = map_quote(connector, QQQuote.model_validate(raw), raw)
        [company] = bundle.companies
        assert company["remote_id"] == "name:blue fern interiors"
        assert company["name"] == "Blue Fern Interiors"
        assert bundle.proposals[0]["company_id"] == "name:blue fern interiors"
        assert bundle.contacts[0]["company_id"] == "name:blue fern interiors"

    def test_guest_contact_is_keyed_by_lowercased_email(
        self, connector: QuickQuoteConnector
    ) -> None:
        raw = {**copy.deepcopy(SEED_QUOTE), "customer_id": None}
        bundle = map_quote(connector, QQQuote.model_validate(raw), raw)
        assert bundle.contacts[0]["remote_id"] == "email:johnsmith@email.com"
        assert bundle.proposals[0]["contact_id"] == "email:johnsmith@email.com"

    @pytest.mark.parametrize(("word", "status"), [
        ("Created", "draft"), ("Sent", "sent"), ("Viewed", "viewed"), ("Accepted", "accepted"),
        ("Declined", "rejected"), ("Canceled", "canceled"), ("Ordered", "ordered"),
    ])
    def test_status_vocabulary(self, connector: QuickQuoteConnector, word: str,
                               status: str) -> None:
        raw = {**copy.deepcopy(SEED_QUOTE), "status": word}
        bundle = map_quote(connector, QQQuote.model_validate(raw), raw)
        assert bundle.proposals[0]["status"] == status

    @pytest.mark.parametrize("patch", [
        {"id": None},
        {"id": True},
        {"id": ""},
        {"id": {"value": 2453}},
        {"line_items": "see /quotes/2453/line_items"},
        {"line_items": 3},
        {"line_items": {"id": 24234}},
        {"custom_fields": "Company Name"},
    ])
    def test_only_an_unusable_id_or_structure_fails_validation(
        self, patch: dict[str, Any]
    ) -> None:
        with pytest.raises(ValidationError):
            QQQuote.model_validate({**copy.deepcopy(SEED_QUOTE), **patch})

    def test_a_quote_without_an_id_or_not_an_object_fails_validation(self) -> None:
        raw = copy.deepcopy(SEED_QUOTE)
        del raw["id"]
        for record in (raw, [SEED_QUOTE], "2453"):
            with pytest.raises(ValidationError):
                QQQuote.model_validate(record)

    @pytest.mark.parametrize(("patch", "field", "value", "kind", "path"), [
        ({"status": "accepted"}, "status", ProposalStatus.ACCEPTED, None, None),
        ({"status": "ACCEPTED"}, "status", ProposalStatus.ACCEPTED, None, None),
        ({"status": " Viewed "}, "status", ProposalStatus.VIEWED, None, None),
        ({"status": "Archived"}, "status", None, "unmapped_word", "status"),
        ({"total": "235.25"}, "total_gross", Decimal("235.25"), "coerced_value", "total"),
        ({"total": "n/a"}, "total_gross", None, "unparseable_value", "total"),
        ({"total_tax": "n/a"}, "total_net", None, "unparseable_value", "total_tax"),
        ({"id": 2453.0}, "remote_id", "2453", None, None),
        ({"id": "2453"}, "remote_id", "2453", None, None),
        ({"quote_number": "458"}, "number", "458", None, None),
        ({"internal_notes": None}, "title", None, None, None),
        ({"internal_notes": 12}, "title", "12", "coerced_value", "internal_notes"),
        ({"created_on": "22/11/2022"}, "created_at", None, "unparseable_value", "created_on"),
        ({"created_on": "2022-11-22T16:14:27.597+01:00"}, "created_at",
         datetime(2022, 11, 22, 15, 14, 27, 597000, tzinfo=UTC), None, None),
    ])
    def test_drifted_values_degrade_and_are_noted(
        self, connector: QuickQuoteConnector, patch: dict[str, Any], field: str, value: Any,
        kind: str | None, path: str | None,
    ) -> None:
        """Strict about identity and money, tolerant about vocabulary: the quote is kept."""
        raw = {**copy.deepcopy(SEED_QUOTE), **patch}
        bundle, notes = map_record(connector, connector.streams[0], raw)
        [proposal] = bundle.proposals
        assert proposal[field] == value
        if kind is not None:
            assert (kind, path) in {(str(n.kind), n.path) for n in notes}
        assert bundle.complete_line_items == {"2453"} and len(bundle.line_items) == 1

    def test_an_unknown_field_is_noted_by_its_path(self, connector: QuickQuoteConnector) -> None:
        raw = copy.deepcopy(SEED_QUOTE)
        raw["x_loyalty"] = {"tier": "gold"}
        raw["line_items"][0]["x_gift_wrap"] = True
        _, notes = map_record(connector, connector.streams[0], raw)
        unknown = {n.path for n in notes if n.kind == "unknown_field"}
        assert unknown == {"x_loyalty", "line_items[].x_gift_wrap"}  # documented keys are not

    def test_the_seed_example_maps_without_drift(self, connector: QuickQuoteConnector) -> None:
        _, notes = map_record(connector, connector.streams[0], copy.deepcopy(SEED_QUOTE))
        assert notes == []

    def test_line_item_money_as_text_and_quantity_as_text_are_exact(
        self, connector: QuickQuoteConnector
    ) -> None:
        raw = copy.deepcopy(SEED_QUOTE)
        raw["line_items"][0].update(quantity="3", line_price="30.30",
                                    original_line_price="30.30", total="30.30")
        bundle, notes = map_record(connector, connector.streams[0], raw)
        [item] = bundle.line_items
        assert (item["quantity"], item["unit_price"], item["total_net"]) == (
            Decimal(3), Decimal("10.10"), Decimal("30.30"))
        assert {n.path for n in notes if n.kind == "coerced_value"} == {
            "line_items[].quantity", "line_items[].line_price",
            "line_items[].original_line_price", "line_items[].total"}

    @pytest.mark.parametrize(("patch", "unit_price", "total_net"), [
        ({"total": "n/a"}, Decimal("225"), None),  # sent but unreadable: never line_price
        ({"total": None}, Decimal("225"), Decimal("225")),  # undiscounted: line price is net
        ({"total": None, "discount_total": 25.0}, Decimal("225"), None),
        ({"original_line_price": "n/a"}, None, Decimal("225")),
        ({"original_line_price": None, "discount_total": "n/a", "total": 200.0}, None,
         Decimal("200")),
        ({"quantity": None}, None, Decimal("225")),
        ({"quantity": 0}, None, Decimal("225")),
    ])
    def test_an_unreadable_line_amount_is_null_never_a_guess(
        self, connector: QuickQuoteConnector, patch: dict[str, Any], unit_price: Any,
        total_net: Any,
    ) -> None:
        raw = copy.deepcopy(SEED_QUOTE)
        raw["line_items"][0].update(patch)
        [item] = map_quote(connector, QQQuote.model_validate(raw), raw).line_items
        assert (item["unit_price"], item["total_net"]) == (unit_price, total_net)

    def test_a_line_without_a_usable_id_stays_raw_only_and_keeps_the_quote(
        self, connector: QuickQuoteConnector
    ) -> None:
        """A float id beyond 2^53 names a neighbour: no id. The quote and its other lines
        are kept; the set is then incomplete, so no mirror line is deleted for it."""
        raw = copy.deepcopy(SEED_QUOTE)
        first = raw["line_items"][0]
        raw["line_items"] = [first, {**first, "id": 9.007199254740993e15}, {**first, "id": None},
                             "not an object", {**first, "id": 24236.0}]
        bundle, notes = map_record(connector, connector.streams[0], raw)
        assert [i["remote_id"] for i in bundle.line_items] == ["24234", "24236"]
        assert [i["position"] for i in bundle.line_items] == [1, 5]
        assert bundle.proposals[0]["remote_id"] == "2453"
        assert bundle.complete_line_items == set()
        assert {(str(n.kind), n.path) for n in notes} >= {
            ("unparseable_value", "line_items[].id"), ("unparseable_value", "line_items[]"),
            ("coerced_value", "line_items[].id")}

    def test_null_line_items_say_nothing_about_the_items(
        self, connector: QuickQuoteConnector
    ) -> None:
        raw = {**copy.deepcopy(SEED_QUOTE), "line_items": None}
        bundle = map_quote(connector, QQQuote.model_validate(raw), raw)
        assert bundle.proposals and bundle.line_items == [] and bundle.complete_line_items == set()

    @pytest.mark.parametrize(("element", "line_item"), [
        ({"type": "custom"}, True),
        ({"type": "Shipping", "line_price": 25.5}, True),  # unknown, but priced
        ({"type": "shipping", "quantity": "1"}, True),
        ({"type": "section", "quantity": None, "line_price": None,
          "original_line_price": None, "total": None}, False),
        ({"type": "NOTE", "line_price": 1.0}, False),  # a known layout word
    ])
    def test_element_types(self, connector: QuickQuoteConnector, element: dict[str, Any],
                           line_item: bool) -> None:
        raw = copy.deepcopy(SEED_QUOTE)
        raw["line_items"][0].update(element)
        bundle, notes = map_record(connector, connector.streams[0], raw)
        assert len(bundle.line_items) == int(line_item)
        assert bundle.complete_line_items == {"2453"}  # a layout element is not a missing line
        unknown = drift.normalize_word(element["type"]) not in (PRICED_TYPES | UNPRICED_TYPES)
        assert (("unmapped_word", "line_items[].type") in {(str(n.kind), n.path) for n in notes}
                ) is unknown

    def test_company_name_field_matched_in_any_casing(
        self, connector: QuickQuoteConnector
    ) -> None:
        raw = copy.deepcopy(SEED_QUOTE)
        raw["custom_fields"].append({"id": "12121", "name": "COMPANY_NAME", "value": "Acme"})
        bundle = map_quote(connector, QQQuote.model_validate(raw), raw)
        assert [c["remote_id"] for c in bundle.companies] == ["name:acme"]
        assert bundle.companies[0]["raw"] == raw["custom_fields"][-1]  # as the vendor sent it

    def test_quickquote_ids_beyond_2_53_kept_exact_as_text(
        self, connector: QuickQuoteConnector
    ) -> None:
        big = 2**53 + 1  # 9007199254740993: a float would make it ...992
        raw = copy.deepcopy(SEED_QUOTE)
        raw["line_items"][0]["id"] = big
        raw["line_items"][0]["variant_id"] = big + 2
        item = map_quote(connector, QQQuote.model_validate(raw), raw).line_items[0]
        assert item["remote_id"] == "9007199254740993" != str(int(float(big)))
        assert item["raw"]["variant_id"] == big + 2


class TestPlans:
    def test_quickquote_edit_outside_editable_statuses_is_refused_without_a_request(
        self, connector: QuickQuoteConnector
    ) -> None:
        for locked in ("Accepted", "Declined", "Canceled", "Ordered"):
            with pytest.raises(VendorRefused, match="Created, Sent or Viewed"):
                connector.plan_update(Entity.PROPOSALS, "7", {"title": "x"},
                                      {"vendor_status": locked}, {}, [])

    def test_quickquote_edit_guard_reads_the_status_word_in_any_casing(self) -> None:
        """Locked words in other casings are refused without a request; a word nobody
        mapped is left to the vendor (its 400 is reported); the account's status_map
        decides for its own words."""
        account = AccountSettings(name="qq", vendor="quickquote",
                                  base_url="https://requestquote.w3apps.co/api/v1",
                                  auth={"api_key": "k"}, status_map={"Archiviert": "canceled"})
        conn = QuickQuoteConnector(account)
        for locked in ("ACCEPTED", "declined", " Ordered ", "Archiviert"):
            with pytest.raises(VendorRefused, match="Created, Sent or Viewed"):
                conn.plan_update(Entity.PROPOSALS, "7", {"title": "x"},
                                 {"vendor_status": locked}, {}, [])
        for open_word in ("SENT", "viewed", "Not-Yet-Known"):
            [req] = conn.plan_update(Entity.PROPOSALS, "7", {"title": "x"},
                                     {"vendor_status": open_word}, {}, [])
            assert req.json == {"internal_notes": "x"}

    def test_quickquote_shopify_product_flag_as_text_still_takes_only_quantity(
        self, connector: QuickQuoteConnector
    ) -> None:
        row = {"proposal_remote_id": "7", "quantity": Decimal(2)}
        raw = {"custom_product": "false", "variant_id": "123123123123"}
        with pytest.raises(VendorUnsupported, match="only quantity"):
            connector.plan_update(Entity.LINE_ITEMS, "1", {"name": "x"}, row, raw, [])
        assert connector._line_item_body({**row, "raw": raw}) == {
            "variant_id": 123123123123, "custom_product": False, "quantity": 2}

    def test_status_out_is_lowercase_and_expired_unsupported(
        self, connector: QuickQuoteConnector
    ) -> None:
        [req] = connector.plan_update(Entity.PROPOSALS, "7", {"status": "rejected"},
                                      {"vendor_status": "Viewed"}, {}, [])
        assert req.json == {"status": "declined"}
        with pytest.raises(VendorUnsupported):
            connector.plan_update(Entity.PROPOSALS, "7", {"status": "expired"},
                                  {"vendor_status": "Viewed"}, {}, [])

    @pytest.mark.parametrize("field", ["number", "total_gross", "currency", "contact_id"])
    def test_fields_the_vendor_does_not_take(self, connector: QuickQuoteConnector,
                                             field: str) -> None:
        with pytest.raises(VendorUnsupported, match=field):
            connector.plan_update(Entity.PROPOSALS, "7", {field: "1"},
                                  {"vendor_status": "Created"}, {}, [])

    def test_shopify_product_line_item_takes_only_quantity(
        self, connector: QuickQuoteConnector
    ) -> None:
        row = {"proposal_remote_id": "7"}
        raw = {"custom_product": False, "variant_id": 123123123123}
        [req] = connector.plan_update(Entity.LINE_ITEMS, "9007199254740993",
                                      {"quantity": Decimal("3")}, row, raw, [])
        assert (req.method, req.path, req.json) == (
            "PUT", "/quotes/7/line_items/9007199254740993", {"quantity": 3})
        with pytest.raises(VendorUnsupported, match="only quantity"):
            connector.plan_update(Entity.LINE_ITEMS, "1", {"unit_price": Decimal("1")}, row,
                                  raw, [])

    def test_custom_line_item_update_in_vendor_words(
        self, connector: QuickQuoteConnector
    ) -> None:
        [req] = connector.plan_update(
            Entity.LINE_ITEMS, "5", {"name": "Boots", "unit_price": Decimal("19.90"),
                                     "sku": "B-1"},
            {"proposal_remote_id": "7"}, {"custom_product": True}, [])
        assert req.json == {"title": "Boots", "price": 19.9, "sku": "B-1"}
        with pytest.raises(VendorUnsupported, match="whole numbers"):
            connector.plan_update(Entity.LINE_ITEMS, "5", {"quantity": Decimal("1.5")},
                                  {"proposal_remote_id": "7"}, {"custom_product": True}, [])

    def test_line_item_create_carries_the_hidden_marker_property(
        self, connector: QuickQuoteConnector
    ) -> None:
        [req] = connector.plan_create(
            Entity.LINE_ITEMS, {"proposal_remote_id": "7", "name": "Fitting",
                                "unit_price": Decimal("40"), "quantity": Decimal(2)}, [], "mk")
        assert (req.method, req.path) == ("POST", "/quotes/7/line_items")
        assert req.json == [{"custom_product": True, "title": "Fitting", "price": 40.0,
                             "quantity": 2, "properties": {"key": "_syncd", "value": "mk"}}]

    def test_create_without_contact_names_is_unsupported(
        self, connector: QuickQuoteConnector
    ) -> None:
        with pytest.raises(VendorUnsupported, match="first_name"):
            connector.plan_create(Entity.PROPOSALS, {"contact_remote_id": "email:a@b.c"}, [],
                                  "m")

    def test_deletes_and_paths_are_overridable(self) -> None:
        account = AccountSettings(name="qq", vendor="quickquote",
                                  base_url="https://x.example/api/v1", auth={"api_key": "k"},
                                  paths={"quotes_delete": "/v1b/quotes/{id}"})
        conn = QuickQuoteConnector(account)
        assert conn.plan_delete(Entity.PROPOSALS, "7", {})[0].path == "/v1b/quotes/7"
        [item] = conn.plan_delete(Entity.LINE_ITEMS, "5", {"proposal_remote_id": "7"})
        assert (item.method, item.path) == ("DELETE", "/quotes/7/line_items/5")
        with pytest.raises(VendorUnsupported, match="no customer API"):
            conn.plan_delete(Entity.CONTACTS, "1", {})

    def test_created_ids(self, connector: QuickQuoteConnector) -> None:
        assert connector.created_id(Entity.PROPOSALS, SEED_QUOTE) == "2453"
        assert connector.created_id(Entity.LINE_ITEMS, [{"id": 2**53 + 1}]) == "9007199254740993"


def test_cursor_paginator_handles_opaque_string_cursors() -> None:
    paginator = CursorPaginator(100)
    paginator.update({"next_page": "MjQ1Mw==", "data": []}, [])
    assert paginator.request_params() == {"page": "MjQ1Mw==", "page_size": 100}
