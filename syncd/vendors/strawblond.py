"""StrawBlond (now "Blond") offers: a Laravel API read through one list with includes.

What this connector declares (vendors.md section 2 and its "Project decisions"):

* Auth: `Authorization: Bearer <api_key>` plus a mandatory `Accept: application/json`; a
  request without that Accept header is treated by Laravel as a browser and answered with a
  302 to `/login` instead of JSON.
* One list does all the reading: `GET /offer?include=elements,contact,company&per_page=50
  &sort=-created_at` (Laravel `{data, links, meta}` pages, at most 50 per page; larger
  `per_page` values are silently clamped to 50). Contacts, companies and line items come
  embedded in each offer, so no per-offer detail request is ever made.
* Deletions: offers are soft-deleted; a full sweep (and the backfill) also lists
  `filter[trashed]=true` and marks the offers carrying `deleted_at` as deleted. Contacts
  and companies are seen only inside offers, so a deleted offer never deletes them.
* One scan where one is enough: the seed's "Include soft-deleted offers" can mean the
  trashed list holds the live offers too. Which reading an account's API follows is
  learned from its answers, never configured: a sweep reads the trashed list *first*
  (`covers="offers"`, syncd/engine/covering.py). When that complete scan lists more live
  offers (`deleted_at` null or absent) than trashed ones, it held every offer: the plain
  list is not read in that sweep, and an offer missing from the trashed list is deleted
  (through the `max_delete_fraction` guard). When it lists only or mostly trashed offers
  (a vendor leaving out a few trashed offers' `deleted_at` included), the plain list is
  read after it, as before, and only it proves offers gone by their absence. So the
  first backfill learns the reading at no extra request (the trashed list had to be read
  anyway), and each later sweep checks it again: a list that showed live offers once and
  only trashed ones later (conflicting evidence) gets both scans again at once. The
  verdict is kept in the `offers_trashed` stream state, so a sweep resumed in a new
  process decides alike. Incremental pulls read only the plain list (cheaper: no
  trashed offers in it).
* Formats: float totals → Decimal via their shortest repr (5640.0 → Decimal("5640.0")),
  `...T08:51:59.000000Z` → aware UTC; total_tax = total_with_vat − total. The offer's
  signed `*_url` fields expire (their query changes on every request): they stay in raw,
  are left out of the list fingerprint, and no canonical `url` is set.
* Status: StrawBlond has no status field on the object; the word is derived from the flags,
  the same four words its `filter[status]` accepts:

      vendor word  flags                                   canonical
      draft        not locked, not approved/rejected       draft
      pending      is_locked (sent/finalised), undecided   sent
      approved     is_approved                             accepted
      rejected     is_rejected                             rejected

  A flag that is missing or unreadable is read from its timestamp (`approved_at`...).
  An answer that does carry a `status` word (another build of the API) is taken at its
  word, matched like every enum word (case, spaces, hyphens, underscores ignored); a word
  nobody listed keeps the offer with status NULL, the word in `vendor_status`, and a drift
  note (an account's `status_map` maps it). Flags both approved and rejected give no
  status (noted) instead of a guess.
* Line items: document elements of type `paragraph` and `product` (priced positions) and
  `percentage` (a surcharge/discount row that changes the total) become line items;
  `heading`, `subtotal` and `text` are layout rows and stay only in the proposal's raw
  JSON. A type nobody listed (noted) is a line item when it carries a quantity or an
  `amount` (the unit price; `total` does not count, the vendor computes it for subtotal
  rows too), as are the account's `line_item_types`. `position` is the element's own
  `order` number (layout rows leave gaps).
* Drift (syncd/drift.py): only an offer without a usable id, or whose `elements` is not a
  list or `contact`/`company` not an object, is quarantined. Numbers as strings and money
  as strings are coerced (noted), an unreadable amount is NULL (noted), never 0. Line
  items keep the element's own hash id as remote id: an element with no usable id (or
  not an object) is kept in raw only and the offer's item set is then not complete, so
  no mirrored item is deleted for it. A contact or company without a usable id is left
  out and the offer's link to it left as the mirror has it. An unknown discount type
  gives no discount (noted).
* Writes: create `POST /offer` (the marker goes to custom field `syncd_ref`), update
  `PATCH /offer/{id}` with only the changed fields, status via `approved_at`/`rejected_at`/
  `locked_at`, sending via `POST /offer/{id}/send`, line items via `/document_element`
  (their marker sits in the element's `remark`). Approved/rejected offers are locked and
  refuse every edit; pending (sent) offers refuse content edits unless unlocked in the
  same request; `plan_update` raises `VendorRefused` for those without spending a request.
* Paths, overridable in `[accounts.paths]`: `offers` (/offer: list and create),
  `offers_trashed`, `offer` (/offer/{id}), `send_offer` (/offer/{id}/send),
  `document_elements` (/document_element), `document_element` (/document_element/{id}),
  `webhooks` (/webhook).
* Webhooks: signed with hex HMAC-SHA256 of the raw body in `X-StrawBlond-Webhook-Signature`;
  the secret is generated by StrawBlond when the subscription is created (response field
  `secret`, read with `webhook_secret_from`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, TypeVar

import httpx
from pydantic import BeforeValidator, ValidationError

from syncd import drift
from syncd.canonical import Bundle, Entity, ProposalStatus
from syncd.drift import Date, Flag, Integer, Key, Money, Number, Record, RefId, Text, Word
from syncd.errors import (
    SettingsError,
    VendorError,
    VendorRefused,
    VendorUnsupported,
)
from syncd.http.auth import BearerAuth, TokenStore
from syncd.http.paginators import laravel_paginator
from syncd.parsing import parse_decimal, strip_html
from syncd.vendors.base import (
    Connector,
    OneRecord,
    Op,
    StreamSpec,
    Subscription,
    VendorClient,
    WebhookHint,
    WriteRequest,
    default_fingerprint,
)

OFFER_DOCUMENT_TYPE = "Modules\\Salesforce\\Offer"
INCLUDES = "elements,contact,company"
MARKER_FIELD = "syncd_ref"
REMARK_MARKER = "syncd_ref:"
SIGNATURE_HEADER = "x-strawblond-webhook-signature"

# Element types: priced rows become line items, layout rows stay in the offer's raw JSON.
LINE_ITEM_TYPES = frozenset({"paragraph", "product", "percentage"})
LAYOUT_TYPES = frozenset({"heading", "subtotal", "text"})
_READ_ONLY = "syncd mirrors StrawBlond contacts and companies read-only (they come inside offers)"


# ---- record models -----------------------------------------------------------------------
# Strict about identity and money, tolerant about vocabulary (syncd/drift.py): only an
# offer without a usable id, or whose `elements`/`contact`/`company` is not a list/object,
# fails validation (and is quarantined). Every other odd value degrades and is noted.
class StrawBlondCompany(Record):
    """A company as `include=company` embeds it. Its id is a reference here: a company
    syncd cannot identify is left out of the bundle (noted), never the offer.
    """

    drift_known: ClassVar[frozenset[str]] = frozenset({"deleted_at", "media"})
    id: RefId = None
    name: Text = None
    email: Text = None
    phone: Text = None
    website: Text = None
    vat_number: Text = None
    street: Text = None
    zip: Text = None
    city: Text = None
    country: Text = None
    created_at: Date = None
    updated_at: Date = None


class StrawBlondContact(Record):
    """A contact as `include=contact` embeds it (SDK: firstname/lastname/email); like the
    company, one syncd cannot identify is left out (noted), never the offer.
    """

    drift_known: ClassVar[frozenset[str]] = frozenset(
        {"salutation", "deleted_at", "company", "media"})
    id: RefId = None
    company_id: RefId = None
    firstname: Text = None
    lastname: Text = None
    email: Text = None
    phone: Text = None
    mobile: Text = None
    title: Text = None
    created_at: Date = None
    updated_at: Date = None


class StrawBlondElement(Record):
    """A document element (line item or layout row) as `include=elements` embeds it.

    `type` is a word (`line_item_kind` interprets it), `amount` is the unit price of a
    priced row and the percent of a `percentage` row; `total` is computed by the vendor.
    """

    drift_known: ClassVar[frozenset[str]] = frozenset({
        "document_type", "document_id", "remark", "unit", "vat_rate_id", "tag_id", "tag",
        "product_id", "product", "is_external", "is_excluded_from_budget", "page_break",
        "revenue_account_no", "created_at", "updated_at"})
    id: RefId = None
    type: Word = None
    order: Integer = None
    name: Text = None
    description: Text = None
    quantity: Number = None
    amount: Money = None
    total: Money = None
    vat_rate: Number = None
    discount_type: Word = None
    discount_value: Number = None
    is_optional: Flag = False


def _objects_or_none(value: Any) -> Any:
    """An element that is not an object cannot be identified: it becomes None (noted), so
    the offer and its other elements survive; a non-list is left to fail validation.
    """
    if type(value) is not list:
        return value
    for item in value:
        if type(item) is not dict:
            break
    else:
        return value  # the common case: one pass, no copy
    for item in value:
        if not isinstance(item, dict):
            drift.note(drift.DriftKind.UNPARSEABLE_VALUE, "elements[]", item)
    return [item if isinstance(item, dict) else None for item in value]


Elements = Annotated[list[StrawBlondElement | None] | None, BeforeValidator(_objects_or_none)]


class StrawBlondOffer(Record):
    """One offer (seed 001 "Retrieve an offer"); relations only when included.

    The documented object has no status field: the word is derived from the flags (or,
    when a flag is missing, from its timestamp). An answer that does carry a `status` word
    is taken at its word (mapped tolerantly). Documented keys syncd does not map are in
    `drift_known` (raw keeps them), so only keys nobody documented count as unknown.
    """

    drift_known: ClassVar[frozenset[str]] = frozenset({
        "description", "address", "header", "footer", "has_page_break_after_header",
        "has_page_break_before_footer", "address_personalized", "header_personalized",
        "footer_personalized", "project", "project_id", "contact_id", "company_id", "member",
        "created_by", "updated_by", "total_optional", "vat_detailed", "show_vat", "pdf_url",
        "order_confirmation_pdf_url", "preview_url", "approve_url", "reject_url", "share_url",
        "mail_preview_url", "show_terms", "show_signature", "activities", "sourced_invoices",
        "billable_total", "billed_total", "comments", "attachments", "custom_fields",
        "deleted_at"})
    id: Key
    number: Text = None
    name: Text = None
    status: Word = None
    approved_at: Date = None
    rejected_at: Date = None
    locked_at: Date = None
    is_approved: Flag = None
    is_rejected: Flag = None
    is_locked: Flag = None
    total: Money = None
    total_with_vat: Money = None
    elements: Elements = None
    contact: StrawBlondContact | None = None
    company: StrawBlondCompany | None = None
    created_at: Date = None
    updated_at: Date = None


class _OfferFlags(Record):
    """Just what decides an offer's lock state (push planning reads it from raw)."""

    approved_at: Date = None
    rejected_at: Date = None
    locked_at: Date = None
    is_approved: Flag = None
    is_rejected: Flag = None
    is_locked: Flag = None


# ---- mapping -----------------------------------------------------------------------------
_DISCOUNT_TYPES = drift.word_table({"percentage": "percentage", "amount": "amount"})
_BOTH_DECIDED = "approved_and_rejected"


def _set(flag: bool | None, when: datetime | None) -> bool:
    """A lifecycle flag, or (missing / unreadable) whether its timestamp is set."""
    return flag if flag is not None else when is not None


def flags_word(offer: StrawBlondOffer | _OfferFlags) -> str:
    """The `filter[status]` word an offer's flags amount to; `approved_and_rejected` for
    the contradiction no offer should show (it maps to no status).
    """
    approved = _set(offer.is_approved, offer.approved_at)
    rejected = _set(offer.is_rejected, offer.rejected_at)
    if approved and rejected:
        return _BOTH_DECIDED
    if approved:
        return "approved"
    if rejected:
        return "rejected"
    return "pending" if _set(offer.is_locked, offer.locked_at) else "draft"


def offer_vendor_status(offer: StrawBlondOffer) -> tuple[str | None, str]:
    """(vendor word, field path it came from): an explicit `status` word if the answer has
    one, else the word of the flags. Contradictory flags give no word (noted).
    """
    if offer.status is not None and offer.status.strip():
        return offer.status, "status"
    word = flags_word(offer)
    if word == _BOTH_DECIDED:
        drift.note(drift.DriftKind.UNPARSEABLE_VALUE, "is_approved",
                   "is_approved and is_rejected")
        return None, "is_approved"
    return word, "status"


def _company_row(company: StrawBlondCompany, raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "remote_id": company.id,
        "name": company.name,
        "email": company.email,
        "phone": company.phone,
        "website": company.website,
        "vat_number": company.vat_number,
        "street": company.street,
        "postal_code": company.zip,
        "city": company.city,
        "country": company.country,
        "created_at": company.created_at,
        "updated_at": company.updated_at,
        "raw": raw,
    }


def _contact_row(contact: StrawBlondContact, raw: dict[str, Any]) -> dict[str, Any]:
    full = " ".join(p for p in (contact.firstname, contact.lastname) if p) or None
    return {
        "remote_id": contact.id,
        "company_id": contact.company_id,
        "first_name": contact.firstname,
        "last_name": contact.lastname,
        "full_name": full,
        "email": contact.email,
        "phone": contact.phone,
        "mobile": contact.mobile,
        "title": contact.title,
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
        "raw": raw,
    }


def _discount(element: StrawBlondElement) -> Decimal | None:
    """The element's discount as money (percent discounts are converted); None when the
    discount type is a word nobody listed (noted) or a needed number is missing.
    """
    value = parse_decimal(element.discount_value)
    if element.discount_type is None or value is None:
        return None
    kind = drift.lookup(_DISCOUNT_TYPES, element.discount_type, "elements[].discount_type")
    if kind == "amount":
        return value
    quantity, price = parse_decimal(element.quantity), element.amount
    if kind is None or quantity is None or price is None:
        return None
    return (quantity * price * value / 100).quantize(Decimal("0.01"))


def _line_item_row(
    offer_id: str, element: StrawBlondElement, raw: dict[str, Any]
) -> dict[str, Any]:
    # a percentage row's `amount` is a percent, not a price: no quantity, no unit price
    priced = drift.normalize_word(element.type or "") != "percentage"
    product = raw.get("product") if isinstance(raw.get("product"), dict) else None
    sku = product.get("number") if product else None
    return {
        "remote_id": element.id,
        "proposal_remote_id": offer_id,
        "position": element.order,
        "sku": str(sku) if isinstance(sku, str | int) and not isinstance(sku, bool) else None,
        "name": element.name,
        "description": strip_html(element.description),
        "quantity": parse_decimal(element.quantity) if priced else None,
        "unit_price": element.amount if priced else None,
        "discount": _discount(element) if priced else None,
        "tax_rate": parse_decimal(element.vat_rate),
        "total_net": element.total,
        "optional": element.is_optional,
        "raw": raw,
    }


def is_line_item(connector: Connector, element: StrawBlondElement) -> bool:
    """Priced types (and the account's `line_item_types`) are line items, layout types are
    not; a type nobody listed (noted) is one when it carries a quantity or a unit price.
    `total` does not count: the vendor computes it for subtotal rows too.
    """
    kind = element.type
    if kind in LINE_ITEM_TYPES:  # the common case, without normalising
        return True
    if kind in LAYOUT_TYPES and not connector.account.line_item_types:
        return False
    carries = drift.carries_amount(element.quantity, element.amount)
    if kind is None or not kind.strip():
        return carries  # no type at all: nothing to map or note, the numbers decide
    return connector.is_priced_line(kind, LINE_ITEM_TYPES, LAYOUT_TYPES, carries,
                                    "elements[].type")


def map_offer(
    connector: StrawBlondConnector, offer: StrawBlondOffer, raw: dict[str, Any]
) -> Bundle:
    """One offer → its proposal, contact, company and priced elements as line items."""
    bundle = Bundle()
    vendor_status, path = offer_vendor_status(offer)
    total, gross = offer.total, offer.total_with_vat
    proposal: dict[str, Any] = {
        "remote_id": offer.id,
        "number": offer.number,
        "title": offer.name,
        "status": connector.map_status(vendor_status, path) if vendor_status else None,
        "vendor_status": vendor_status,
        "total_net": total,
        "total_tax": gross - total if gross is not None and total is not None else None,
        "total_gross": gross,
        "created_at": offer.created_at,
        "updated_at": offer.updated_at,
        # locked_at is when the offer was finalised (sent); no separate sent date exists
        "sent_at": offer.locked_at,
        "decided_at": offer.approved_at or offer.rejected_at,
        "raw": raw,
    }
    if "company" in raw:
        company = _identified(offer.company, raw["company"], "company.id")
        if company is not False:
            proposal["company_id"] = company.id if company else None
        if company:
            bundle.companies.append(_company_row(company, raw["company"]))
    if "contact" in raw:
        contact = _identified(offer.contact, raw["contact"], "contact.id")
        if contact is not False:
            proposal["contact_id"] = contact.id if contact else None
        if contact:
            bundle.contacts.append(_contact_row(contact, raw["contact"]))
    bundle.proposals.append(proposal)
    if offer.elements is not None:
        complete = True
        for element, element_raw in zip(offer.elements, raw["elements"], strict=True):
            if element is None:
                complete = False  # not an object: whether it was a line item is unknown
            elif is_line_item(connector, element):
                if element.id is None:
                    drift.note(drift.DriftKind.UNPARSEABLE_VALUE, "elements[].id",
                               element_raw.get("id"))
                    complete = False  # kept in raw only; the mirror's items stay
                else:
                    bundle.line_items.append(_line_item_row(offer.id, element, element_raw))
        if complete:
            bundle.complete_line_items.add(offer.id)
    return bundle


_Related = TypeVar("_Related", StrawBlondContact, StrawBlondCompany)


def _identified(model: _Related | None, raw: Any, path: str) -> _Related | Literal[False] | None:
    """The embedded contact/company; False when it is there but has no usable id (noted):
    the proposal's link is then left as the mirror has it.
    """
    if model is None or model.id is not None:
        return model
    drift.note(drift.DriftKind.UNPARSEABLE_VALUE, path, raw.get("id"))
    return False


def offer_fingerprint(raw: dict[str, Any]) -> str:
    """Hash without the signed `*_url` fields: their `expires`/`signature` change on every
    request, and would otherwise make every offer look changed on every pull.
    """
    return default_fingerprint({k: v for k, v in raw.items() if not k.endswith("_url")})


def _is_trashed(raw: dict[str, Any]) -> bool:
    return raw.get("deleted_at") is not None


def _iso_now() -> str:
    return datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _number(value: Any) -> float | None:
    """Decimal → JSON number (StrawBlond takes floats); None stays None."""
    return None if value is None else float(value)


class StrawBlondConnector(Connector):
    """StrawBlond offers, contacts, companies and document elements."""

    vendor = "strawblond"
    display_name = "StrawBlond"
    reads_summary = (
        "offers with `include=elements,contact,company`, 50 per page; `filter[trashed]` "
        "in sweeps (alone when it lists live offers too)")
    auth_summary = "`api_key` (Bearer)"
    secret_headers = frozenset({SIGNATURE_HEADER})
    streams = (
        StreamSpec(
            name="offers",
            path="/offer",
            paginator=laravel_paginator,
            model=StrawBlondOffer,
            map=map_offer,
            entity=Entity.PROPOSALS,
            page_size=50,
            records_path=("data",),
            params={"include": INCLUDES, "sort": "-created_at"},
            fingerprint=offer_fingerprint,
            # `GET /offer/{id}` with the list's includes; a soft-deleted offer answers 404
            one=OneRecord("/offer/{id}", name="offer", params={"include": INCLUDES}),
        ),
        StreamSpec(
            name="offers_trashed",
            path="/offer",
            paginator=laravel_paginator,
            model=StrawBlondOffer,
            map=map_offer,
            entity=Entity.PROPOSALS,
            page_size=50,
            records_path=("data",),
            params={"include": INCLUDES, "sort": "-created_at", "filter[trashed]": "true"},
            fingerprint=offer_fingerprint,
            deletes_missing=False,
            is_deleted=_is_trashed,
            sweep_only=True,
            # some accounts list live offers here too: then this one scan is the sweep
            covers="offers",
        ),
    )
    status_map: ClassVar[Mapping[str, ProposalStatus]] = {
        "draft": ProposalStatus.DRAFT,
        "pending": ProposalStatus.SENT,
        "approved": ProposalStatus.ACCEPTED,
        "rejected": ProposalStatus.REJECTED,
    }
    status_out: ClassVar[Mapping[ProposalStatus, str | None]] = {
        ProposalStatus.DRAFT: "draft",  # PATCH locked_at=null (only while undecided)
        ProposalStatus.SENT: "pending",  # POST /offer/{id}/send
        ProposalStatus.ACCEPTED: "approved",  # PATCH approved_at=now
        ProposalStatus.REJECTED: "rejected",  # PATCH rejected_at=now
        ProposalStatus.VIEWED: None,
        ProposalStatus.EXPIRED: None,
        ProposalStatus.CANCELED: None,
        ProposalStatus.ORDERED: None,
    }
    capabilities: ClassVar[Mapping[tuple[Entity, Op], str | None]] = {
        (Entity.PROPOSALS, Op.CREATE): None,
        (Entity.PROPOSALS, Op.UPDATE): None,
        (Entity.PROPOSALS, Op.DELETE): None,
        (Entity.PROPOSALS, Op.STATUS): None,
        (Entity.PROPOSALS, Op.SEND): None,
        (Entity.LINE_ITEMS, Op.CREATE): None,
        (Entity.LINE_ITEMS, Op.UPDATE): None,
        (Entity.LINE_ITEMS, Op.DELETE): None,
        **{(e, op): _READ_ONLY for e in (Entity.COMPANIES, Entity.CONTACTS) for op in Op},
    }
    writable_fields: ClassVar[Mapping[Entity, frozenset[str]]] = {
        Entity.PROPOSALS: frozenset({"title", "contact_id", "status"}),
        Entity.LINE_ITEMS: frozenset({"name", "description", "quantity", "unit_price", "optional"}),
        Entity.COMPANIES: frozenset(),
        Entity.CONTACTS: frozenset(),
    }

    # ---- transport -----------------------------------------------------------------------
    def auth(self, tokens: TokenStore) -> httpx.Auth | None:
        """StrawBlond takes a personal API key as a bearer token."""
        key = self.account.secret("api_key")
        if not key:
            raise SettingsError(f"accounts[{self.account.name}].auth.api_key", "is required")
        return BearerAuth(key)  # the personal API key

    def headers(self) -> dict[str, str]:
        """Without `Accept: application/json` StrawBlond answers like to a browser (302)."""
        return {"Accept": "application/json"}

    # ---- paths (each overridable in [accounts.paths]) ---------------------------------------
    def _offer_path(self, remote_id: str, op: str = "offer", suffix: str = "") -> str:
        return self.account.path(op, "/offer/{id}" + suffix).format(id=remote_id)

    def _element_path(self, remote_id: str | None = None) -> str:
        if remote_id is None:
            return self.account.path("document_elements", "/document_element")
        return self.account.path("document_element", "/document_element/{id}").format(id=remote_id)

    # ---- writes --------------------------------------------------------------------------
    def create_requests(
        self, entity: Entity, row: dict[str, Any], children: list[dict[str, Any]], marker: str
    ) -> list[WriteRequest]:
        """Offers: `POST /offer` tagged with `custom_fields.syncd_ref`; line items (created
        once the offer has its remote id): `POST /document_element` tagged in `remark`.
        """
        if entity == Entity.PROPOSALS:
            return [self._create_offer(row, marker)]
        return [self._create_element(row, marker)]  # the matrix allows no other entity

    def _create_offer(self, row: dict[str, Any], marker: str) -> WriteRequest:
        contact = row.get("contact_remote_id")
        if not contact:
            raise VendorRefused("StrawBlond requires a contact for every offer (contact_id)")
        body: dict[str, Any] = {"contact_id": contact, "custom_fields": {MARKER_FIELD: marker}}
        fields = ["contact_id"]
        company = row.get("company_id")
        if company is not None and company == (row.get("contact") or {}).get("company_id"):
            fields.append("company_id")  # StrawBlond files the offer under its contact's company
        if row.get("title") is not None:
            body["name"] = row["title"]
            fields.append("title")
        status = row.get("status")
        if status in (None, ProposalStatus.DRAFT):
            fields.append("status")
        elif status == ProposalStatus.ACCEPTED:
            body["approved_at"] = _iso_now()
            fields.append("status")
        # other statuses are not carried: the next push sends them as a status change
        path = self.account.path("offers", "/offer")
        return WriteRequest(
            "POST", path, "create", Entity.PROPOSALS, json=body, fields=tuple(fields)
        )

    def _create_element(self, row: dict[str, Any], marker: str) -> WriteRequest:
        offer_id = row.get("proposal_remote_id")
        if not offer_id:
            raise VendorRefused("the offer of this line item has no StrawBlond id yet")
        if not row.get("name"):
            raise VendorRefused("StrawBlond requires a name for every line item")
        body: dict[str, Any] = {
            "document_type": OFFER_DOCUMENT_TYPE,
            "document_id": offer_id,
            "type": "paragraph",
            "name": row["name"],
            "remark": f"{REMARK_MARKER}{marker}",
        }
        fields = ["name"]
        for field, key, convert in _ELEMENT_FIELDS:
            if field != "name" and row.get(field) is not None:
                body[key] = convert(row[field])
                fields.append(field)
        path = self._element_path()
        return WriteRequest(
            "POST", path, "create", Entity.LINE_ITEMS, json=body, fields=tuple(fields)
        )

    def update_requests(
        self,
        entity: Entity,
        remote_id: str,
        changes: dict[str, Any],
        row: dict[str, Any],
        raw: dict[str, Any],
        children: list[dict[str, Any]],
    ) -> list[WriteRequest]:
        """Exactly `changes`, in StrawBlond's words; locked offers are refused up front.
        Only offers and elements, with their writable fields, get here (the declarations
        refuse the rest).
        """
        if entity == Entity.PROPOSALS:
            return self._update_offer(remote_id, changes, row, raw)
        carried = [(f, key, convert) for f, key, convert in _ELEMENT_FIELDS if f in changes]
        body = {key: convert(changes[f]) for f, key, convert in carried}
        path = self._element_path(remote_id)
        fields = tuple(f for f, _, _ in carried)
        return [WriteRequest("PUT", path, "update", Entity.LINE_ITEMS, json=body, fields=fields)]

    def _update_offer(
        self, remote_id: str, changes: dict[str, Any], row: dict[str, Any], raw: dict[str, Any]
    ) -> list[WriteRequest]:
        state = _offer_state(row, raw)
        content = {f: v for f, v in changes.items() if f != "status"}
        status = changes.get("status")
        if state in ("approved", "rejected"):
            raise VendorRefused(
                f"StrawBlond offer {remote_id} is {state} and locked: it refuses every edit"
            )
        body: dict[str, Any] = {}
        if "title" in content:
            body["name"] = content["title"]
        if "contact_id" in content:
            contact = content["contact_id"] or row.get("contact_remote_id")
            if not contact:
                raise VendorUnsupported("the new contact has no StrawBlond id")
            body["contact_id"] = contact
        fields = list(content)
        send = False
        if "status" in changes:
            word = self.status_out.get(ProposalStatus(status)) if status else None
            if word is None:
                raise VendorUnsupported(f"StrawBlond has no way to set an offer to {status!r}")
            if word == "approved":
                body["approved_at"] = _iso_now()
            elif word == "rejected":
                body["rejected_at"] = _iso_now()
            elif word == "draft" and state == "pending":
                body["locked_at"] = None
            send = word == "pending" and state == "draft"
            if not send:
                fields.append("status")
        if state == "pending" and content and body.get("locked_at", "kept") is not None:
            raise VendorRefused(
                f"StrawBlond offer {remote_id} is sent and locked: it refuses content edits "
                "(set its status to draft to unlock it first)"
            )
        requests = []
        if body:
            requests.append(WriteRequest("PATCH", self._offer_path(remote_id), "update",
                                         Entity.PROPOSALS, json=body, fields=tuple(fields)))
        if send:
            path = self._offer_path(remote_id, "send_offer", "/send")
            requests.append(WriteRequest("POST", path, "send", Entity.PROPOSALS, json={},
                                         fields=("status",)))
        return requests

    def delete_requests(
        self, entity: Entity, remote_id: str, row: dict[str, Any]
    ) -> list[WriteRequest]:
        """Offers are soft-deleted (they then show in `filter[trashed]`); elements are gone
        (the matrix allows no other entity).
        """
        if entity == Entity.PROPOSALS:
            return [WriteRequest("DELETE", self._offer_path(remote_id), "delete", entity)]
        return [WriteRequest("DELETE", self._element_path(remote_id), "delete", entity)]

    def created_id(self, entity: Entity, body: Any) -> str:
        """Create responses are the bare object (201), its hash id in `id`."""
        if isinstance(body, dict) and isinstance(body.get("data"), dict):
            body = body["data"]
        if not isinstance(body, dict) or not body.get("id"):
            raise VendorError(f"StrawBlond create response without an id: {str(body)[:200]}")
        return str(body["id"])

    def marker_of(self, entity: Entity, raw: Any) -> str | None:
        """Offers: custom field `syncd_ref`; elements: `syncd_ref:<marker>` in `remark`."""
        if not isinstance(raw, dict):
            return None
        if entity == Entity.PROPOSALS:
            fields = raw.get("custom_fields")
            value = fields.get(MARKER_FIELD) if isinstance(fields, dict) else None
            return str(value) if value else None
        if entity == Entity.LINE_ITEMS:
            remark = raw.get("remark")
            if isinstance(remark, str) and remark.startswith(REMARK_MARKER):
                return remark[len(REMARK_MARKER):].strip() or None
        return None

    def find_by_marker(self, client: VendorClient, entity: Entity, marker: str) -> str | None:
        """Offers by `filter[custom_field]=syncd_ref,<marker>`; elements by a search for the
        marker, confirmed against their `remark`.
        """
        if entity == Entity.PROPOSALS:
            params = {"filter[custom_field]": f"{MARKER_FIELD},{marker}", "per_page": 50}
            body = client.get_json(self.account.path("offers", "/offer"), params=params)
            for record in _records(body):
                fields = record.get("custom_fields")
                if isinstance(fields, dict) and fields.get(MARKER_FIELD) == marker:
                    return str(record["id"])
            return None
        if entity == Entity.LINE_ITEMS:
            params = {"filter[document_type]": OFFER_DOCUMENT_TYPE, "filter[search]": marker,
                      "per_page": 50}
            body = client.get_json(self._element_path(), params=params)
            for record in _records(body):
                if record.get("remark") == f"{REMARK_MARKER}{marker}":
                    return str(record["id"])
            return None
        return None

    # ---- webhooks ------------------------------------------------------------------------
    def authenticate_webhook(
        self, headers: Mapping[str, str], body: bytes, path_secret: str | None, secret: str
    ) -> bool:
        """Hex HMAC-SHA256 of the raw body, keyed with the subscription's secret."""
        if not secret:
            return False
        given = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), None)
        if not given:
            return False
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, given.strip().lower())

    def webhook_hints(self, body: Any) -> list[WebhookHint]:
        """`offer.*` events name the offer; `document_element.*` events on an offer name
        its parent. Test events (`test: true`) carry sample data and are ignored.
        """
        if not isinstance(body, dict) or body.get("test") is True:
            return []
        event = str(body.get("event") or "")
        given = body.get("data")
        data: dict[str, Any] = given if isinstance(given, dict) else {}
        created = body.get("created")
        when = float(created) if isinstance(created, int | float) else None
        if event.startswith("offer.") and data.get("id"):
            remote_id, deleted = str(data["id"]), event == "offer.deleted"
        elif event.startswith("document_element.") and (
            data.get("document_type") == OFFER_DOCUMENT_TYPE
        ):
            remote_id, deleted = str(data.get("document_id") or ""), False
        else:
            return []
        if not remote_id:
            return []
        return [WebhookHint(Entity.PROPOSALS, remote_id, event, str(body.get("id") or ""),
                            deleted=deleted, occurred_at=when)]

    def webhook_subscriptions(self, url: str, secret: str) -> list[WriteRequest]:
        """One `*` subscription. StrawBlond generates the signing secret itself and returns
        it in the response (`webhook_secret_from`); `secret` cannot be sent.
        """
        path = self.account.path("webhooks", "/webhook")
        return [WriteRequest("POST", path, "webhook", Entity.PROPOSALS,
                             json={"event": "*", "url": url},
                             note="StrawBlond webhook subscription (all events)")]

    def existing_webhooks(self, client: VendorClient) -> list[Subscription]:
        """`GET /webhook`, Laravel pages of `{id, event, url, failed_count, ...}` (the
        signing secret is shown only once, in the create response).
        """
        path = self.account.path("webhooks", "/webhook")
        return [Subscription(str(h["id"]), f"{h.get('event')} {h.get('url')}")
                for page in client.paginate(path, laravel_paginator(50), records_path=("data",))
                for h in page.records if isinstance(h, dict) and h.get("id") is not None]

    def webhook_key(self, request: WriteRequest) -> str:
        """A subscription is its event and URL."""
        return f"{request.json['event']} {request.json['url']}"

    @staticmethod
    def webhook_secret_from(body: Any) -> str | None:
        """The signing secret StrawBlond returned when the subscription was created."""
        if isinstance(body, dict) and isinstance(body.get("data"), dict):
            body = body["data"]
        secret = body.get("secret") if isinstance(body, dict) else None
        return str(secret) if secret else None


# canonical line-item field, StrawBlond element attribute, wire conversion
_ELEMENT_FIELDS: tuple[tuple[str, str, Any], ...] = (
    ("name", "name", str),
    ("description", "description", lambda v: v),
    ("quantity", "quantity", _number),
    ("unit_price", "amount", _number),
    ("optional", "is_optional", bool),
)


def _offer_state(row: dict[str, Any], raw: dict[str, Any]) -> str:
    """The offer's vendor word, from its raw flags when present (they are the vendor's
    own; raw may be keyed by source when several wrote the row: the newest wins), else
    from the mirror's `vendor_status`.
    """
    if isinstance(raw, dict) and "is_locked" not in raw:
        found = [v for v in raw.values() if isinstance(v, dict) and "is_locked" in v]
        raw = max(found, key=lambda v: str(v.get("updated_at") or "")) if found else raw
    if isinstance(raw, dict) and "is_locked" in raw:
        try:
            word = flags_word(_OfferFlags.model_validate(raw))
        except ValidationError:  # pragma: no cover - every field of _OfferFlags is tolerant
            word = _BOTH_DECIDED
        # contradictory flags: decided either way, so locked for every edit
        return "approved" if word == _BOTH_DECIDED else word
    word = drift.normalize_word(str(row.get("vendor_status") or "draft"))
    if word in ("draft", "pending", "approved", "rejected"):
        return word
    by_status: dict[str | None, str] = {
        ProposalStatus.ACCEPTED: "approved", ProposalStatus.REJECTED: "rejected",
        ProposalStatus.SENT: "pending"}
    return by_status.get(row.get("status"), "draft")


def _records(body: Any) -> list[dict[str, Any]]:
    data = body.get("data") if isinstance(body, dict) else body
    return [r for r in data or [] if isinstance(r, dict)]
