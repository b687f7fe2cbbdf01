"""Happyoffer quirks: Sanctum login, child companies, the offers/external-offers join,
alternatives as optional items, create-once writes found again by `external_id`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from syncd import drift
from syncd.canonical import Bundle, Entity, ProposalStatus
from syncd.clock import FakeClock
from syncd.demo import write_settings
from syncd.errors import AuthError, BadRecord, VendorRefused, VendorUnsupported
from syncd.http.budget import RateBudget
from syncd.http.client import AccountClient
from syncd.sandbox.happyoffer import HappyofferSandbox
from syncd.sandbox.happyoffer_data import (
    CHILD_COMPANY,
    EXTERNAL_COMPANY_TOKEN,
    OTHER_COMPANY,
    PARENT_COMPANY,
)
from syncd.settings import AccountSettings, load_settings
from syncd.vendors.base import Op
from syncd.vendors.happyoffer import (
    NO_CHANGE,
    ExternalOfferRecord,
    HappyofferConnector,
    HappyofferOptions,
    OfferRecord,
    map_external_offer,
    map_offer,
)


class MemoryTokens:
    """A TokenStore in memory (the engine's lives in the database)."""

    def __init__(self, tokens: dict[str, str] | None = None) -> None:
        self.tokens = tokens
        self.saved: list[dict[str, str]] = []

    def load(self) -> dict[str, str] | None:
        return self.tokens

    def save(self, tokens: dict[str, str]) -> None:
        self.tokens = tokens
        self.saved.append(tokens)


class Harness:
    """A served, seeded sandbox plus syncd's own HTTP client pointed at it."""

    def __init__(self, sandbox: HappyofferSandbox, auth: dict[str, str] | None = None) -> None:
        self.sandbox = sandbox
        entry = sandbox.account_entry("ho")
        if auth is not None:
            entry["auth"] = auth
        self.account = AccountSettings(**entry)
        self.conn = HappyofferConnector(self.account)
        self.tokens = MemoryTokens()
        clock = FakeClock()
        self.client = AccountClient(
            account="ho", base_url=self.account.base_url,
            budget=RateBudget("ho", 1000, clock), clock=clock, ledger=None,
            auth=self.conn.auth(self.tokens), headers=self.conn.headers(),
            refusal_message=self.conn.refusal_message, attempts=1)

    def pull(self) -> Bundle:
        """Both streams, as the engine maps them (quarantined records left out)."""
        bundle = Bundle()
        for stream in self.conn.streams:
            for rec in self.client.get_json(stream.path)["data"]:
                if stream.is_deleted is not None and stream.is_deleted(rec):
                    continue
                bundle.extend(stream.map(self.conn, stream.model.model_validate(rec), rec))
        return bundle

    def paths(self) -> list[tuple[str, str, int]]:
        return [(r.method, r.path, r.status) for r in self.sandbox.requests]


@pytest.fixture
def sandbox(served: Any) -> Iterator[HappyofferSandbox]:
    box = HappyofferSandbox(requests_per_minute=1000)
    box.seed_data(companies=6, proposals=40, max_items=6, seed=3)
    served(box)
    yield box


@pytest.fixture
def harness(sandbox: HappyofferSandbox) -> Harness:
    return Harness(sandbox)


def company_row(**extra: Any) -> dict[str, Any]:
    return {"remote_id": "CRM-9", "name": "Bakker Installaties B.V.",
            "street": "Kerkstraat 1", "postal_code": "3511 AB", "city": "Utrecht", **extra}


def contact_row(**extra: Any) -> dict[str, Any]:
    return {"remote_id": None, "first_name": "Eva", "last_name": "Bakker",
            "email": "eva@bakker.test", "title": "Mrs.", **extra}


def new_proposal(**extra: Any) -> dict[str, Any]:
    return {"id": 3, "remote_id": None, "title": "Laadpaal thuis", "number": "Q-2024-7",
            "status": "draft", "company_id": 5, "contact_id": 8, "company_remote_id": "CRM-9",
            "contact_remote_id": None,
            "company": company_row(), "contact": contact_row(), **extra}


ITEMS = [
    {"id": 1, "position": 1, "sku": None, "name": "Laadpaal", "description": "11 kW",
     "quantity": Decimal("2"), "unit_price": Decimal("1550.00"), "optional": False},
    {"id": 2, "position": 2, "sku": "ALT-1", "name": "Laadpaal 22 kW", "description": None,
     "quantity": Decimal("1"), "unit_price": Decimal("1649.50"), "optional": True},
]


# ---- auth -------------------------------------------------------------------------------------
def test_happyoffer_logs_in_lazily_once_and_saves_the_token(harness):
    harness.client.get_json("/offers")
    harness.client.get_json("/external-offers")
    assert harness.paths() == [("POST", "/api/login", 200), ("GET", "/api/offers", 200),
                               ("GET", "/api/external-offers", 200)]
    login = harness.sandbox.seen("POST", "/api/login")[0]
    assert login.headers["accept"] == "application/json"
    assert harness.tokens.saved == [{"token": next(iter(harness.sandbox.tokens))}]


def test_happyoffer_saved_token_is_reused_without_logging_in(sandbox):
    harness = Harness(sandbox)
    harness.tokens.tokens = {"token": sandbox.issue_token()}
    harness.client.get_json("/offers")
    assert harness.paths() == [("GET", "/api/offers", 200)]


def test_happyoffer_logs_in_again_once_after_a_401(harness):
    harness.client.get_json("/offers")
    harness.sandbox.revoke_tokens()
    harness.client.get_json("/offers")
    assert harness.paths()[2:] == [("GET", "/api/offers", 401), ("POST", "/api/login", 200),
                                   ("GET", "/api/offers", 200)]
    assert len(harness.tokens.saved) == 2


def test_happyoffer_static_token_without_credentials_fails_on_401(sandbox):
    harness = Harness(sandbox, auth={"token": "1|revoked"})
    with pytest.raises(AuthError):
        harness.client.get_json("/offers")
    assert harness.paths() == [("GET", "/api/offers", 401)]
    assert harness.sandbox.requests[0].headers["authorization"] == "Bearer 1|revoked"


def test_happyoffer_static_token_is_sent_as_bearer(sandbox):
    harness = Harness(sandbox, auth={"token": sandbox.issue_token()})
    assert harness.client.get_json("/offers")["data"]
    assert harness.paths() == [("GET", "/api/offers", 200)]


def test_happyoffer_wrong_password_is_an_auth_error_with_the_vendor_message(sandbox):
    harness = Harness(sandbox, auth={"email": "sync@zonenlaad.test", "password": "nope"})
    with pytest.raises(AuthError, match="These credentials do not match our records"):
        harness.client.get_json("/offers")
    assert harness.paths() == [("POST", "/api/login", 422)]


def test_happyoffer_sandbox_without_accept_json_redirects_instead_of_401(sandbox):
    response = httpx.get(sandbox.base_url() + "/offers", follow_redirects=False)
    assert response.status_code == 302
    response = httpx.get(sandbox.base_url() + "/offers", headers={"Accept": "application/json"})
    assert response.status_code == 401 and response.json() == {"message": "Unauthenticated."}


def test_happyoffer_sandbox_429_carries_retry_after_and_rate_limit_headers(served):
    clock = FakeClock()
    box = HappyofferSandbox(requests_per_minute=2, clock=clock)
    served(box)
    token = box.issue_token()
    headers = {"Accept": "application/json", "Authorization": f"Bearer {token}"}
    statuses = [httpx.get(box.base_url() + "/offers", headers=headers) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert statuses[2].headers["Retry-After"] == "60"
    assert statuses[2].headers["X-RateLimit-Remaining"] == "0"
    clock.sleep(60)
    assert httpx.get(box.base_url() + "/offers", headers=headers).status_code == 200


# ---- reads ------------------------------------------------------------------------------------
def test_happyoffer_lists_include_child_company_offers_but_not_other_companies(harness):
    offers = harness.client.get_json("/offers")["data"]
    companies = {o["attributes"]["company_id"] for o in offers}
    assert companies == {PARENT_COMPANY, CHILD_COMPANY}
    externals = harness.client.get_json("/external-offers")["data"]
    assert {e["attributes"]["company_id"] for e in externals} == {PARENT_COMPANY, CHILD_COMPANY}
    hidden = [k for k, o in harness.sandbox.collection("offers").items()
              if o["attributes"]["company_id"] == OTHER_COMPANY]
    assert hidden and not set(hidden) & {o["id"] for o in offers}


def test_happyoffer_child_company_records_are_listed_but_not_readable_one_by_one(harness):
    child = next(e for e in harness.client.get_json("/external-offers")["data"]
                 if e["attributes"]["company_id"] == CHILD_COMPANY)
    with pytest.raises(VendorRefused) as refused:
        harness.client.get_json(f"/external-offers/{child['id']}")
    assert refused.value.status == 403


def test_happyoffer_offers_and_external_offers_join_on_offer_id(harness):
    offers = {o["id"] for o in harness.client.get_json("/offers")["data"]}
    externals = harness.client.get_json("/external-offers")["data"]
    assert all(len(e["id"]) == 36 and e["id"] not in offers for e in externals)  # UUIDs
    assert {e["attributes"]["offer_id"] for e in externals} < offers  # dashboard offers too
    bundle = harness.pull()
    proposal_ids = {p["remote_id"] for p in bundle.proposals}
    assert proposal_ids <= offers
    joined = [p for p in bundle.proposals if "company_id" in p]
    assert joined and all(p["remote_id"] in offers for p in joined)
    assert {i["proposal_remote_id"] for i in bundle.line_items} <= proposal_ids


def test_happyoffer_pull_matches_the_sandbox_expected_counts(harness):
    bundle = harness.pull()
    live = {e: len({r["remote_id"] for r in bundle.rows(e)}) for e in Entity}
    assert live == harness.sandbox.expected_counts()
    assert len(harness.sandbox.requests) == harness.sandbox.lower_bound_requests()


def test_happyoffer_alternative_articles_are_optional_line_items(harness):
    bundle = harness.pull()
    optional = [i for i in bundle.line_items if i["optional"]]
    assert optional and all(i["raw"]["parent_article_number"] for i in optional)
    assert all(i["raw"]["parent_article_number"] is None
               for i in bundle.line_items if not i["optional"])
    # the offer total leaves the alternatives out
    with_option = optional[0]["proposal_remote_id"]
    proposal = next(p for p in bundle.proposals
                    if p["remote_id"] == with_option and "total_net" in p)
    items = [i for i in bundle.line_items if i["proposal_remote_id"] == proposal["remote_id"]]
    assert proposal["total_net"] == sum(i["total_net"] for i in items if not i["optional"])


@pytest.mark.parametrize("shape", ["array", "object", "json-string"])
def test_happyoffer_products_are_read_in_any_stored_shape(shape):
    conn = HappyofferConnector(AccountSettings(name="ho", vendor="happyoffer",
                                               base_url="https://my-online-offer.com/api"))
    products = {"client": {"client_name": "X"},
                "articles": [{"name": "A", "price": "12.50", "amount": 3}]}
    stored = {"array": [products], "object": products, "json-string": json.dumps([products])}
    raw = {"id": "u-1", "attributes": {"offer_id": 5, "external_client_id": "C",
                                       "client_name": "X", "contact_email": "a@b.c",
                                       "products": stored[shape]}}
    bundle = map_external_offer(conn, ExternalOfferRecord.model_validate(raw), raw)
    (item,) = bundle.line_items
    assert item["remote_id"] == "5:1" and item["total_net"] == Decimal("37.50")


def test_happyoffer_manual_rejection_wins_over_the_status_word():
    conn = HappyofferConnector(AccountSettings(name="ho", vendor="happyoffer",
                                               base_url="https://my-online-offer.com/api"))
    raw = {"id": 4, "attributes": {"offer_status": "Opened", "is_manually_rejected": "1",
                                   "total_offer_price_once": "99.95"}}
    row = map_offer(conn, OfferRecord.model_validate(raw), raw).proposals[0]
    assert row["status"] == ProposalStatus.REJECTED and row["vendor_status"] == "Opened"
    assert row["remote_id"] == "4" and row["total_net"] == Decimal("99.95")


def test_happyoffer_offer_served_without_an_attributes_object_is_quarantined(harness):
    bad = harness.sandbox.corrupt_one_record()
    rec = next(o for o in harness.client.get_json("/offers")["data"] if o["id"] == bad)
    stream = harness.conn.streams[0]
    assert stream.id_of(rec) == bad and not stream.is_deleted(rec)  # identified, not trashed
    with pytest.raises(ValidationError, match="attributes"):
        OfferRecord.model_validate(rec)
    with pytest.raises(BadRecord, match=f"offer {bad}"):
        harness.conn.fetch_one(harness.client, Entity.PROPOSALS, bad)
    assert harness.sandbox.collection("offers")[bad]["attributes"]["offer_status"]  # store intact


def test_happyoffer_soft_deleted_offers_are_listed_with_deleted_at(harness):
    offers = harness.client.get_json("/offers")["data"]
    stream = harness.conn.streams[0]
    deleted = [o for o in offers if stream.is_deleted(o)]
    assert deleted and all(o["attributes"]["deleted_at"] for o in deleted)


def test_happyoffer_external_tokens_are_redacted_from_raw(harness):
    bundle = harness.pull()
    raw = next(p["raw"] for p in bundle.proposals if "company_id" in p)
    assert raw["attributes"]["external_user_token"] == "***"
    assert raw["attributes"]["external_company_token"] == "***"
    assert "ext-user" not in json.dumps([p["raw"] for p in bundle.proposals])


def test_happyoffer_fetch_one_reads_the_offer_and_its_external_offer(harness):
    externals = harness.client.get_json("/external-offers")["data"]
    offer_id = next(e["attributes"]["offer_id"] for e in externals
                    if e["attributes"]["company_id"] == PARENT_COMPANY)
    harness.sandbox.reset_log()
    bundle = harness.conn.fetch_one(harness.client, Entity.PROPOSALS, offer_id)
    assert bundle is not None
    assert [(m, p) for m, p, _ in harness.paths()] == [
        ("GET", f"/api/offers/{offer_id}"), ("GET", "/api/external-offers")]
    assert {p["remote_id"] for p in bundle.proposals} == {offer_id}
    assert bundle.companies and bundle.line_items and bundle.complete_line_items == {offer_id}
    assert harness.conn.fetch_one(harness.client, Entity.PROPOSALS, "99999") is None


def test_happyoffer_fetch_one_keeps_an_unknown_status_and_notes_it(harness):
    offer_id = next(k for k, o in harness.sandbox.collection("offers").items()
                    if o["attributes"]["company_id"] == PARENT_COMPANY
                    and not o["attributes"]["deleted_at"])
    offer = harness.sandbox.collection("offers")[offer_id]
    offer["attributes"]["offer_status"] = "Gearchiveerd"
    offer["attributes"]["x_new"] = 1
    with drift.collecting() as notes:
        bundle = harness.conn.fetch_one(harness.client, Entity.PROPOSALS, offer_id)
    assert bundle is not None
    row = next(p for p in bundle.proposals if "status" in p)
    assert row["status"] is None and row["vendor_status"] == "Gearchiveerd"
    assert {(n.kind, n.path) for n in notes} >= {
        (drift.DriftKind.UNMAPPED_WORD, "attributes.offer_status"),
        (drift.DriftKind.UNKNOWN_FIELD, "attributes.x_new")}


# ---- writes -----------------------------------------------------------------------------------
def test_happyoffer_plan_create_sends_the_required_fields_and_articles(harness):
    (request,) = harness.conn.plan_create(Entity.PROPOSALS, new_proposal(), ITEMS, "syncd-m1")
    assert (request.method, request.path, request.kind) == ("POST", "/external-offers", "create")
    assert request.fields == ("number", "title", "company_id", "contact_id", "line_items",
                              "status", "currency")
    assert request.json == {
        "external_id": "syncd-m1",
        "offer_template_id": "5001",
        "external_client_id": "CRM-9",
        "client_name": "Bakker Installaties B.V.",
        "contact_firstname": "Eva",
        "contact_lastname": "Bakker",
        "contact_email": "eva@bakker.test",
        "contact_title": "Mrs.",
        "offer_pdf_url": "https://crm.example.com/pdf/syncd-m1.pdf",
        "external_user_token": "ext-user-5c1d9a",
        "external_company_token": "ext-company-77b0e2",
        "products": {
            "client": {"client_name": "Bakker Installaties B.V.", "client_address": "Kerkstraat 1",
                       "client_zip": "3511 AB", "client_city": "Utrecht",
                       "client_contact_full_name": "Eva Bakker"},
            "general": {"offer_number": "Q-2024-7", "offer_description": "Laadpaal thuis"},
            "articles": [
                {"name": "Laadpaal", "price": 1550, "amount": 2, "short_description": "11 kW",
                 "order_column": 1, "article_number": "SYNCD-1", "parent_article_number": None},
                {"name": "Laadpaal 22 kW", "price": 1649.5, "amount": 1,
                 "short_description": None, "order_column": 2, "article_number": "ALT-1",
                 "parent_article_number": "SYNCD-1"},
            ],
        },
    }


def test_happyoffer_create_of_a_proposal_meant_as_sent_leaves_status_for_the_send(harness):
    (request,) = harness.conn.plan_create(
        Entity.PROPOSALS, new_proposal(status="sent"), ITEMS, "syncd-m5")
    assert "status" not in request.fields  # the next push plans the send request


def test_happyoffer_create_for_a_mirror_only_company_uses_syncds_id_as_client_id(harness):
    row = new_proposal(company_remote_id=None, company=company_row(remote_id=None))
    (request,) = harness.conn.plan_create(Entity.PROPOSALS, row, [], "syncd-m6")
    assert request.json["external_client_id"] == "syncd-5"


def test_happyoffer_create_without_company_or_contact_data_is_refused_before_sending(harness):
    row = new_proposal(company=None, contact={"email": "x@y.z"}, company_remote_id=None)
    with pytest.raises(VendorRefused, match="company, company name, contact first name"):
        harness.conn.plan_create(Entity.PROPOSALS, row, [], "syncd-m2")


def test_happyoffer_create_with_external_id_is_found_again_by_marker(harness):
    (request,) = harness.conn.plan_create(Entity.PROPOSALS, new_proposal(), ITEMS, "syncd-m3")
    response = harness.client.request(request.method, request.path, json=request.json)
    assert response.status_code == 201
    offer_id = harness.conn.created_id(Entity.PROPOSALS, response.json())
    assert offer_id.isdigit()  # the offer id, not the external offer's UUID
    assert harness.conn.find_by_marker(harness.client, Entity.PROPOSALS, "syncd-m3") == offer_id
    assert harness.conn.find_by_marker(harness.client, Entity.PROPOSALS, "syncd-nope") is None
    assert harness.sandbox.proposal_title(offer_id) == "Laadpaal thuis"
    assert harness.sandbox.total_of(offer_id) == Decimal("3100.00")  # alternative left out
    assert harness.sandbox.sent == []  # creating never sends
    bundle = harness.pull()
    items = sorted((i for i in bundle.line_items if i["proposal_remote_id"] == offer_id),
                   key=lambda i: i["position"])
    assert [(i["name"], i["optional"], i["unit_price"]) for i in items] == [
        ("Laadpaal", False, Decimal("1550")), ("Laadpaal 22 kW", True, Decimal("1649.5"))]
    proposal = next(p for p in bundle.proposals if p["remote_id"] == offer_id and "status" in p)
    assert proposal["status"] == ProposalStatus.DRAFT and proposal["number"] == "Q-2024-7"


@pytest.mark.parametrize(("key", "value"), [
    ("offer_template_id", None), ("offer_pdf_url", None), ("external_user_token", ""),
    ("external_company_token", None)])
def test_happyoffer_create_without_a_create_key_is_unsupported_naming_it_and_where(
        sandbox, key, value):
    entry = sandbox.account_entry("ho")
    if value is None:
        del entry[key]
    else:
        entry[key] = value  # empty counts as unset
    conn = HappyofferConnector(AccountSettings(**entry))
    where = f"set `{key}` in [[accounts]] ho (the entry itself) to create Happyoffer offers"
    with pytest.raises(VendorUnsupported) as info:
        conn.plan_create(Entity.PROPOSALS, new_proposal(), ITEMS, "syncd-m7")
    assert str(info.value) == where


def test_happyoffer_sandbox_settings_file_has_the_create_keys_in_the_entry(sandbox, tmp_path):
    """What `syncd sandbox --write-settings` and the demo write (syncd.demo.write_settings)."""
    path = tmp_path / "sandbox.toml"
    write_settings(path, f"sqlite:///{tmp_path}/m.db", [sandbox.account_entry("ho")])
    entry, auth = path.read_text(encoding="utf-8").split("[accounts.auth]")
    assert "offer_template_id = " in entry and "external_user_token = " in entry
    assert "offer_template_id" not in auth and "token" not in auth
    (account,) = load_settings(path).accounts
    options = account.options
    assert isinstance(options, HappyofferOptions)
    assert options.external_company_token is not None
    assert options.external_company_token.get_secret_value() == EXTERNAL_COMPANY_TOKEN
    assert EXTERNAL_COMPANY_TOKEN not in repr(account)


def test_happyoffer_create_with_a_wrong_company_token_is_a_laravel_422(harness):
    (request,) = harness.conn.plan_create(Entity.PROPOSALS, new_proposal(), ITEMS, "syncd-m4")
    body = {**request.json, "external_company_token": "stolen"}
    with pytest.raises(VendorRefused, match="The selected external company token is invalid"):
        harness.client.request("POST", request.path, json=body)


def test_happyoffer_update_and_delete_are_reported_unsupported(harness):
    conn = harness.conn
    assert conn.capability(Entity.PROPOSALS, Op.UPDATE) == NO_CHANGE
    assert conn.capability(Entity.LINE_ITEMS, Op.UPDATE) == NO_CHANGE
    assert NO_CHANGE == "Happyoffer's API cannot change an offer after creation"
    with pytest.raises(VendorUnsupported, match="cannot change an offer after creation"):
        conn.plan_update(Entity.PROPOSALS, "7", {"title": "New"}, {}, {}, [])
    with pytest.raises(VendorUnsupported, match="cannot change an offer after creation"):
        conn.plan_update(Entity.PROPOSALS, "7", {"status": "sent", "title": "x"}, {}, {}, [])
    with pytest.raises(VendorUnsupported, match="cannot change an offer after creation"):
        conn.plan_delete(Entity.PROPOSALS, "7", {})
    with pytest.raises(VendorUnsupported, match="cannot set status 'accepted'"):
        conn.plan_update(Entity.PROPOSALS, "7", {"status": "accepted"}, {}, {}, [])


def test_happyoffer_status_sent_is_planned_as_the_send_endpoint(harness):
    row = {"vendor_status": "Not Yet Send", "expires_at": None}
    raw = {"offers": {"attributes": {"offer_status": "Not Yet Send"}}}
    (request,) = harness.conn.plan_update(Entity.PROPOSALS, "7", {"status": "sent"}, row, raw, [])
    assert (request.method, request.path, request.kind, request.json, request.fields) == (
        "POST", "/external-offers/7/send", "send", {}, ("status",))


@pytest.mark.parametrize(("row", "raw", "reason"), [
    ({"vendor_status": "Accepted"}, {}, "accepted or rejected"),
    ({"vendor_status": "Opened"}, {"attributes": {"offer_status": "Opened",
                                                  "is_manually_rejected": True}}, "rejected"),
    ({"vendor_status": "active",
      "expires_at": datetime.now(UTC) - timedelta(days=1)}, {}, "expired on"),
])
def test_happyoffer_send_is_refused_after_a_decision_or_expiry(harness, row, raw, reason):
    with pytest.raises(VendorRefused, match=reason):
        harness.conn.plan_update(Entity.PROPOSALS, "7", {"status": "sent"}, row, raw, [])


def test_happyoffer_sandbox_refuses_to_send_decided_or_child_company_offers(harness):
    offers = harness.sandbox.collection("offers")
    own = [k for k, o in offers.items() if o["attributes"]["company_id"] == PARENT_COMPANY]
    accepted, fresh = own[0], own[1]
    offers[accepted]["attributes"]["offer_status"] = "Accepted"
    offers[fresh]["attributes"].update(offer_status="Not Yet Send", expiration_date=None,
                                       is_manually_rejected=False)
    child = next(k for k, o in offers.items() if o["attributes"]["company_id"] == CHILD_COMPANY)
    with pytest.raises(VendorRefused, match="accepted or rejected") as refused:
        harness.client.request("POST", f"/external-offers/{accepted}/send", json={})
    assert refused.value.status == 422
    with pytest.raises(VendorRefused) as forbidden:
        harness.client.request("POST", f"/external-offers/{child}/send", json={})
    assert forbidden.value.status == 403
    harness.client.request("POST", f"/external-offers/{fresh}/send", json={"cc_emails": None})
    assert offers[fresh]["attributes"]["offer_status"] == "active"
    assert harness.sandbox.sent[-1]["offer_id"] == fresh


def test_happyoffer_companies_and_contacts_have_no_write_api(harness):
    for entity in (Entity.COMPANIES, Entity.CONTACTS):
        for op in (Op.CREATE, Op.UPDATE, Op.DELETE):
            assert "only inside a new offer" in (harness.conn.capability(entity, op) or "")
