"""Quick Quote (W3trends, a Shopify app): quotes with embedded line items, poll only.

Facts this module relies on (shared/vendors.md section 3 and its "Project decisions"):
  * Auth is the `x-api-key` header; POST/PUT without `Content-Type: application/json` → 415.
  * One list, `GET /quotes?page=<cursor>&page_size=100`, body `{total_records, next_page,
    data[]}`; `next_page` is an opaque cursor, null at the end. No updated_at, no filter: every
    pull is a full scan (100 per page) and unchanged quotes are skipped by fingerprint.
  * There is no customer or company API. The contact is the quote's customer fields
    (remote id = Shopify `customer_id`, else `email:<lowercased email>`); the company is the
    custom field named "Company Name" (remote id `name:<casefolded, single-spaced name>`).
    A deleted quote therefore never deletes its contact or company (another quote may use it).
  * Status comes back capitalised ("Accepted") and is set lowercase ("accepted"). Quotes can be
    edited only while Created/Sent/Viewed; otherwise the vendor answers 400 — syncd refuses
    such a change itself, without spending a request, when the row's status word (in any
    casing) says the quote is locked.
  * Line items: every element of `line_items` is a product line. Quick Quote documents no
    element type; an element that carries a `type` word anyway is read by PRICED_TYPES /
    UNPRICED_TYPES and the account's `line_item_types` (an unknown word: a line item only
    when it carries a quantity or an amount, else it stays in the quote's raw only).
  * Line-item ids are Shopify ids beyond 2^53: kept as text, never through a float (a float
    id at or beyond 2^53 is no usable id: that line stays in raw only, the quote is kept).
  * Drift (syncd/drift.py): statuses match in any casing/spacing ("ACCEPTED", "viewed"); an
    unknown word keeps the quote with status NULL and the word in `vendor_status` (noted).
    Numbers as text, money as text, null names and other date spellings are coerced or
    NULL (noted), never a guessed amount. Only a quote without a usable id, or whose
    `line_items` / `custom_fields` is not a list, is quarantined.
  * The quote has no title. syncd's `title` is the quote's `internal_notes`, the one free-text
    field the vendor documents as updatable (the number is `quote_number`).
  * Totals: `total_gross` = `total`, `total_tax` = `total_tax`, `total_net` = total - tax
    (NULL when either is missing). A line's `unit_price` is `original_line_price / quantity`
    (the list has no unit price), its `total_net` is `total`; `line_price` stands in for
    either only on a line without a discount.
  * Idempotent create: the tag `syncd:<marker>` (quotes) or the hidden line-item property
    `_syncd=<marker>` (line items). No search endpoint exists, so `find_by_marker` reads
    `GET /customers/{id}/quotes` when this process planned the create for a known Shopify
    customer, else scans `GET /quotes` (ceil(quotes/100) requests, only after a lost response).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from decimal import Decimal
from typing import Annotated, Any, ClassVar

import httpx
from pydantic import BeforeValidator

from syncd import drift
from syncd.canonical import Bundle, Entity, ProposalStatus
from syncd.drift import Date, Key, Money, Number, Record, RefId, Text, Word
from syncd.errors import (
    SettingsError,
    VendorRefused,
    VendorUnsupported,
)
from syncd.http.auth import HeaderKeyAuth, TokenStore
from syncd.http.paginators import CursorPaginator
from syncd.parsing import parse_decimal, parse_id
from syncd.vendors.base import (
    Connector,
    OneRecord,
    Op,
    StreamSpec,
    VendorClient,
    WriteRequest,
)

PAGE_SIZE = 100  # the vendor maximum; larger sizes are refused with 400
EDITABLE = frozenset({"Created", "Sent", "Viewed"})
EDITABLE_STATUSES = frozenset({ProposalStatus.DRAFT, ProposalStatus.SENT, ProposalStatus.VIEWED})
COMPANY_FIELD = drift.normalize_word("Company Name")
COMPANY_FIELD_NAME = "Company Name"
TAG_PREFIX = "syncd:"
PROPERTY_KEY = "_syncd"  # Shopify hides line-item properties whose key starts with "_"
NO_CUSTOMER_API = "Quick Quote has no customer API: a contact is the customer fields of its quotes"
NO_COMPANY_API = "Quick Quote has no company API: a company is a quote's 'Company Name' field"
FLOAT_EXACT = 2**53  # integers beyond this do not survive a float (Shopify line-item ids)
_FALSE_WORDS = frozenset({"false", "0", "no", "n", "off"})

# Element types. Quick Quote documents none: every element of `line_items` is a product
# line (a Shopify variant or a custom product), which is what an element without `type`
# is. An element that does carry a `type` word (another build of the app, a shipping or
# note line) is a line item when the word is a product word (or one of the account's
# `line_item_types`), stays in raw only when it is a layout word, and, for a word nobody
# listed (noted), is a line item exactly when it carries a quantity or an amount.
PRICED_TYPES = frozenset({"product", "custom", "custom_product", "variant", "line_item"})
UNPRICED_TYPES = frozenset({"note", "text", "heading", "comment", "subtotal"})


# ---- record models -----------------------------------------------------------------------
# Strict about identity and money, tolerant about vocabulary (syncd/drift.py): only a quote
# without a usable id, or whose `line_items` / `custom_fields` is not a list (null is an
# absent list), fails validation and is quarantined. Every other odd value degrades to
# None and is noted; a line item without a usable id stays in the quote's raw only.
def _line_id(value: Any) -> str | None:
    """A line item's Shopify id as text; None (the mapping notes it) when unusable. A
    float is exact only below 2^53 (beyond it, it is a neighbour's id): refused then.
    """
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str:
        return value if value.strip() else None
    if kind is float and value.is_integer() and abs(value) < FLOAT_EXACT:
        return str(int(value))  # the mapping notes the coercion (it has the path)
    return None


LineId = Annotated[str | None, BeforeValidator(_line_id)]


def _objects_or_none(path: str) -> Any:
    """An element that is not an object cannot be read: it becomes None (noted), so the
    quote and its other elements survive; a non-list is left to fail validation (a quote
    whose line items are not a list has an unusable structure: quarantined).
    """

    def check(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list) and not all(type(item) is dict for item in value):
            for item in value:
                if not isinstance(item, dict):
                    drift.note(drift.DriftKind.UNPARSEABLE_VALUE, path, item)
            return [item if isinstance(item, dict) else None for item in value]
        return value

    return check


class QQLineItem(Record):
    """An embedded line item; a Shopify product (`custom_product` false) or a custom one.
    Money is JSON numbers (a decimal string is coerced and noted); ids are Shopify's.
    """

    drift_known: ClassVar[frozenset[str]] = frozenset({
        "product_id", "variant_id", "barcode", "custom_image_path", "custom_product",
        "discount_amount", "discount_reason", "discount_type", "grams", "image",
        "item_properties", "requires_shipping", "taxable", "url"})  # raw only (push reads some)
    id: LineId = None
    type: Word = None  # undocumented: see PRICED_TYPES
    title: Text = None
    variant_title: Text = None
    sku: Text = None
    quantity: Number = None
    line_price: Money = None
    original_line_price: Money = None
    total: Money = None
    discount_total: Money = None


class QQCustomField(Record):
    """A shop-defined custom form field and its value on this quote (only the one named
    "Company Name" is mapped; its id is what a create sends the company name under).
    """

    id: RefId = None
    name: Text = None
    value: Any = None


LineItems = Annotated[list[QQLineItem | None] | None,
                      BeforeValidator(_objects_or_none("line_items[]"))]
CustomFields = Annotated[list[QQCustomField | None] | None,
                         BeforeValidator(_objects_or_none("custom_fields[]"))]


class QQQuote(Record):
    """One quote as `GET /quotes` and `GET /quotes/{id}` return it (seed 002). Documented
    keys syncd does not map are in `drift_known` (raw keeps them).
    """

    drift_known: ClassVar[frozenset[str]] = frozenset({
        "assignee", "discount_amount", "discount_reason", "discount_total", "discount_type",
        "public_notes", "remarks", "shipping", "shopify_order_id", "shopify_order_number",
        "subtotal", "tags"})
    id: Key
    quote_number: RefId = None
    status: Word = None
    email: Text = None
    first_name: Text = None
    last_name: Text = None
    phone: Text = None
    customer_id: RefId = None
    created_on: Date = None  # zone-less ISO (UTC); other spellings are read as well
    internal_notes: Text = None
    custom_fields: CustomFields = None
    line_items: LineItems = None
    total: Money = None
    total_tax: Money = None


# ---- mapping (pure) ----------------------------------------------------------------------
def company_key(name: str) -> str:
    """Stable company remote id from the free-text "Company Name" value."""
    return "name:" + " ".join(name.split()).casefold()


def contact_key(customer_id: Any, email: str | None) -> str | None:
    """Shopify customer id when the quote has one, else the lowercased email."""
    cid = parse_id(customer_id)
    if cid is not None:
        return cid
    if email and email.strip():
        return "email:" + email.strip().lower()
    return None


def _company_field(quote: QQQuote, raw: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """(company name, the custom field as sent) of the "Company Name" field, matched
    case-, space-, hyphen- and underscore-insensitively; None when empty or absent.
    """
    if not quote.custom_fields:
        return None
    for cf, cf_raw in zip(quote.custom_fields, raw["custom_fields"], strict=True):
        if cf is None or cf.name is None:
            continue
        named = cf.name == COMPANY_FIELD_NAME or drift.normalize_word(cf.name) == COMPANY_FIELD
        if named and isinstance(cf.value, str) and cf.value.strip():
            return cf.value, cf_raw
    return None


def _undiscounted(item: QQLineItem, raw: Mapping[str, Any]) -> bool:
    """Whether the line certainly has no discount (then its line price is its net)."""
    if item.discount_total is not None:
        return item.discount_total == 0
    return raw.get("discount_total") is None  # absent/null; unreadable (noted) is unknown


def _unit_price(item: QQLineItem, raw: Mapping[str, Any], quantity: Decimal | None
                ) -> Decimal | None:
    """`original_line_price / quantity` (the list has no unit price). When the original
    price was not sent, the line price stands in only for an undiscounted line; an
    unreadable amount is never replaced by a guess.
    """
    line = item.original_line_price
    if line is None and raw.get("original_line_price") is None and _undiscounted(item, raw):
        line = item.line_price
    if line is None or not quantity:
        return None
    return line / quantity


def _total_net(item: QQLineItem, raw: Mapping[str, Any]) -> Decimal | None:
    """The line's `total`; when it was not sent, the line price of an undiscounted line."""
    if item.total is not None or raw.get("total") is not None:
        return item.total  # None when sent but unreadable (noted): never a guess
    return item.line_price if _undiscounted(item, raw) else None


def map_line_item(
    quote_id: str, position: int, item: QQLineItem, raw: dict[str, Any]
) -> dict[str, Any]:
    """One canonical line item; `description` is the Shopify variant title."""
    quantity = item.quantity
    if type(quantity) is not Decimal:
        quantity = parse_decimal(quantity)
    return {
        "remote_id": item.id,
        "proposal_remote_id": quote_id,
        "position": position,
        "sku": item.sku,
        "name": item.title,
        "description": item.variant_title,
        "quantity": quantity,
        "unit_price": _unit_price(item, raw, quantity),
        "discount": item.discount_total,
        "total_net": _total_net(item, raw),
        "raw": raw,
    }


def is_line_item(connector: Connector, item: QQLineItem) -> bool:
    """Whether an element of `line_items` is a priced line (see PRICED_TYPES)."""
    if not item.type:  # the documented shape: every element is a product line
        return True
    return connector.is_priced_line(
        item.type, PRICED_TYPES, UNPRICED_TYPES,
        drift.carries_amount(item.quantity, item.line_price, item.original_line_price,
                             item.total), "line_items[].type")


def _line_items(connector: Connector, quote: QQQuote, raw: dict[str, Any],
                bundle: Bundle) -> None:
    """The quote's line items; the set is complete (items missing from it are deleted)
    only when every element could be read and identified. An element that is not an
    object, or a line without a usable id, stays in the quote's raw only (noted) and the
    mirror's items of that quote are left as they are.
    """
    if quote.line_items is None:  # absent or null: the answer says nothing about items
        return
    complete = True
    for position, (item, item_raw) in enumerate(
            zip(quote.line_items, raw["line_items"], strict=True), 1):
        if item is None:
            complete = False
        elif is_line_item(connector, item):
            raw_id = item_raw.get("id")
            if item.id is None:
                drift.note(drift.DriftKind.UNPARSEABLE_VALUE, "line_items[].id", raw_id)
                complete = False
                continue
            if type(raw_id) is float:
                drift.note(drift.DriftKind.COERCED_VALUE, "line_items[].id", raw_id)
            bundle.line_items.append(map_line_item(quote.id, position, item, item_raw))
    if complete:
        bundle.complete_line_items.add(quote.id)


def map_quote(connector: Connector, quote: QQQuote, raw: dict[str, Any]) -> Bundle:
    """A quote → its proposal, line items (complete set), contact and company. An unknown
    status word keeps the proposal with status NULL and the word in `vendor_status`.
    """
    bundle = Bundle()
    quote_id = quote.id
    company_id: str | None = None
    company = _company_field(quote, raw)
    if company is not None:
        name, field_raw = company
        company_id = company_key(name)
        bundle.companies.append(
            {"remote_id": company_id, "name": " ".join(name.split()), "raw": field_raw})
    contact_id = contact_key(quote.customer_id, quote.email)
    if contact_id is not None:
        full = " ".join(p for p in (quote.first_name, quote.last_name) if p) or None
        contact: dict[str, Any] = {
            "remote_id": contact_id, "first_name": quote.first_name,
            "last_name": quote.last_name, "full_name": full, "email": quote.email,
            "phone": quote.phone,
            "raw": {k: raw.get(k) for k in ("customer_id", "email", "first_name",
                                            "last_name", "phone")},
        }
        if company_id is not None:  # a quote without the field says nothing about the person
            contact["company_id"] = company_id
        bundle.contacts.append(contact)
    gross, tax = quote.total, quote.total_tax
    bundle.proposals.append({
        "remote_id": quote_id,
        "number": quote.quote_number,
        "title": quote.internal_notes,
        "status": connector.map_status(quote.status),
        "vendor_status": quote.status,
        "company_id": company_id,
        "contact_id": contact_id,
        "total_gross": gross,
        "total_tax": tax,
        # net = total - tax only when both were read: a missing tax is not 0
        "total_net": gross - tax if gross is not None and tax is not None else None,
        "created_at": quote.created_on,
        "raw": raw,
    })
    _line_items(connector, quote, raw, bundle)
    return bundle


# ---- write helpers -----------------------------------------------------------------------
def _number(value: Any) -> float | None:
    """Money out: the vendor takes JSON numbers (2-decimal amounts survive a float)."""
    amount = parse_decimal(value)
    return None if amount is None else float(amount)


def _quantity(value: Any) -> int:
    amount = parse_decimal(value)
    if amount is None or amount != amount.to_integral_value() or amount < 1:
        raise VendorUnsupported(f"Quick Quote quantities are whole numbers ≥ 1, not {value!r}")
    return int(amount)


def _shopify_product(raw: Mapping[str, Any]) -> bool:
    """Whether a line item (as the vendor sent it) is a real Shopify product: only its
    quantity can change. `custom_product` false, also as the text other builds send.
    """
    flag = raw.get("custom_product")
    if isinstance(flag, str):
        return flag.strip().casefold() in _FALSE_WORDS
    return flag is False or (type(flag) is int and flag == 0)


def _json_id(value: Any) -> Any:
    """A Shopify id (variant, custom field) as the vendor takes it: a JSON integer, also
    when an answer gave it as text.
    """
    return int(value) if isinstance(value, str) and value.strip().isdigit() else value


def _has_tag(tags: Any, marker: str) -> bool:
    return isinstance(tags, str) and TAG_PREFIX + marker in (t.strip() for t in tags.split(","))


def _has_property(item: Mapping[str, Any], marker: str) -> bool:
    props = item.get("item_properties") or []
    if isinstance(props, dict):
        props = [props]
    return any(isinstance(p, dict) and p.get("key") == PROPERTY_KEY and p.get("value") == marker
               for p in props)


class QuickQuoteConnector(Connector):
    """Quick Quote: one cursor-paged quote list; writes via PUT and line-item endpoints."""

    vendor = "quickquote"
    display_name = "Quick Quote"
    reads_summary = "quotes with line items, cursor pages of 100"
    auth_summary = "`api_key` (`x-api-key`)"
    streams = (
        StreamSpec(
            name="quotes",
            path="/quotes",
            paginator=lambda size, state: CursorPaginator(size, state),
            model=QQQuote,
            map=map_quote,
            entity=Entity.PROPOSALS,
            page_size=PAGE_SIZE,
            records_path=("data",),
            one=OneRecord("/quotes/{id}", name="quote"),
        ),
    )
    status_map = {
        "Created": ProposalStatus.DRAFT,
        "Sent": ProposalStatus.SENT,
        "Viewed": ProposalStatus.VIEWED,
        "Accepted": ProposalStatus.ACCEPTED,
        "Declined": ProposalStatus.REJECTED,
        "Canceled": ProposalStatus.CANCELED,
        "Ordered": ProposalStatus.ORDERED,
    }
    status_out = {
        ProposalStatus.DRAFT: "created",
        ProposalStatus.SENT: "sent",
        ProposalStatus.VIEWED: "viewed",
        ProposalStatus.ACCEPTED: "accepted",
        ProposalStatus.REJECTED: "declined",
        ProposalStatus.CANCELED: "canceled",
        ProposalStatus.ORDERED: "ordered",
        ProposalStatus.EXPIRED: None,
    }
    capabilities = {
        **dict.fromkeys(((Entity.PROPOSALS, op) for op in Op), None),
        **dict.fromkeys(((Entity.LINE_ITEMS, op) for op in (Op.CREATE, Op.UPDATE, Op.DELETE)),
                        None),
        **dict.fromkeys(((Entity.CONTACTS, op) for op in Op), NO_CUSTOMER_API),
        **dict.fromkeys(((Entity.COMPANIES, op) for op in Op), NO_COMPANY_API),
    }
    writable_fields = {
        Entity.PROPOSALS: frozenset({"title", "status"}),
        Entity.LINE_ITEMS: frozenset({"quantity", "name", "unit_price", "sku"}),
        Entity.CONTACTS: frozenset(),
        Entity.COMPANIES: frozenset(),
    }

    def __init__(self, account: Any) -> None:
        super().__init__(account)
        # marker -> where to look first (process-local; after a crash we scan the list)
        self._marker_hints: dict[str, tuple[str, str]] = {}

    # ---- transport -----------------------------------------------------------------------
    def auth(self, tokens: TokenStore) -> httpx.Auth | None:
        """Quick Quote takes the API key in `x-api-key`."""
        key = self.account.secret("api_key")
        if not key:
            raise SettingsError(f"accounts[{self.account.name}].auth.api_key", "is required")
        return HeaderKeyAuth("x-api-key", key)

    def headers(self) -> dict[str, str]:
        # Without this Content-Type every POST/PUT is answered 415 (httpx adds it for json=,
        # but a body-less POST would not carry it).
        """Quick Quote answers 415 to a write without a JSON Content-Type."""
        return {"Accept": "application/json", "Content-Type": "application/json; charset=utf-8"}

    def _path(self, op: str, default: str, **ids: str) -> str:
        return self.account.path(op, default).format(**ids)

    # ---- create --------------------------------------------------------------------------
    def create_requests(
        self, entity: Entity, row: dict[str, Any], children: list[dict[str, Any]], marker: str
    ) -> list[WriteRequest]:
        """A quote, or one line item of a quote (the matrix allows no other entity)."""
        if entity == Entity.PROPOSALS:
            return [self._plan_create_quote(row, children, marker)]
        quote_id = self._quote_of(row)
        item = self._line_item_body(row)
        item["properties"] = {"key": PROPERTY_KEY, "value": marker}
        self._marker_hints[marker] = ("quote", quote_id)
        path = self._path("line_items_create", "/quotes/{id}/line_items", id=quote_id)
        fields = tuple(f for f in ("name", "unit_price", "quantity", "sku") if row.get(f))
        return [WriteRequest("POST", path, "create", entity, json=[item], fields=fields)]

    def _plan_create_quote(
        self, row: dict[str, Any], children: list[dict[str, Any]], marker: str
    ) -> WriteRequest:
        contact = row.get("contact") or {}
        contact_rid = row.get("contact_remote_id") or contact.get("remote_id")
        email = contact.get("email")
        if not email and isinstance(contact_rid, str) and contact_rid.startswith("email:"):
            email = contact_rid.removeprefix("email:")
        body: dict[str, Any] = {
            "email": email, "first_name": contact.get("first_name"),
            "last_name": contact.get("last_name"),
        }
        missing = [k for k, v in body.items() if not v]
        if missing:
            raise VendorUnsupported(
                "Quick Quote needs the contact's email, first_name and last_name to create a "
                f"quote; missing: {', '.join(missing)}"
            )
        if contact.get("phone"):
            body["phone"] = contact["phone"]
        customer = parse_id(contact_rid) if contact_rid and ":" not in str(contact_rid) else None
        if customer and customer.isdigit():
            body["customer_id"] = int(customer)
            self._marker_hints[marker] = ("customer", customer)
        if row.get("title"):
            body["internal_notes"] = row["title"]
        body["tags"] = TAG_PREFIX + marker  # a new quote has no other tags
        fields = ["contact_id"] + (["title"] if row.get("title") else [])
        company = row.get("company") or {}
        field_id = (company.get("raw") or {}).get("id")
        if company.get("name") and field_id is not None:  # the "Company Name" field's id
            body["custom_fields"] = [{"id": _json_id(field_id), "value": company["name"]}]
            fields.append("company_id")
        if children:  # "line_items": the engine retires the local placeholders on success
            body["line_items"] = [self._line_item_body(c) for c in children]
            fields.append("line_items")
        return WriteRequest("POST", self._path("quotes_create", "/quotes"), "create",
                            Entity.PROPOSALS, json=body, fields=tuple(fields))

    def _line_item_body(self, row: Mapping[str, Any]) -> dict[str, Any]:
        raw = row.get("raw") or {}
        if _shopify_product(raw) and raw.get("variant_id") is not None:
            return {"variant_id": _json_id(raw["variant_id"]), "custom_product": False,
                    "quantity": _quantity(row.get("quantity") or 1)}
        if not row.get("name") or row.get("unit_price") is None:
            raise VendorUnsupported("a custom Quick Quote line item needs a name and unit_price")
        item: dict[str, Any] = {"custom_product": True, "title": row["name"],
                                "price": _number(row["unit_price"]),
                                "quantity": _quantity(row.get("quantity") or 1)}
        if row.get("sku"):
            item["sku"] = row["sku"]
        return item

    def created_id(self, entity: Entity, body: Any) -> str:
        """Quick Quote answers a line-item create with the quote's items: the new one is last."""
        if entity == Entity.LINE_ITEMS:
            items = body.get("line_items") if isinstance(body, dict) else body
            if isinstance(items, list) and items and isinstance(items[-1], dict):
                return str(parse_id(items[-1]["id"]))
        elif entity == Entity.PROPOSALS and isinstance(body, dict) and "id" in body:
            return str(parse_id(body["id"]))
        raise VendorUnsupported(f"no {entity} id in the Quick Quote create response")

    # ---- update / status / send / delete ---------------------------------------------------
    def update_requests(
        self, entity: Entity, remote_id: str, changes: dict[str, Any], row: dict[str, Any],
        raw: dict[str, Any], children: list[dict[str, Any]],
    ) -> list[WriteRequest]:
        """A quote or a line item (the declarations refuse other entities and fields)."""
        if entity == Entity.PROPOSALS:
            return [self._plan_update_quote(remote_id, changes, row, raw)]
        return [self._plan_update_item(remote_id, changes, row, raw)]

    def _plan_update_quote(
        self, remote_id: str, changes: dict[str, Any], row: dict[str, Any], raw: dict[str, Any]
    ) -> WriteRequest:
        status = row.get("vendor_status") or raw.get("status")
        if status is not None and not self._editable(status):
            raise VendorRefused(
                f"Quick Quote edits only quotes that are Created, Sent or Viewed; quote "
                f"{remote_id} is {status}", status=400,
            )
        body: dict[str, Any] = {}
        if "title" in changes:
            body["internal_notes"] = changes["title"]
        if "status" in changes:
            word = self.status_out.get(ProposalStatus(changes["status"]))
            if word is None:
                raise VendorUnsupported(f"Quick Quote cannot set status {changes['status']!r}")
            body["status"] = word
        path = self._path("quotes_update", "/quotes/{id}", id=remote_id)
        return WriteRequest("PUT", path, "update", Entity.PROPOSALS, json=body,
                            fields=tuple(changes))

    def _editable(self, word: Any) -> bool:
        """Whether a quote in status `word` takes edits: Created/Sent/Viewed in any casing
        (or what the account's `status_map` makes draft/sent/viewed). A word that maps to
        nothing is left to the vendor, whose 400 is then reported as its refusal.
        """
        if word in EDITABLE:
            return True
        status = self.map_status(word)
        return status is None or status in EDITABLE_STATUSES

    def _plan_update_item(
        self, remote_id: str, changes: dict[str, Any], row: dict[str, Any], raw: dict[str, Any]
    ) -> WriteRequest:
        if _shopify_product(raw) and set(changes) - {"quantity"}:
            raise VendorUnsupported(
                "Quick Quote line items of real Shopify products accept only quantity "
                f"changes, not {', '.join(sorted(set(changes) - {'quantity'}))}"
            )
        words = {"quantity": "quantity", "name": "title", "unit_price": "price", "sku": "sku"}
        convert = {"quantity": _quantity, "unit_price": _number}
        body = {words[f]: convert.get(f, lambda v: v)(v) for f, v in changes.items()}
        path = self._path("line_items_update", "/quotes/{quote}/line_items/{id}",
                          quote=self._quote_of(row), id=remote_id)
        return WriteRequest("PUT", path, "update", Entity.LINE_ITEMS, json=body,
                            fields=tuple(changes))

    def plan_send(self, remote_id: str, *, include_pdf: bool = False) -> list[WriteRequest]:
        """Email the quote to its customer (the vendor marks it Sent)."""
        body = {"quote_id": int(remote_id) if remote_id.isdigit() else remote_id,
                "include_link": True, "include_pdf": include_pdf, "email_assignee": False}
        return [WriteRequest("POST", self._path("quotes_email", "/quotes/email"), "send",
                             Entity.PROPOSALS, json=body)]

    def delete_requests(
        self, entity: Entity, remote_id: str, row: dict[str, Any]
    ) -> list[WriteRequest]:
        """A quote or a line item (the matrix allows no other entity)."""
        if entity == Entity.PROPOSALS:
            path = self._path("quotes_delete", "/quotes/{id}", id=remote_id)
        else:
            path = self._path("line_items_delete", "/quotes/{quote}/line_items/{id}",
                              quote=self._quote_of(row), id=remote_id)
        return [WriteRequest("DELETE", path, "delete", entity)]

    @staticmethod
    def _quote_of(row: Mapping[str, Any]) -> str:
        quote = row.get("proposal_remote_id") or (row.get("raw") or {}).get("quote_id")
        if not quote:
            raise VendorUnsupported("the line item's quote has no Quick Quote id yet")
        return str(quote)

    # ---- lookups ---------------------------------------------------------------------------
    def marker_of(self, entity: Entity, raw: Any) -> str | None:
        """The `syncd:<marker>` tag of a quote, the `_syncd` property of a line item."""
        if not isinstance(raw, Mapping):
            return None
        if entity == Entity.PROPOSALS:
            tags = raw.get("tags")
            found = [t.strip()[len(TAG_PREFIX):] for t in tags.split(",")
                     if t.strip().startswith(TAG_PREFIX)] if isinstance(tags, str) else []
            return found[0] if found else None
        if entity == Entity.LINE_ITEMS:
            props = raw.get("item_properties") or raw.get("properties") or []
            props = [props] if isinstance(props, dict) else props
            for prop in props if isinstance(props, list) else []:
                if isinstance(prop, dict) and prop.get("key") == PROPERTY_KEY and prop.get("value"):
                    return str(prop["value"])
        return None

    def find_by_marker(self, client: VendorClient, entity: Entity, marker: str) -> str | None:
        """Quick Quote has no marker search: scan the quotes (the hint narrows which) for the tag."""
        hint = self._marker_hints.get(marker)
        quotes: Iterable[dict[str, Any]]
        if entity == Entity.LINE_ITEMS and hint and hint[0] == "quote":
            quote = self._get_quote(client, hint[1])
            quotes = [quote] if quote else []
        elif entity == Entity.PROPOSALS and hint and hint[0] == "customer":
            path = self._path("customer_quotes", "/customers/{id}/quotes", id=hint[1])
            quotes = self._scan(client, path)
        else:
            quotes = self._scan(client, self.account.path("quotes", "/quotes"))
        for quote in quotes:
            if entity == Entity.PROPOSALS and _has_tag(quote.get("tags"), marker):
                return str(parse_id(quote["id"]))
            if entity == Entity.LINE_ITEMS:
                for item in quote.get("line_items") or []:
                    if _has_property(item, marker):
                        return str(parse_id(item["id"]))
        return None

    def _scan(self, client: VendorClient, path: str) -> Generator[dict[str, Any], None, None]:
        paginator = CursorPaginator(self.account.page_size or PAGE_SIZE)
        for page in client.paginate(path, paginator, records_path=("data",), endpoint="find"):
            yield from page.records

    def _get_quote(self, client: VendorClient, remote_id: str) -> dict[str, Any] | None:
        body = client.get_one(self._path("quote", "/quotes/{id}", id=remote_id),
                              endpoint="quote")
        return body if isinstance(body, dict) else None
