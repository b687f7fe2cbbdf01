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

Vendor drift (syncd/drift.py): a record is quarantined only when it cannot be identified
(an offer's `id`, an external offer's `offer_id`) or its structure is unusable
(`attributes` not an object; `products` neither an object, an array of one nor JSON text
of one; `articles` not a list). A status word is matched case-, space-, hyphen- and
underscore-insensitively, else kept in `vendor_status` with status NULL; totals are
decimal strings and article prices numbers, the other type coerced (and noted), an
unreadable amount NULL (never 0). Happyoffer is euro-only: there is no currency to read.
Articles carry no type: the lists of `products[0]` are the element types (PRICED_GROUPS).

Writes: create only (`POST /external-offers`, `external_id` = syncd's marker, so a lost
response is found again by scanning the list), and `POST /external-offers/{offer_id}/send`
for a local status change to `sent`. Nothing can be changed after creation.

Auth keys (`[accounts.auth]`): `token` (a static Sanctum token) and/or `email` +
`password` (exchanged at `POST /login`, again once on a 401). A create also needs the
account's `HappyofferOptions`, written in the `[[accounts]]` entry itself:
`offer_template_id`, `external_user_token`, `external_company_token` (secrets) and
`offer_pdf_url` (may contain `{marker}` / `{number}`). Files that still keep them in
`[accounts.auth]`, where they were documented before, are read there by the settings loader
(with a warning) until the entry has its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, cast

import httpx
from pydantic import (
    BeforeValidator,
    ConfigDict,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from syncd import drift
from syncd.canonical import Bundle, Entity, ProposalStatus
from syncd.drift import Date, Flag, Key, Money, MoneyText, Number, Record, RefId, Text, Word
from syncd.errors import BadRecord, TransientVendorError, VendorRefused, VendorUnsupported
from syncd.http.auth import LoginTokenAuth, TokenStore
from syncd.http.paginators import SinglePage
from syncd.netloc import check_url
from syncd.parsing import parse_datetime, parse_decimal
from syncd.vendors.base import (
    Connector,
    Op,
    StreamSpec,
    VendorClient,
    VendorOptions,
    WriteRequest,
    default_fingerprint,
)

NO_CHANGE = "Happyoffer's API cannot change an offer after creation"
NO_DIRECT = "Happyoffer has no API for {what}; they are written only inside a new offer"
# Redacted from raw: they are the account's create credentials, not data about the offer.
SECRET_ATTRIBUTES = ("external_user_token", "external_company_token")


# ---- record models -------------------------------------------------------------------------
# Strict about identity and money, tolerant about vocabulary (syncd/drift.py): only an
# offer without a usable id, or an answer whose structure is unusable (attributes not an
# object, `articles` not a list, products text that is not JSON), fails validation.
def _empty_object(value: Any) -> Any:
    """PHP encodes an empty associative array as `[]`: read it as no object at all."""
    return None if value == [] else value


def _list_or_empty(value: Any) -> Any:
    """A list that is null (or absent) holds nothing; anything else but a list fails."""
    return [] if value is None else value


def _products_list(value: Any) -> Any:
    """`products` as stored: an object, an array of one object (the documented shape) or
    that as JSON text. Only the first object is read; text that is not JSON, or a value
    that is no object at all, is an unusable structure (ValueError -> quarantine).
    """
    if isinstance(value, str):
        value = json.loads(value) if value.strip() else None  # bad JSON -> ValueError
    if value is None:
        return []
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return value[:1]
    raise ValueError(f"products is not an object: {type(value).__name__}")


class OfferAttributes(Record):
    """`GET /offers` attributes (docs.my-online-offer.com/offers); the app reads the
    totals as `total_offer_price_*`, the docs as `total_price_*`: both are accepted.
    Totals are decimal strings ("100.00"); a number is coerced and noted.
    """

    drift_known = frozenset({
        "user_id", "company_id", "is_visible", "offer_type", "language", "offer_date",
        "email_subject", "characteristic", "total_price_repeat", "total_offer_price_repeat",
        "is_allowed_to_navigate", "deleted_at", "draft_url"})  # documented, read from raw
    name: Text = None
    offer_status: Word = None
    is_manually_rejected: Flag = None  # "1"/"0" (the app's boolean strings) are coerced
    offer_number: Text = None
    total_price_once: MoneyText = None
    total_offer_price_once: MoneyText = None
    expiration_date: Date = None
    created_at: Date = None
    updated_at: Date = None
    url: Text = None


class OfferRecord(Record):
    """One `/offers` entry: the offer id is its identity; `relationships.client` is
    Happyoffer's own client id, which the external list does not carry (raw only).
    """

    drift_known = frozenset({"relationships"})
    id: Key
    attributes: OfferAttributes


class Article(Record):
    """One `products[0].articles[]` entry; `parent_article_number` makes it an alternative.
    Prices and amounts are JSON numbers (seed 003); a decimal string is coerced and noted.
    """

    drift_known = frozenset({
        "category_id", "extra_content", "3d_render", "images", "documents", "order_column",
        "long_description", "child_article_number", "alert_text", "icon"})
    name: Text = None
    price: Money = None
    amount: Number = None
    article_number: RefId = None
    parent_article_number: RefId = None
    short_description: Text = None


class Client(Record):
    """`products[0].client`: who the offer is for (the company's address)."""

    drift_known = frozenset({"client_contact_full_name"})
    client_name: Text = None
    client_address: Text = None
    client_zip: Text = None
    client_city: Text = None


class Products(Record):
    """`products[0]`. Its lists are the element types of an offer: `articles` are the
    line items; the documented others (PRICED_GROUPS / UNPRICED_GROUPS) and any list of
    objects nobody documented are read from `model_extra` by the mapping.
    """

    model_config = ConfigDict(extra="allow")
    drift_known = frozenset({"general", "categories", "article_others", "revisions",
                             "terms_and_conditions", "attachments"})
    client: Annotated[Client | None, BeforeValidator(_empty_object)] = None
    articles: Annotated[list[Article], BeforeValidator(_list_or_empty)] = []


class ExternalOfferAttributes(Record):
    """`GET /external-offers` attributes (seed 003). `offer_id` is the join key (the
    proposal's remote id): an external offer without one cannot be identified.
    """

    drift_known = frozenset({
        "external_id", "company_id", "offer_template_id", "offer_pdf_url",
        "external_user_token", "external_company_token", "metadata", "draft_url",
        "live_url", "subject_field_email_button"})
    offer_id: Key
    external_client_id: RefId = None
    client_name: Text = None
    contact_firstname: Text = None
    contact_lastname: Text = None
    contact_title: Text = None
    contact_email: Text = None
    products: Annotated[list[Products], BeforeValidator(_products_list)] = []


class ExternalOfferRecord(Record):
    """One `/external-offers` entry; its UUID `id` is not syncd's key (raw only)."""

    drift_known = frozenset({"id"})
    attributes: ExternalOfferAttributes


# ---- mapping -------------------------------------------------------------------------------
# Lists of `products[0]` and whether their elements are line items. `article_others`
# (options shown with their parent article) stay in raw unless an account lists them in
# `line_item_types`; a list of objects nobody documented counts when an element carries
# a price or an amount (drift.carries_amount), and is noted as an unmapped element type.
PRICED_GROUPS = frozenset({"articles"})
UNPRICED_GROUPS = frozenset({"article_others", "categories", "revisions", "attachments"})


def products_of(value: Any) -> dict[str, Any] | None:
    """The one products object, whatever way it was stored (object, [object], JSON text)."""
    found = _products_list(value)
    if found and not isinstance(found[0], dict):
        raise ValueError(f"products is not an object: {type(found[0]).__name__}")
    return found[0] if found else None


def map_offer(conn: HappyofferConnector, rec: OfferRecord, raw: dict[str, Any]) -> Bundle:
    """The offer's own fields; a manual rejection wins over the status word. An unknown
    status word keeps the row with status NULL and the word in `vendor_status`.
    """
    a = rec.attributes
    status = conn.map_status(a.offer_status, "attributes.offer_status")
    if a.is_manually_rejected:
        status = ProposalStatus.REJECTED
    total = a.total_price_once if a.total_price_once is not None else a.total_offer_price_once
    row: dict[str, Any] = {
        "remote_id": rec.id, "status": status, "vendor_status": a.offer_status,
        "currency": "EUR", "raw": raw,  # Happyoffer is euro-only (totals carry no currency)
    }
    optional = {
        "title": a.name, "number": a.offer_number, "total_net": total,
        "created_at": a.created_at, "updated_at": a.updated_at, "expires_at": a.expiration_date,
        "url": a.url.strip().strip("<>") if a.url else None,  # the docs print `<https://…>`
    }
    row.update({k: v for k, v in optional.items() if v is not None})
    return Bundle(proposals=[row])


def _line_item(proposal_id: str, remote_id: str, position: int, art: Article,
               article: dict[str, Any]) -> dict[str, Any]:
    """One line item from a validated article and the article as sent (its `raw`); the
    total only when price and amount were both readable (never a guessed 0).
    """
    price = art.price
    quantity = parse_decimal(art.amount)
    item: dict[str, Any] = {
        "remote_id": remote_id, "proposal_remote_id": proposal_id,
        "position": position, "sku": art.article_number, "name": art.name,
        "description": art.short_description, "quantity": quantity, "unit_price": price,
        "optional": art.parent_article_number is not None, "raw": article,
    }
    if price is not None and quantity is not None:
        item["total_net"] = price * quantity
    return item


def _validated(model: type[Article], raw: dict[str, Any], prefix: str) -> Article:
    """Validate an element the record model does not declare (another list of products),
    its drift notes under their full path (`attributes.products[].<list>[].price`).
    """
    with drift.collecting() as notes:
        found = model.model_validate(raw)
    for item in notes:
        drift.note(item.kind, f"{prefix}.{item.path}", item.value)
    return found


def _other_line_items(
    conn: HappyofferConnector, proposal_id: str, products: Products, position: int
) -> list[dict[str, Any]]:
    """Line items of the lists besides `articles`: those an account lists in
    `line_item_types`, and undocumented lists whose elements carry an amount. Keyed
    `{offer_id}:{list}:{n}` (their own numbering, so `articles` keep theirs).
    """
    items: list[dict[str, Any]] = []
    for group, elements in (products.model_extra or {}).items():
        if not isinstance(elements, list):
            continue
        known = group in UNPRICED_GROUPS
        listed = known and conn.is_priced_line(group, PRICED_GROUPS, UNPRICED_GROUPS, False,
                                               "attributes.products[]")
        for index, element in enumerate(elements, start=1):
            if not isinstance(element, dict) or (known and not listed):
                continue
            if not known and not conn.is_priced_line(
                    group, PRICED_GROUPS, UNPRICED_GROUPS,
                    drift.carries_amount(element.get("price"), element.get("amount")),
                    "attributes.products[]"):
                continue  # no amount: a heading, a text, a picture (raw only)
            position += 1
            art = _validated(Article, element, f"attributes.products[].{group}[]")
            items.append(_line_item(proposal_id, f"{proposal_id}:{group}:{index}", position,
                                    art, element))
    return items


def map_external_offer(
    conn: HappyofferConnector, rec: ExternalOfferRecord, raw: dict[str, Any]
) -> Bundle:
    """Client -> company, contact_* -> contact, products[0].articles -> line items.

    Articles have no id of their own (`article_number` is a SKU, optional and not
    unique), so a line item is keyed by its place: `{offer_id}:{n}`, as before. Every
    article can be keyed that way, so no odd value in an article takes its offer down;
    only an unusable structure does (`articles` no list, an article no object: nothing
    could be said about which items exist).
    """
    a = rec.attributes
    proposal_id = a.offer_id
    safe_raw = redact(raw)
    bundle = Bundle()
    proposal: dict[str, Any] = {"remote_id": proposal_id, "raw": safe_raw}
    products = a.products[0] if a.products else Products()
    raw_attrs = raw.get("attributes") or {}
    raw_products = products_of(raw_attrs.get("products")) if a.products else None
    raw_client = (raw_products or {}).get("client")
    client = products.client or Client()
    company_id = a.external_client_id
    if company_id is not None:
        proposal["company_id"] = company_id
        company: dict[str, Any] = {
            "remote_id": company_id, "name": a.client_name or client.client_name,
            "street": client.client_address, "postal_code": client.client_zip,
            "city": client.client_city,
        }
        company = {k: v for k, v in company.items() if v is not None}
        company["raw"] = {"external_client_id": raw_attrs.get("external_client_id"),
                          "client_name": raw_attrs.get("client_name"),
                          "client": raw_client if isinstance(raw_client, dict) and raw_client
                          else None}
        bundle.companies.append(company)
    if a.contact_email:
        contact_id = contact_remote_id(company_id, a.contact_email)
        proposal["contact_id"] = contact_id
        names = [n for n in (a.contact_firstname, a.contact_lastname) if n]
        contact: dict[str, Any] = {
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
    raw_articles = (raw_products or {}).get("articles") or []
    for index, (art, article) in enumerate(zip(products.articles, raw_articles, strict=True),
                                           start=1):
        bundle.line_items.append(
            _line_item(proposal_id, f"{proposal_id}:{index}", index, art, article))
    bundle.line_items.extend(
        _other_line_items(conn, proposal_id, products, len(products.articles)))
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
    "relationships": {"company": {"id": "20", "name": "..."}}}}`.
    """
    return body["data"]["token"]["token"]


# ---- the connector ---------------------------------------------------------------------------
_KEY = TypeAdapter(Key)


def _offer_key(rec: dict[str, Any]) -> str:
    """An offer's id by the record model's own rule (`drift.Key`): text or an integer;
    anything else raises, and the engine quarantines the record as unidentifiable.
    """
    return _KEY.validate_python(rec["id"])


def _offer_id_of(rec: dict[str, Any]) -> str:
    """An external offer's join key (`attributes.offer_id`, the offer id it made), by the
    same rule: an external offer without one cannot be identified (quarantine).
    """
    return _KEY.validate_python(rec["attributes"]["offer_id"])


def _external_fingerprint(rec: dict[str, Any]) -> str:
    """An external offer's fingerprint over what the mirror stores of it (the create
    tokens redacted): a record is unchanged exactly when its stored raw is, so `syncd
    remap` can re-read the stored raw as the record last read (and a token rotated in
    the dashboard writes nothing).
    """
    return default_fingerprint(redact(rec) if isinstance(rec, dict) else rec)


def _is_trashed(rec: dict[str, Any]) -> bool:
    """An offer the list shows soft-deleted (`deleted_at` set); a record whose attributes
    are no object is not trashed but broken (validation quarantines it).
    """
    attrs = rec.get("attributes") if isinstance(rec, dict) else None
    return isinstance(attrs, dict) and bool(attrs.get("deleted_at"))


def _single_page(size: int, state: dict[str, Any] | None) -> SinglePage:
    return SinglePage(size, state)


# ---- options ---------------------------------------------------------------------------------
def _id_text(value: Any) -> Any:
    """A template id written as a TOML number (`offer_template_id = 1234`) is that id as text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class HappyofferOptions(VendorOptions):
    """What a create sends besides the offer (`[[accounts]]` keys): each is optional, since
    reads and the send of a created offer need none; a create without one is reported
    unsupported, naming it. The two tokens are secrets (`SecretStr`: never printed).
    """

    moved_from_auth: ClassVar[frozenset[str]] = frozenset({
        "offer_template_id", "offer_pdf_url", "external_user_token", "external_company_token"})
    offer_template_id: Annotated[str | None, BeforeValidator(_id_text)] = None
    # where Happyoffer fetches the offer's PDF; `{marker}` / `{number}` are filled in
    offer_pdf_url: str | None = None
    external_user_token: SecretStr | None = None  # who creates the offers
    external_company_token: SecretStr | None = None  # for which company

    @field_validator("offer_pdf_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        """Only https (or loopback), like every URL of the settings; kept as written."""
        if value:
            check_url(value)
        return value


def _plain(value: SecretStr | str | None) -> str | None:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class HappyofferConnector(Connector):
    """Happyoffer: two unpaginated lists joined by offer id; create-once writes."""

    vendor = "happyoffer"
    display_name = "Happyoffer"
    reads_summary = "`/offers` joined with `/external-offers`"
    auth_summary = "`token`, or `email` + `password`"
    streams = (
        StreamSpec(
            name="offers", path="/offers", paginator=_single_page, model=OfferRecord,
            map=map_offer, entity=Entity.PROPOSALS, records_path=("data",),
            deletes_missing=True, id_of=_offer_key, is_deleted=_is_trashed,
        ),
        StreamSpec(
            name="external_offers", path="/external-offers", paginator=_single_page,
            model=ExternalOfferRecord, map=map_external_offer, entity=Entity.PROPOSALS,
            records_path=("data",), deletes_missing=False,
            # keyed like the proposal it fills (quarantine, fingerprints), not by its UUID
            id_of=_offer_id_of, fingerprint=_external_fingerprint,
        ),
    )
    # Words seen in the docs ("active") and in Happyoffer's own app (status-badge); the
    # rest are the obvious siblings. Matched case-, space-, hyphen- and underscore-
    # insensitively ("NOT_YET_SEND"); any other word keeps the offer with status NULL and
    # the word in `vendor_status`, noted as unmapped (an account `status_map` maps it).
    status_map = {
        "Not Yet Send": ProposalStatus.DRAFT,
        "Not Yet Sent": ProposalStatus.DRAFT,
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
    options_model = HappyofferOptions
    writable_fields = {
        Entity.PROPOSALS: frozenset({"number", "title", "company_id", "contact_id", "status"}),
        Entity.LINE_ITEMS: frozenset(
            {"position", "sku", "name", "description", "quantity", "unit_price", "optional"}),
    }

    # ---- transport ---------------------------------------------------------------------
    def auth(self, tokens: TokenStore) -> httpx.Auth | None:
        """A static Sanctum `token`, and/or `email`+`password` exchanged at `POST /login`
        (lazily, and once more after a 401).
        """
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
    def create_requests(
        self, entity: Entity, row: dict[str, Any], children: list[dict[str, Any]], marker: str
    ) -> list[WriteRequest]:
        """`POST /external-offers`; company and contact come from `row["company"]` /
        `row["contact"]` (the referenced rows the engine joins in), the rest from settings.
        Only offers get here (the matrix refuses the rest).
        """
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
        keys = self._create_keys()
        body: dict[str, Any] = {
            "external_id": marker,
            "offer_template_id": keys["offer_template_id"],
            "external_client_id": str(client_id),
            "client_name": company["name"],
            "contact_firstname": contact["first_name"],
            "contact_lastname": contact["last_name"],
            "contact_email": contact["email"],
            "offer_pdf_url": keys["offer_pdf_url"].replace("{marker}", marker)
            .replace("{number}", str(row.get("number") or "")),
            "external_user_token": keys["external_user_token"],
            "external_company_token": keys["external_company_token"],
            "products": _products_body(row, company, contact, children),
        }
        if contact.get("title"):
            body["contact_title"] = contact["title"]
        # what the new offer holds as sent; a local status `sent` is left out on purpose, so
        # the next push plans it as the send request. "line_items" retires the local items
        # (the vendor's come back with the next pull).
        fields: tuple[str, ...] = ("number", "title", "company_id", "contact_id", "line_items")
        if row.get("status") in (None, ProposalStatus.DRAFT):
            fields += ("status",)
        if row.get("currency") in (None, "EUR"):
            fields += ("currency",)
        path = self.account.path("create", "/external-offers")
        return [WriteRequest("POST", path, "create", Entity.PROPOSALS, json=body, fields=fields)]

    def _create_keys(self) -> dict[str, str]:
        """The account's create options as plain text, or unsupported naming the first one
        missing (an empty value counts as missing) and where it goes.
        """
        options = cast(HappyofferOptions, self.account.options)
        keys = {name: _plain(getattr(options, name)) for name in (
            "offer_template_id", "offer_pdf_url", "external_user_token", "external_company_token")}
        for name, value in keys.items():
            if not value:
                # "[[accounts]]" in full: a bare "[accounts.x]" reads as console markup and
                # vanished from the push summary
                raise VendorUnsupported(f"set `{name}` in [[accounts]] {self.account.name} "
                                        "(the entry itself) to create Happyoffer offers")
        return cast(dict[str, str], keys)

    def update_requests(
        self, entity: Entity, remote_id: str, changes: dict[str, Any], row: dict[str, Any],
        raw: dict[str, Any], children: list[dict[str, Any]],
    ) -> list[WriteRequest]:
        """Only `status -> sent` can be planned (the send endpoint); the matrix lets only an
        offer's status change through (`UPDATE` says NO_CHANGE, `STATUS` is supported).
        """
        if changes["status"] != ProposalStatus.SENT:
            raise VendorUnsupported(
                f"Happyoffer cannot set status {changes['status']!r}; it can only send an offer")
        self._check_sendable(row, raw)
        path = self.account.path("send", "/external-offers/{id}/send").format(id=remote_id)
        return [WriteRequest("POST", path, "send", Entity.PROPOSALS, json={}, fields=("status",))]

    def _check_sendable(self, row: dict[str, Any], raw: dict[str, Any]) -> None:
        """The vendor's send rules: never after acceptance/rejection or past expiry. The
        stored offer is read with the tolerant record model (a flag as "1", any date
        spelling) and its word with the account's status table, as a pull reads them.
        """
        attrs = OfferAttributes.model_validate(_offer_attributes(raw))
        word = row.get("vendor_status") or attrs.offer_status
        decided = self.map_status(word) in (ProposalStatus.ACCEPTED, ProposalStatus.REJECTED)
        if decided or attrs.is_manually_rejected:
            raise VendorRefused(f"Happyoffer does not send an offer that is {word!r}: "
                                "accepted or rejected offers cannot be resent")
        expires = (parse_datetime(row["expires_at"]) if row.get("expires_at")
                   else attrs.expiration_date)
        if expires is not None and expires < datetime.now(UTC):
            raise VendorRefused(
                f"Happyoffer does not send an offer that expired on {expires:%Y-%m-%d}")

    def created_id(self, entity: Entity, body: Any) -> str:
        """The proposal's remote id is the integer offer id, not the external offer's UUID
        (as text or a number: the pull's own rule, so the row joins what the pull reads).
        """
        try:
            return _offer_id_of(body["data"])
        except (KeyError, TypeError, ValueError) as exc:
            raise VendorUnsupported("Happyoffer's create response carries no offer_id") from exc

    def marker_of(self, entity: Entity, raw: Any) -> str | None:
        """An external offer's `external_id` (the /offers stream carries none)."""
        if entity != Entity.PROPOSALS or not isinstance(raw, dict):
            return None
        attrs = raw.get("attributes")
        value = attrs.get("external_id") if isinstance(attrs, dict) else None
        return str(value) if value not in (None, "") else None

    def find_by_marker(self, client: VendorClient, entity: Entity, marker: str) -> str | None:
        """No filter is documented: one `GET /external-offers` and a scan for `external_id`."""
        if entity != Entity.PROPOSALS:
            return None
        body = client.get_json(self.account.path("external_offers", "/external-offers"))
        listed = body.get("data") if isinstance(body, dict) else None
        for rec in listed if isinstance(listed, list) else []:
            attrs = rec.get("attributes") if isinstance(rec, dict) else None
            if isinstance(attrs, dict) and str(attrs.get("external_id") or "") == marker:
                try:
                    return _offer_id_of(rec)
                except ValueError as exc:  # ours, so never created twice: try again later
                    raise TransientVendorError(
                        f"Happyoffer lists external offer {marker!r} without an offer_id "
                        "yet") from exc
        return None

    def fetch_one(self, client: VendorClient, entity: Entity, remote_id: str) -> Bundle | None:
        """`GET /offers/{id}` (its `data` is a one-element array), then the external list
        (no lookup by offer id exists): two requests; None when the offer is gone (404, 410
        or `deleted_at` set).
        """
        if entity != Entity.PROPOSALS:
            raise VendorUnsupported(f"Happyoffer cannot fetch one {entity}")
        body = client.get_one(self.account.path("offer", "/offers/{id}").format(id=remote_id))
        if body is None:
            return None
        data = body.get("data") if isinstance(body, dict) else None
        record = data[0] if isinstance(data, list) and data else data
        if not isinstance(record, dict):
            return None
        if _is_trashed(record):
            return None  # soft-deleted: gone, like a 404
        bundle = self._mapped(OfferRecord, map_offer, record, remote_id)
        externals = client.get_json(self.account.path("external_offers", "/external-offers"))
        listed = externals.get("data") if isinstance(externals, dict) else None
        for rec in listed if isinstance(listed, list) else []:
            try:
                joined = isinstance(rec, dict) and _offer_id_of(rec) == remote_id
            except (KeyError, TypeError, ValueError):
                joined = False  # not this offer's (nor anyone's: the pull quarantines it)
            if joined:
                bundle.extend(self._mapped(ExternalOfferRecord, map_external_offer, rec,
                                           remote_id))
        return bundle

    def _mapped(self, model: type[Record], mapper: Callable[[Any, Any, dict[str, Any]], Bundle],
                record: dict[str, Any], remote_id: str) -> Bundle:
        """Validate and map one fetched record like a pull does (its drift notes go to
        the caller's collector, unknown fields included); what a pull would quarantine
        is a BadRecord here (the caller logs it and goes on).
        """
        try:
            bundle = mapper(self, model.model_validate(record), record)
            drift.unknown_fields(model, record)
            return bundle
        except (ValidationError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BadRecord(f"happyoffer offer {remote_id}: {exc}", record) from exc


def _offer_attributes(raw: dict[str, Any]) -> dict[str, Any]:
    """The `/offers` attributes from a proposal's raw (keyed by stream name, or bare);
    an external offer's attributes (they hold `offer_id`) are not the offer's.
    """
    raw = raw if isinstance(raw, dict) else {}
    for candidate in (raw.get("offers"), raw):
        attrs = candidate.get("attributes") if isinstance(candidate, dict) else None
        if isinstance(attrs, dict) and "offer_id" not in attrs:
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
