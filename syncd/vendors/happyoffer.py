"""Happyoffer (my-online-offer.com): offers joined with the external offers that made them.

Happyoffer shows one proposal through two unpaginated lists, joined by the offer id:

  * `GET /offers` -- status, totals, dates, urls of every offer of the token's company and
    its child companies: `{"data": [{"id": "1", "attributes": {"offer_status": "active",
    "total_price_once": "100.00", ...}, "relationships": {...}}]}`;
  * `GET /external-offers` -- the offers created through the API, keyed by a UUID, holding
    the integer `offer_id`, the client, the contact and `products[0].articles` (line items):
    `{"data": [{"id": "<uuid>", "attributes": {"offer_id": "1", "client_name": ...}}]}`.

Both streams emit the same proposal `remote_id` (the offer id, as text); each fills only
the canonical fields it knows and the engine merges the partial rows. Companies are keyed
by `external_client_id`, contacts by `"{external_client_id}:{email}"` (Happyoffer gives
contacts no id). Offers made in the dashboard appear only in `/offers` (no company,
contact or line items). The `relationships.client` of `/offers` is Happyoffer's own
client id, which the external list does not carry; it stays in `raw`.

Writes: create only (`POST /external-offers`, `external_id` = syncd's marker, so a lost
response is found again by scanning the list), and `POST /external-offers/{offer_id}/send`
for a local status change to `sent`. Nothing can be changed after creation.

Auth keys (`[accounts.auth]`): `token` (a static Sanctum token) and/or `email` +
`password` (exchanged at `POST /login`, again once on a 401); create also needs
`offer_template_id`, `external_user_token`, `external_company_token` and `offer_pdf_url`
(may contain `{marker}` / `{number}`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from syncd.canonical import Bundle, Entity, ProposalStatus
from syncd.errors import VendorRefused, VendorUnsupported
from syncd.http.auth import LoginTokenAuth
from syncd.http.paginators import SinglePage
from syncd.parsing import parse_datetime, parse_decimal, parse_id, parse_money
from syncd.vendors.base import (
    Connector,
    Op,
    StreamSpec,
    TokenStore,
    VendorClient,
    WriteRequest,
    register,
)

NO_CHANGE = "Happyoffer's API cannot change an offer after creation"
NO_DIRECT = "Happyoffer has no API for {what}; they are written only inside a new offer"
# Redacted from raw: they are the account's create credentials, not data about the offer.
SECRET_ATTRIBUTES = ("external_user_token", "external_company_token")

Scalar = str | int | float | None


# ---- record models -------------------------------------------------------------------------
class OfferAttributes(BaseModel):
    """`GET /offers` attributes (docs.my-online-offer.com/offers); the app reads the
    totals as `total_offer_price_*`, the docs as `total_price_*`: both are accepted."""

    model_config = ConfigDict(extra="allow")
    name: str | None = None
    offer_status: str
    is_manually_rejected: bool | None = None  # also "1"/"0" (the app's boolean strings)
    offer_number: str | int | None = None
    total_price_once: str | int | float | None = None
    total_offer_price_once: str | int | float | None = None
    expiration_date: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    deleted_at: str | None = None
    url: str | None = None


class OfferRecord(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | int
    attributes: OfferAttributes
    relationships: dict[str, Any] | None = None


class ExternalOfferAttributes(BaseModel):
    """`GET /external-offers` attributes (seed 003). `products` is stored as sent: an
    object, an array of one object (the documented shape) or a JSON string."""

    model_config = ConfigDict(extra="allow")
    offer_id: str | int | None = None
    external_id: Scalar = None
    company_id: Scalar = None
    offer_template_id: Scalar = None
    external_client_id: Scalar = None
    client_name: str | None = None
    contact_firstname: str | None = None
    contact_lastname: str | None = None
    contact_title: str | None = None
    contact_email: str | None = None
    offer_pdf_url: str | None = None
    products: dict[str, Any] | list[Any] | str | None = None
    metadata: dict[str, Any] | list[Any] | str | None = None


class ExternalOfferRecord(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str | int
    attributes: ExternalOfferAttributes


class Article(BaseModel):
    """One `products[0].articles[]` entry; `parent_article_number` makes it an alternative."""

    model_config = ConfigDict(extra="allow")
    name: str | None = None
    price: int | float | str | None = None
    amount: int | float | str | None = None
    article_number: str | int | None = None
    parent_article_number: str | int | None = None
    short_description: str | None = None


# ---- mapping -------------------------------------------------------------------------------
def products_of(value: Any) -> dict[str, Any] | None:
    """The one products object, whatever way it was stored (object, [object], JSON text)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = json.loads(value)  # bad JSON -> ValueError -> quarantine
    if isinstance(value, list):
        value = value[0] if value else None
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"products is not an object: {type(value).__name__}")
    return value


def map_offer(conn: HappyofferConnector, rec: OfferRecord, raw: dict[str, Any]) -> Bundle:
    """The offer's own fields; a manual rejection wins over the status word."""
    a = rec.attributes
    status = conn.map_status(a.offer_status)
    if a.is_manually_rejected:
        status = ProposalStatus.REJECTED
    total = a.total_price_once if a.total_price_once is not None else a.total_offer_price_once
    row: dict[str, Any] = {
        "remote_id": parse_id(rec.id), "status": status, "vendor_status": a.offer_status,
        "currency": "EUR", "raw": raw,  # Happyoffer is euro-only (totals carry no currency)
    }
    optional = {
        "title": a.name, "number": parse_id(a.offer_number), "total_net": parse_money(total),
        "created_at": parse_datetime(a.created_at), "updated_at": parse_datetime(a.updated_at),
        "expires_at": parse_datetime(a.expiration_date),
        "url": a.url.strip().strip("<>") if a.url else None,  # the docs print `<https://…>`
    }
    row.update({k: v for k, v in optional.items() if v is not None})
    return Bundle(proposals=[row])


def _line_item(proposal_id: str, position: int, article: dict[str, Any]) -> dict[str, Any]:
    art = Article.model_validate(article)
    price = parse_money(art.price)
    quantity = parse_decimal(art.amount)
    item: dict[str, Any] = {
        "remote_id": f"{proposal_id}:{position}", "proposal_remote_id": proposal_id,
        "position": position, "sku": parse_id(art.article_number), "name": art.name,
        "description": art.short_description, "quantity": quantity, "unit_price": price,
        "optional": art.parent_article_number not in (None, ""), "raw": article,
    }
    if price is not None and quantity is not None:
        item["total_net"] = price * quantity
    return item


def map_external_offer(
    conn: HappyofferConnector, rec: ExternalOfferRecord, raw: dict[str, Any]
) -> Bundle:
    """Client -> company, contact_* -> contact, products[0].articles -> line items."""
    a = rec.attributes
    proposal_id = parse_id(a.offer_id)
    if proposal_id is None:
        raise ValueError(f"external offer {rec.id!r} has no offer_id to join on")
    safe_raw = redact(raw)
    bundle = Bundle()
    proposal: dict[str, Any] = {"remote_id": proposal_id, "raw": safe_raw}
    products = products_of(a.products) or {}
    client = products.get("client") if isinstance(products.get("client"), dict) else {}
    company_id = parse_id(a.external_client_id)
    if company_id is not None:
        proposal["company_id"] = company_id
        company = {
            "remote_id": company_id, "name": a.client_name or client.get("client_name"),
            "street": client.get("client_address"), "postal_code": client.get("client_zip"),
            "city": client.get("client_city"),
        }
        company = {k: v for k, v in company.items() if v is not None}
        company["raw"] = {"external_client_id": a.external_client_id,
                          "client_name": a.client_name, "client": client or None}
        bundle.companies.append(company)
    if a.contact_email:
        contact_id = contact_remote_id(company_id, a.contact_email)
        proposal["contact_id"] = contact_id
        names = [n for n in (a.contact_firstname, a.contact_lastname) if n]
        contact = {
            "remote_id": contact_id, "company_id": company_id,
            "first_name": a.contact_firstname, "last_name": a.contact_lastname,
            "full_name": " ".join(names) or None, "email": a.contact_email,
            "title": a.contact_title,
        }
        contact = {k: v for k, v in contact.items() if v is not None}
        contact["raw"] = {k: safe_raw.get("attributes", {}).get(k) for k in (
            "contact_firstname", "contact_lastname", "contact_title", "contact_email")}
        bundle.contacts.append(contact)
    bundle.proposals.append(proposal)
    articles = products.get("articles") or []
    if not isinstance(articles, list):
        raise ValueError("products.articles is not a list")
    for index, article in enumerate(articles, start=1):
        bundle.line_items.append(_line_item(proposal_id, index, article))
    bundle.complete_line_items.add(proposal_id)
    return bundle


def contact_remote_id(company_id: str | None, email: str) -> str:
    """Happyoffer contacts have no id: the client plus the (case-folded) email is one."""
    return f"{company_id or ''}:{email.strip().lower()}"


def redact(raw: dict[str, Any]) -> dict[str, Any]:
    """The external offer without the account's create tokens (secrets stay out of the mirror)."""
    attrs = raw.get("attributes")
    if not isinstance(attrs, dict):
        return raw
    clean = {k: ("***" if k in SECRET_ATTRIBUTES and v else v) for k, v in attrs.items()}
    return {**raw, "attributes": clean}


# ---- auth ----------------------------------------------------------------------------------
def _sanctum_token(body: Any) -> Any:
    """The token of a login answer (Happyoffer app, authentication.service.ts):
    `{"data": {"attributes": {...}, "token": {"token": "12|abc..."},
    "relationships": {"company": {"id": "20", "name": "..."}}}}`."""
    return body["data"]["token"]["token"]


# ---- the connector ---------------------------------------------------------------------------
def _offer_id_of(rec: dict[str, Any]) -> str:
    """An external offer's join key; a record without one has no usable id (quarantine)."""
    offer_id = parse_id(rec["attributes"]["offer_id"])
    if offer_id is None:
        raise ValueError("external offer without offer_id")
    return offer_id


def _single_page(size: int, state: dict[str, Any] | None) -> SinglePage:
    return SinglePage(size, state)


@register
class HappyofferConnector(Connector):
    """Happyoffer: two unpaginated lists joined by offer id; create-once writes."""

    vendor = "happyoffer"
    streams = (
        StreamSpec(
            name="offers", path="/offers", paginator=_single_page, model=OfferRecord,
            map=map_offer, entity=Entity.PROPOSALS, records_path=("data",),
            deletes_missing=True,
            is_deleted=lambda rec: bool((rec.get("attributes") or {}).get("deleted_at")),
        ),
        StreamSpec(
            name="external_offers", path="/external-offers", paginator=_single_page,
            model=ExternalOfferRecord, map=map_external_offer, entity=Entity.PROPOSALS,
            records_path=("data",), deletes_missing=False,
            # keyed like the proposal it fills (quarantine, fingerprints), not by its UUID
            id_of=_offer_id_of,
        ),
    )
    # Words seen in the docs ("active") and in Happyoffer's own app (status-badge); the
    # rest are the obvious siblings. Anything else is quarantined until mapped here.
    status_map = {
        "Not Yet Send": ProposalStatus.DRAFT,
        "active": ProposalStatus.SENT,
        "Send": ProposalStatus.SENT,
        "Sent": ProposalStatus.SENT,
        "Opened": ProposalStatus.VIEWED,
        "Accepted": ProposalStatus.ACCEPTED,
        "Rejected": ProposalStatus.REJECTED,
        "Expired": ProposalStatus.EXPIRED,
    }
    status_out = {s: ("send" if s is ProposalStatus.SENT else None) for s in ProposalStatus}
    capabilities = {
        (Entity.PROPOSALS, Op.CREATE): None,
        (Entity.PROPOSALS, Op.SEND): None,
        (Entity.PROPOSALS, Op.STATUS): None,  # only `sent`, through the send endpoint
        (Entity.PROPOSALS, Op.UPDATE): NO_CHANGE,
        (Entity.PROPOSALS, Op.DELETE): NO_CHANGE,
        (Entity.LINE_ITEMS, Op.CREATE): NO_CHANGE,
        (Entity.LINE_ITEMS, Op.UPDATE): NO_CHANGE,
        (Entity.LINE_ITEMS, Op.DELETE): NO_CHANGE,
        **{(e, op): NO_DIRECT.format(what=e) for e in (Entity.COMPANIES, Entity.CONTACTS)
           for op in (Op.CREATE, Op.UPDATE, Op.DELETE)},
    }
    writable_fields = {
        Entity.PROPOSALS: frozenset({"number", "title", "company_id", "contact_id", "status"}),
        Entity.LINE_ITEMS: frozenset(
            {"position", "sku", "name", "description", "quantity", "unit_price", "optional"}),
    }

    # ---- transport ---------------------------------------------------------------------
    def auth(self, tokens: TokenStore) -> httpx.Auth | None:
        """A static Sanctum `token`, and/or `email`+`password` exchanged at `POST /login`
        (lazily, and once more after a 401)."""
        login = self.account.base_url + self.account.path("login", "/login")
        email, password = self.account.secret("email"), self.account.secret("password")
        return LoginTokenAuth(
            login, tokens, token=self.account.secret("token"),
            credentials={"email": email, "password": password} if email and password else None,
            token_from=_sanctum_token, label="happyoffer",
            missing="no `token` and no `email`+`password` in [accounts.auth]")

    def headers(self) -> dict[str, str]:
        """Without `Accept: application/json` Laravel answers errors with redirects."""
        return {"Accept": "application/json"}

    # ---- writes ------------------------------------------------------------------------
    def plan_create(
        self, entity: Entity, row: dict[str, Any], children: list[dict[str, Any]], marker: str
    ) -> list[WriteRequest]:
        """`POST /external-offers`; company and contact come from `row["company"]` /
        `row["contact"]` (the referenced rows the engine joins in), the rest from settings."""
        if entity != Entity.PROPOSALS:
            raise VendorUnsupported(self.capability(entity, Op.CREATE) or NO_CHANGE)
        company = row.get("company") or {}
        contact = row.get("contact") or {}
        # a company only in the mirror goes by syncd's own id (it is *our* client id)
        client_id = row.get("company_remote_id") or company.get("remote_id") or (
            f"syncd-{row['company_id']}" if company and row.get("company_id") else None)
        missing = [name for name, value in (
            ("company", client_id), ("company name", company.get("name")),
            ("contact first name", contact.get("first_name")),
            ("contact last name", contact.get("last_name")),
            ("contact email", contact.get("email"))) if not value]
        if missing:
            raise VendorRefused("Happyoffer needs " + ", ".join(missing) + " to create an offer")
        body: dict[str, Any] = {
            "external_id": marker,
            "offer_template_id": self._setting("offer_template_id"),
            "external_client_id": str(client_id),
            "client_name": company["name"],
            "contact_firstname": contact["first_name"],
            "contact_lastname": contact["last_name"],
            "contact_email": contact["email"],
            "offer_pdf_url": self._setting("offer_pdf_url").replace("{marker}", marker)
            .replace("{number}", str(row.get("number") or "")),
            "external_user_token": self._setting("external_user_token"),
            "external_company_token": self._setting("external_company_token"),
            "products": _products_body(row, company, contact, children),
        }
        if contact.get("title"):
            body["contact_title"] = contact["title"]
        # what the new offer holds as sent; a local status `sent` is left out on purpose, so
        # the next push plans it as the send request. "line_items" retires the local items
        # (the vendor's come back with the next pull).
        fields = ("number", "title", "company_id", "contact_id", "line_items")
        if row.get("status") in (None, ProposalStatus.DRAFT):
            fields += ("status",)
        if row.get("currency") in (None, "EUR"):
            fields += ("currency",)
        path = self.account.path("create", "/external-offers")
        return [WriteRequest("POST", path, "create", Entity.PROPOSALS, json=body, fields=fields)]

    def _setting(self, key: str) -> str:
        value = self.account.secret(key)
        if not value:
            raise VendorUnsupported(f"set `{key}` in [accounts.auth] to create Happyoffer offers")
        return value

    def plan_update(
        self, entity: Entity, remote_id: str, changes: dict[str, Any], row: dict[str, Any],
        raw: dict[str, Any], children: list[dict[str, Any]],
    ) -> list[WriteRequest]:
        """Only `status -> sent` can be planned (the send endpoint); nothing else changes."""
        if entity != Entity.PROPOSALS or set(changes) != {"status"}:
            raise VendorUnsupported(NO_CHANGE)
        if changes["status"] != ProposalStatus.SENT:
            raise VendorUnsupported(
                f"Happyoffer cannot set status {changes['status']!r}; it can only send an offer")
        self._check_sendable(row, raw)
        path = self.account.path("send", "/external-offers/{id}/send").format(id=remote_id)
        return [WriteRequest("POST", path, "send", Entity.PROPOSALS, json={}, fields=("status",))]

    def _check_sendable(self, row: dict[str, Any], raw: dict[str, Any]) -> None:
        """The vendor's send rules: never after acceptance/rejection or past expiry."""
        attrs = _offer_attributes(raw)
        word = row.get("vendor_status") or attrs.get("offer_status")
        decided = self.status_map.get(word or "") in (
            ProposalStatus.ACCEPTED, ProposalStatus.REJECTED)
        if decided or attrs.get("is_manually_rejected") in (True, 1, "1", "true"):
            raise VendorRefused(f"Happyoffer does not send an offer that is {word!r}: "
                                "accepted or rejected offers cannot be resent")
        expires = parse_datetime(row.get("expires_at") or attrs.get("expiration_date"))
        if expires is not None and expires < datetime.now(UTC):
            raise VendorRefused(
                f"Happyoffer does not send an offer that expired on {expires:%Y-%m-%d}")

    def plan_delete(
        self, entity: Entity, remote_id: str, row: dict[str, Any]
    ) -> list[WriteRequest]:
        raise VendorUnsupported(self.capability(entity, Op.DELETE) or NO_CHANGE)

    def created_id(self, entity: Entity, body: Any) -> str:
        """The proposal's remote id is the integer offer id, not the external offer's UUID."""
        try:
            offer_id = parse_id(body["data"]["attributes"]["offer_id"])
        except (KeyError, TypeError):
            offer_id = None
        if offer_id is None:
            raise VendorUnsupported("Happyoffer's create response carries no offer_id")
        return offer_id

    def find_by_marker(self, client: VendorClient, entity: Entity, marker: str) -> str | None:
        """No filter is documented: one `GET /external-offers` and a scan for `external_id`."""
        if entity != Entity.PROPOSALS:
            return None
        body = client.get_json(self.account.path("external_offers", "/external-offers"))
        for rec in (body or {}).get("data") or []:
            attrs = rec.get("attributes") or {}
            if str(attrs.get("external_id") or "") == marker:
                return parse_id(attrs.get("offer_id"))
        return None

    def fetch_one(self, client: VendorClient, entity: Entity, remote_id: str) -> Bundle | None:
        """`GET /offers/{id}` (its `data` is a one-element array), then the external list
        (no lookup by offer id exists): two requests; None when the offer is gone (404, 410
        or `deleted_at` set)."""
        if entity != Entity.PROPOSALS:
            raise VendorUnsupported(f"Happyoffer cannot fetch one {entity}")
        path = self.account.path("offer", "/offers/{id}").format(id=remote_id)
        try:
            body = client.get_json(path)
        except VendorRefused as exc:  # the client raises NotFound (a VendorRefused) on 404/410
            if exc.status in (404, 410):
                return None
            raise
        data = (body or {}).get("data")
        record = data[0] if isinstance(data, list) and data else data
        if not isinstance(record, dict):
            return None
        if (record.get("attributes") or {}).get("deleted_at"):
            return None  # soft-deleted: gone, like a 404
        bundle = map_offer(self, OfferRecord.model_validate(record), record)
        externals = client.get_json(self.account.path("external_offers", "/external-offers"))
        for rec in (externals or {}).get("data") or []:
            if parse_id((rec.get("attributes") or {}).get("offer_id")) == remote_id:
                bundle.extend(map_external_offer(
                    self, ExternalOfferRecord.model_validate(rec), rec))
        return bundle


def _offer_attributes(raw: dict[str, Any]) -> dict[str, Any]:
    """The `/offers` attributes from a proposal's raw (bare, or keyed by stream name)."""
    for candidate in (raw or {}, (raw or {}).get("offers") or {}):
        attrs = candidate.get("attributes") if isinstance(candidate, dict) else None
        if isinstance(attrs, dict) and "offer_status" in attrs:
            return attrs
    return {}


def _number(value: Any) -> int | float | None:
    """JSON number for a Decimal (the vendor takes prices as numbers, major units)."""
    if value is None:
        return None
    amount = Decimal(str(value))
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _products_body(
    row: dict[str, Any], company: dict[str, Any], contact: dict[str, Any],
    children: list[dict[str, Any]],
) -> dict[str, Any]:
    """The products object: client (mandatory), general, and the articles.

    An optional line item becomes an alternative of the nearest non-optional item before
    it (`parent_article_number`), which then needs an article number: its sku, else
    `SYNCD-{position}`.
    """
    client = {
        "client_name": company.get("name"),
        "client_address": company.get("street"),
        "client_zip": company.get("postal_code"),
        "client_city": company.get("city"),
        "client_contact_full_name": contact.get("full_name") or " ".join(
            n for n in (contact.get("first_name"), contact.get("last_name")) if n),
    }
    general = {"offer_number": row.get("number"), "offer_description": row.get("title")}
    items = sorted(children, key=lambda c: (c.get("position") is None, c.get("position") or 0))
    articles: list[dict[str, Any]] = []
    parent: dict[str, Any] | None = None
    for index, item in enumerate(items, start=1):
        article = {
            "name": item.get("name"),
            "price": _number(item.get("unit_price")),
            "amount": _number(item.get("quantity")),
            "short_description": item.get("description"),
            "order_column": item.get("position") or index,
            "article_number": item.get("sku"),
            "parent_article_number": None,
        }
        if item.get("optional") and parent is not None:
            if not parent["article_number"]:
                parent["article_number"] = f"SYNCD-{parent['order_column']}"
            article["parent_article_number"] = parent["article_number"]
        elif not item.get("optional"):
            parent = article
        articles.append(article)
    for article in articles:
        if article["article_number"] is None:
            del article["article_number"]
    return {
        "client": {k: v for k, v in client.items() if v},
        "general": {k: v for k, v in general.items() if v is not None},
        "articles": articles,
    }
