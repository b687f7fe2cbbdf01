"""Contract tests: every JSON example of seed 003 (and the docs' /offers and login examples)
validates with the Happyoffer models and maps to canonical rows with exact types."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from syncd.canonical import ProposalStatus
from syncd.sandbox.happyoffer import HappyofferSandbox
from syncd.sandbox.happyoffer_data import (
    EXTERNAL_COMPANY_TOKEN,
    EXTERNAL_USER_TOKEN,
    TEMPLATE_ID,
)
from syncd.settings import AccountSettings
from syncd.vendors.happyoffer import (
    ExternalOfferRecord,
    HappyofferConnector,
    OfferRecord,
    map_external_offer,
    map_offer,
    products_of,
)

# ---- seed 003, verbatim (placeholders and all) -----------------------------------------------
SEED_ATTRIBUTES: dict[str, Any] = {
    "offer_id": "", "external_id": "", "company_id": "", "offer_template_id": "",
    "external_client_id": "", "client_name": "", "contact_firstname": "",
    "contact_lastname": "", "contact_title": "", "contact_email": "", "offer_pdf_url": "",
    "external_user_token": "", "external_company_token": "",
}
SEED_LIST = {"data": [{"id": "", "attributes": dict(SEED_ATTRIBUTES)}]}
SEED_ONE = {"data": {"id": "", "attributes": dict(SEED_ATTRIBUTES)}}
SEED_CREATE = {
    "offer_id": "", "external_id": "", "offer_template_id": "", "external_client_id": "",
    "client_name": "", "contact_firstname": "", "subject_field_email_button": "",
    "contact_lastname": "", "contact_title": "", "contact_email": ".com", "offer_pdf_url": "",
    "external_user_token": "", "external_company_token": "", "metadata": "",
    "products": "See documentation below...",
}
SEED_METADATA = [{"variables": [
    {"text": "Contact person first name", "content": "%%contact_firstname%%"},
    {"text": "Client company name", "content": "%%client_company_name%%"},
]}]
_RENDER = {"url": None, "name": None}
_LONG = ("Met een laadpaal pakket krijg je een ‘slimme’ BlueBuilt laadpaal met extra voordelen.")
SEED_PRODUCTS: list[dict[str, Any]] = [{
    "client": {"client_zip": "3582 BR", "client_city": "Utrecht", "client_name": "Test B.V.",
               "client_address": "Bisschop Tulpijnendreef 22",
               "client_contact_full_name": "mevrouw E. Bakker"},
    "general": {"offer_number": "TEST_B_V_001", "customer_number": "1",
                "reference_number": "REF-12345",
                "offer_description": "Op maat gemaakte offerte in Happyoffer!",
                "contact": [{"email": "test@email.com", "full_name": "John Doe",
                             "image_url": "https://my-online-offer.com/images/voorbeeld-persoon.jpg",
                             "phone_number": "+3163884053"}]},
    "categories": [{"id": 1, "name": "Zonnepanelen"}, {"id": 2, "name": "Laadpalen"}],
    "articles": [
        {"name": "BlueBuilt met socket", "category_id": 2, "price": 1550, "amount": 2,
         "extra_content": [{"name": "Extreem snel", "content": "Laadt snel op met 11 kW of 22 kW"}],
         "3d_render": _RENDER,
         "images": [{"name": "Laadpaal van Coolblue",
                     "url": "https://image.coolblue.nl/max/156xauto/content/e684626c2146dbe3ac632f81e3236c20"}],
         "documents": [{"url": "https://example.com/brochures/laadpaal.pdf"}],
         "order_column": 1, "article_number": "LAADPAL-001", "long_description": _LONG,
         "short_description": "Onze eigen installateurs komen op korte termijn bij je langs.",
         "parent_article_number": None, "child_article_number": None},
        {"name": "[Alternatief] - BlueBuilt met socket", "category_id": 1,
         "alert_text": "Socket model", "price": 1649, "amount": 1, "3d_render": _RENDER,
         "extra_content": [{"name": "Ongekende garantie!",
                            "content": "Heeft 5 jaar productgarantie"}],
         "images": [{"url": "https://image.coolblue.nl/max/315xauto/content/e684626c2146dbe3ac632f81e3236c20",
                     "name": "Afbeelding 1"}],
         "documents": [{"url": "https://example.com/brochures/laadpaal-alternatief.pdf"}],
         "order_column": 1, "article_number": "LAADPAL-002", "long_description": _LONG,
         "short_description": "Onze eigen installateurs komen op korte termijn bij je langs.",
         "parent_article_number": "LAADPAL-001", "child_article_number": None},
    ],
    "article_others": [{
        "alert_text": "Vast laadkabel van 4.5 meter", "article_number": "LAADPAL-003",
        "icon": "heroicon-o-adjustments-vertical", "name": "BlueBuilt vaste laadkabel",
        "short_description": "Op onze laadpalen krijg je 5 jaar productgarantie.",
        "long_description": "Een laadpaal met load balancing ...", "price": 1749, "amount": 1,
        "images": [], "3d_render": _RENDER,
        "documents": [{"name": "Blusser 6 kg", "url": "https://example.com/brochures/bekabeld.pdf"}],
        "order_column": 1, "parent_article_number": "LAADPAL-001",
    }],
    "revisions": [{"order_column": 1, "title": "Specificaties",
                   "items": [{"description": "Beschikbaar in space grey"}]}],
    "terms_and_conditions": {
        "button_url": "https://my-online-offer.com/storage/algemene-voorwaarden.pdf",
        "button_text": "Bekijk als PDF", "name": "Algemene voorwaarden",
        "description": "Op al onze aanbiedingen zijn voorwaarden van toepassing.",
        "content": "<p>Hier kan je HTML content plaatsen</p>"},
    "attachments": [{"order_column": 1, "name": "Warmtepompen PDF",
                     "url": "https://www.coolblue.nl/warmtepompen/advies/assortimentspagina-warmtepompen.pdf"}],
}]
SEED_SEND = {"cc_emails": ["manager@example.com", "audit@example.com"], "subject": "New subject"}

# ---- docs.my-online-offer.com/offers and the app's login answer ------------------------------
DOCS_OFFERS = {"data": [{
    "id": "1",
    "attributes": {
        "user_id": "10", "company_id": "20", "name": "Special Offer", "is_visible": True,
        "offer_status": "active", "is_manually_rejected": False, "offer_type": "discount",
        "language": "English", "offer_date": "2023-01-01", "offer_number": "OFF123",
        "email_subject": "Your Special Offer", "characteristic": "Limited Time",
        "total_price_once": "100.00", "total_price_repeat": "10.00",
        "is_allowed_to_navigate": True, "created_at": "2023-01-01T12:00:00Z",
        "updated_at": "2023-01-02T12:00:00Z", "url": "<https://api.example.com/offers/1>",
        "draft_url": "<https://api.example.com/offers/1/draft>",
    },
    "relationships": {
        "notification": {"user_id": "10", "offer_id": "1", "is_push_notification": True},
        "client": {"id": "30", "company_name": "Example Client",
                   "website_url": "https://www.exampleclient.com", "email": "client@example.com",
                   "logo": "https://storage.example.com/logos/client.png"},
    },
}]}


@pytest.fixture
def conn() -> HappyofferConnector:
    return HappyofferConnector(AccountSettings(
        name="ho", vendor="happyoffer", base_url="https://my-online-offer.com/api",
        auth={"token": "1|abc"}))


def filled(offer_id: str = "77", products: Any = SEED_PRODUCTS) -> dict[str, Any]:
    """The seed's external offer with its placeholders filled in."""
    return {"id": "9b2f7a4e-1c53-4d2a-9f57-0f3b8e6d2a11", "attributes": {
        **SEED_ATTRIBUTES, "offer_id": offer_id, "external_id": "syncd-abc", "company_id": "20",
        "offer_template_id": TEMPLATE_ID, "external_client_id": "CRM-7", "client_name": "Test B.V.",
        "contact_firstname": "Eva", "contact_lastname": "Bakker", "contact_title": "Mrs.",
        "contact_email": "E.Bakker@Test.nl", "offer_pdf_url": "https://crm.example.com/77.pdf",
        "external_user_token": EXTERNAL_USER_TOKEN,
        "external_company_token": EXTERNAL_COMPANY_TOKEN, "products": copy.deepcopy(products),
    }}


@pytest.mark.parametrize("record", [SEED_LIST["data"][0], SEED_ONE["data"]])
def test_seed_placeholder_records_without_offer_id_cannot_be_identified_and_are_quarantined(
    conn, record
):
    stream = next(s for s in conn.streams if s.name == "external_offers")
    with pytest.raises(ValueError, match="not a usable id"):
        stream.id_of(record)
    with pytest.raises(ValidationError, match=r"attributes\.offer_id"):
        ExternalOfferRecord.model_validate(record)


def test_seed_placeholder_values_with_an_offer_id_degrade_instead_of_quarantining(conn):
    record = copy.deepcopy(SEED_LIST["data"][0])
    record["attributes"]["offer_id"] = "12"
    raw = json.loads(json.dumps(record))
    bundle = map_external_offer(conn, ExternalOfferRecord.model_validate(raw), raw)
    # "" is no client, no contact and no products: the proposal is kept, nothing invented
    assert [p["remote_id"] for p in bundle.proposals] == ["12"]
    assert bundle.companies == [] and bundle.contacts == [] and bundle.line_items == []


def test_seed_external_offer_with_products_maps_company_contact_and_line_items(conn):
    raw = filled()
    bundle = map_external_offer(conn, ExternalOfferRecord.model_validate(raw), raw)
    assert bundle.proposals == [{"remote_id": "77", "company_id": "CRM-7",
                                 "contact_id": "CRM-7:e.bakker@test.nl",
                                 "raw": bundle.proposals[0]["raw"]}]
    company = bundle.companies[0]
    assert {k: v for k, v in company.items() if k != "raw"} == {
        "remote_id": "CRM-7", "name": "Test B.V.", "street": "Bisschop Tulpijnendreef 22",
        "postal_code": "3582 BR", "city": "Utrecht"}
    contact = bundle.contacts[0]
    assert contact["first_name"] == "Eva" and contact["last_name"] == "Bakker"
    assert contact["full_name"] == "Eva Bakker" and contact["title"] == "Mrs."
    assert contact["company_id"] == "CRM-7" and contact["email"] == "E.Bakker@Test.nl"
    main, alternative = bundle.line_items
    assert main["remote_id"] == "77:1" and main["proposal_remote_id"] == "77"
    assert main["sku"] == "LAADPAL-001" and main["position"] == 1
    assert main["unit_price"] == Decimal("1550") and main["quantity"] == Decimal("2")
    assert main["total_net"] == Decimal("3100") and main["optional"] is False
    assert alternative["optional"] is True and alternative["sku"] == "LAADPAL-002"
    assert alternative["unit_price"] == Decimal("1649") and alternative["position"] == 2
    assert bundle.complete_line_items == {"77"}


def test_docs_offers_example_maps_status_totals_and_utc_dates(conn):
    raw = DOCS_OFFERS["data"][0]
    row = map_offer(conn, OfferRecord.model_validate(raw), raw).proposals[0]
    assert row["remote_id"] == "1" and row["number"] == "OFF123"
    assert row["title"] == "Special Offer"
    assert row["status"] == ProposalStatus.SENT and row["vendor_status"] == "active"
    assert row["total_net"] == Decimal("100.00") and row["currency"] == "EUR"
    assert row["created_at"] == datetime(2023, 1, 1, 12, tzinfo=UTC)
    assert row["updated_at"] == datetime(2023, 1, 2, 12, tzinfo=UTC)
    assert row["url"] == "https://api.example.com/offers/1"
    assert "company_id" not in row and "contact_id" not in row  # the external list's job


def test_seed_metadata_example_is_kept_as_text_and_does_not_break_mapping(conn):
    raw = filled()
    raw["attributes"]["metadata"] = json.dumps(SEED_METADATA)
    bundle = map_external_offer(conn, ExternalOfferRecord.model_validate(raw), raw)
    assert bundle.proposals[0]["raw"]["attributes"]["metadata"] == json.dumps(SEED_METADATA)


def test_seed_products_example_is_one_object_in_an_array():
    products = products_of(SEED_PRODUCTS)
    assert products is not None and products["general"]["offer_number"] == "TEST_B_V_001"


def test_seed_create_placeholder_body_is_refused_with_laravel_422(served):
    sandbox = HappyofferSandbox(requests_per_minute=1000)
    served(sandbox)
    with httpx.Client(base_url=sandbox.base_url() + "/") as http:
        token = sandbox.issue_token()
        response = http.post("external-offers", json=SEED_CREATE, headers={
            "Accept": "application/json", "Authorization": f"Bearer {token}"})
    assert response.status_code == 422
    body = response.json()
    assert body["message"].startswith("The offer template id field is required. (and ")
    assert body["errors"]["contact_email"] == [
        "The contact email field must be a valid email address."]
    assert body["errors"]["products"] == ["The products field must be a valid JSON string."]


def test_seed_create_filled_body_with_metadata_and_products_is_created_then_sent(served):
    sandbox = HappyofferSandbox(requests_per_minute=1000)
    served(sandbox)
    body = {**SEED_CREATE, "external_id": "syncd-1", "offer_template_id": TEMPLATE_ID,
            "external_client_id": "CRM-7", "client_name": "Test B.V.",
            "contact_firstname": "Eva", "contact_lastname": "Bakker",
            "contact_email": "eva@test.nl", "offer_pdf_url": "https://crm.example.com/1.pdf",
            "external_user_token": EXTERNAL_USER_TOKEN,
            "external_company_token": EXTERNAL_COMPANY_TOKEN,
            "metadata": SEED_METADATA, "products": SEED_PRODUCTS}
    with httpx.Client(base_url=sandbox.base_url() + "/") as http:
        headers = {"Accept": "application/json",
                   "Authorization": f"Bearer {sandbox.issue_token()}"}
        created = http.post("external-offers", json=body, headers=headers)
        assert created.status_code == 201, created.text
        attrs = created.json()["data"]["attributes"]
        assert attrs["metadata"] == json.dumps(SEED_METADATA)  # TEXT column
        offer_id = attrs["offer_id"]
        sent = http.post(f"external-offers/{offer_id}/send", json=SEED_SEND, headers=headers)
    assert sent.status_code == 200, sent.text
    assert sandbox.sent == [{"offer_id": offer_id, **SEED_SEND}]
    offer = sandbox.collection("offers")[offer_id]["attributes"]
    assert offer["offer_status"] == "active"
    assert offer["total_price_once"] == "3100.00"  # the alternative does not count
    assert offer["name"] == "Op maat gemaakte offerte in Happyoffer!"
