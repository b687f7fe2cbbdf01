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
    such a change itself, without spending a request, when the row says the quote is locked.
  * Line-item ids are Shopify ids beyond 2^53: kept as text, never through a float.
  * The quote has no title. syncd's `title` is the quote's `internal_notes`, the one free-text
    field the vendor documents as updatable (the number is `quote_number`).
  * Totals: `total_gross` = `total`, `total_tax` = `total_tax`, `total_net` = total - tax.
    A line's `unit_price` is `original_line_price / quantity` (the list has no unit price).
  * Idempotent create: the tag `syncd:<marker>` (quotes) or the hidden line-item property
    `_syncd=<marker>` (line items). No search endpoint exists, so `find_by_marker` reads
    `GET /customers/{id}/quotes` when this process planned the create for a known Shopify
    customer, else scans `GET /quotes` (ceil(quotes/100) requests, only after a lost response).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from decimal import Decimal
from typing import Any, Literal

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
)

from syncd.canonical import Bundle, Entity, ProposalStatus
from syncd.errors import SettingsError, VendorError, VendorRefused, VendorUnsupported
from syncd.http.auth import HeaderKeyAuth
from syncd.http.paginators import CursorPaginator
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

PAGE_SIZE = 100  # the vendor maximum; larger sizes are refused with 400
EDITABLE = frozenset({"Created", "Sent", "Viewed"})
COMPANY_FIELD = "company name"
TAG_PREFIX = "syncd:"
PROPERTY_KEY = "_syncd"  # Shopify hides line-item properties whose key starts with "_"
NO_CUSTOMER_API = "Quick Quote has no customer API: a contact is the customer fields of its quotes"
NO_COMPANY_API = "Quick Quote has no company API: a company is a quote's 'Company Name' field"

Id = StrictInt | StrictStr
Money = StrictInt | StrictFloat | None


# ---- record models (what one list record must look like) --------------------------------
class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Checked(BaseModel):
    """Fields checked, undeclared keys accepted but not copied into the model: the mapping
    reads them from the raw record, and keeping them costs half the validation time."""

    model_config = ConfigDict(extra="ignore")


class QQLineItem(_Checked):
    """An embedded line item; a Shopify product (`custom_product` false) or a custom one."""

    id: Id
    product_id: Id | None = None
    variant_id: Id | None = None
    title: StrictStr | None = None
    variant_title: StrictStr | None = None
    sku: StrictStr | None = None
    quantity: StrictInt
    line_price: Money = None
    original_line_price: Money = None
    total: Money = None
    discount_total: Money = None
    discount_amount: Money = None
    discount_type: Literal["fixed_amount", "percentage", "fixed"] | None = None
    taxable: StrictBool | None = None
    custom_product: StrictBool
    item_properties: list[Any] = []


class QQCustomField(_Model):
    """A shop-defined custom form field and its value on this quote."""

    id: Id
    name: StrictStr | None = None
    value: Any = None


class QQQuote(_Checked):
    """One quote as `GET /quotes` and `GET /quotes/{id}` return it."""

    id: Id
    quote_number: Id | None = None
    status: Literal["Created", "Sent", "Viewed", "Accepted", "Declined", "Canceled", "Ordered"]
    email: StrictStr | None = None
    first_name: StrictStr | None = None
    last_name: StrictStr | None = None
    phone: StrictStr | None = None
    customer_id: Id | None = None
    created_on: StrictStr | None = None
    internal_notes: StrictStr | None = None
    tags: StrictStr | None = None
    custom_fields: list[QQCustomField] = []
    line_items: list[QQLineItem] = []
    subtotal: Money = None
    total: Money = None
    total_tax: Money = None
    discount_total: Money = None
    discount_type: Literal["fixed_amount", "percentage", "fixed"] | None = None

    @field_validator("created_on")
    @classmethod
    def _parseable(cls, value: str | None) -> str | None:
        parse_datetime(value)  # zone-less ISO; raises on anything else
        return value


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


def _company_field(quote: QQQuote) -> QQCustomField | None:
    for cf in quote.custom_fields:
        named = (cf.name or "").strip().casefold() == COMPANY_FIELD
        if named and isinstance(cf.value, str) and cf.value.strip():
            return cf
    return None


def _unit_price(item: QQLineItem) -> Decimal | None:
    line = parse_money(item.original_line_price if item.original_line_price is not None
                       else item.line_price)
    if line is None or item.quantity == 0:
        return None
    return line / Decimal(item.quantity)


def map_line_item(
    quote_id: str, position: int, item: QQLineItem, raw: dict[str, Any]
) -> dict[str, Any]:
    """One canonical line item; `description` is the Shopify variant title."""
    return {
        "remote_id": parse_id(item.id),
        "proposal_remote_id": quote_id,
        "position": position,
        "sku": item.sku,
        "name": item.title,
        "description": item.variant_title,
        "quantity": Decimal(item.quantity),
        "unit_price": _unit_price(item),
        "discount": parse_money(item.discount_total),
        "total_net": parse_money(item.total if item.total is not None else item.line_price),
        "raw": raw,
    }


def map_quote(connector: Connector, quote: QQQuote, raw: dict[str, Any]) -> Bundle:
    """A quote → its proposal, line items (complete set), contact and company."""
    bundle = Bundle()
    quote_id = parse_id(quote.id)
    assert quote_id is not None  # the model requires an id
    company_id: str | None = None
    company = _company_field(quote)
    if company is not None:
        company_id = company_key(company.value)
        bundle.companies.append(
            {"remote_id": company_id, "name": " ".join(company.value.split()),
             "raw": company.model_dump(mode="json")}
        )
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
    gross, tax = parse_money(quote.total), parse_money(quote.total_tax)
    bundle.proposals.append({
        "remote_id": quote_id,
        "number": parse_id(quote.quote_number),
        "title": quote.internal_notes,
        "status": connector.map_status(quote.status),
        "vendor_status": quote.status,
        "company_id": company_id,
        "contact_id": contact_id,
        "total_gross": gross,
        "total_tax": tax,
        "total_net": gross - (tax or 0) if gross is not None else None,
        "created_at": parse_datetime(quote.created_on),
        "raw": raw,
    })
    raw_items = raw.get("line_items") or []
    for position, (item, item_raw) in enumerate(zip(quote.line_items, raw_items, strict=True), 1):
        bundle.line_items.append(map_line_item(quote_id, position, item, item_raw))
    bundle.complete_line_items.add(quote_id)
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


def _has_tag(tags: Any, marker: str) -> bool:
    return isinstance(tags, str) and TAG_PREFIX + marker in (t.strip() for t in tags.split(","))


def _has_property(item: Mapping[str, Any], marker: str) -> bool:
    props = item.get("item_properties") or []
    if isinstance(props, dict):
        props = [props]
    return any(isinstance(p, dict) and p.get("key") == PROPERTY_KEY and p.get("value") == marker
               for p in props)


@register
class QuickQuoteConnector(Connector):
    """Quick Quote: one cursor-paged quote list; writes via PUT and line-item endpoints."""

    vendor = "quickquote"
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
        key = self.account.secret("api_key")
        if not key:
            raise SettingsError(f"accounts[{self.account.name}].auth.api_key", "is required")
        return HeaderKeyAuth("x-api-key", key)

    def headers(self) -> dict[str, str]:
        # Without this Content-Type every POST/PUT is answered 415 (httpx adds it for json=,
        # but a body-less POST would not carry it).
        return {"Accept": "application/json", "Content-Type": "application/json; charset=utf-8"}

    def _path(self, op: str, default: str, **ids: str) -> str:
        return self.account.path(op, default).format(**ids)

    # ---- create --------------------------------------------------------------------------
    def plan_create(
        self, entity: Entity, row: dict[str, Any], children: list[dict[str, Any]], marker: str
    ) -> list[WriteRequest]:
        if entity == Entity.PROPOSALS:
            return [self._plan_create_quote(row, children, marker)]
        if entity == Entity.LINE_ITEMS:
            quote_id = self._quote_of(row)
            item = self._line_item_body(row)
            item["properties"] = {"key": PROPERTY_KEY, "value": marker}
            self._marker_hints[marker] = ("quote", quote_id)
            path = self._path("line_items_create", "/quotes/{id}/line_items", id=quote_id)
            fields = tuple(f for f in ("name", "unit_price", "quantity", "sku") if row.get(f))
            return [WriteRequest("POST", path, "create", entity, json=[item], fields=fields)]
        raise VendorUnsupported(self.capability(entity, Op.CREATE) or "unsupported")

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
            body["custom_fields"] = [{"id": field_id, "value": company["name"]}]
            fields.append("company_id")
        if children:  # "line_items": the engine retires the local placeholders on success
            body["line_items"] = [self._line_item_body(c) for c in children]
            fields.append("line_items")
        return WriteRequest("POST", self._path("quotes_create", "/quotes"), "create",
                            Entity.PROPOSALS, json=body, fields=tuple(fields))

    def _line_item_body(self, row: Mapping[str, Any]) -> dict[str, Any]:
        raw = row.get("raw") or {}
        if raw.get("custom_product") is False and raw.get("variant_id") is not None:
            return {"variant_id": raw["variant_id"], "custom_product": False,
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
        if entity == Entity.LINE_ITEMS:
            items = body.get("line_items") if isinstance(body, dict) else body
            if isinstance(items, list) and items and isinstance(items[-1], dict):
                return str(parse_id(items[-1]["id"]))
        elif entity == Entity.PROPOSALS and isinstance(body, dict) and "id" in body:
            return str(parse_id(body["id"]))
        raise VendorUnsupported(f"no {entity} id in the Quick Quote create response")

    # ---- update / status / send / delete ---------------------------------------------------
    def plan_update(
        self, entity: Entity, remote_id: str, changes: dict[str, Any], row: dict[str, Any],
        raw: dict[str, Any], children: list[dict[str, Any]],
    ) -> list[WriteRequest]:
        if entity == Entity.PROPOSALS:
            return [self._plan_update_quote(remote_id, changes, row, raw)]
        if entity == Entity.LINE_ITEMS:
            return [self._plan_update_item(remote_id, changes, row, raw)]
        raise VendorUnsupported(self.capability(entity, Op.UPDATE) or "unsupported")

    def _plan_update_quote(
        self, remote_id: str, changes: dict[str, Any], row: dict[str, Any], raw: dict[str, Any]
    ) -> WriteRequest:
        self._unsupported(Entity.PROPOSALS, changes)
        status = row.get("vendor_status") or raw.get("status")
        if status is not None and status not in EDITABLE:
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

    def _plan_update_item(
        self, remote_id: str, changes: dict[str, Any], row: dict[str, Any], raw: dict[str, Any]
    ) -> WriteRequest:
        self._unsupported(Entity.LINE_ITEMS, changes)
        if raw.get("custom_product") is False and set(changes) - {"quantity"}:
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

    def plan_delete(
        self, entity: Entity, remote_id: str, row: dict[str, Any]
    ) -> list[WriteRequest]:
        if entity == Entity.PROPOSALS:
            path = self._path("quotes_delete", "/quotes/{id}", id=remote_id)
        elif entity == Entity.LINE_ITEMS:
            path = self._path("line_items_delete", "/quotes/{quote}/line_items/{id}",
                              quote=self._quote_of(row), id=remote_id)
        else:
            raise VendorUnsupported(self.capability(entity, Op.DELETE) or "unsupported")
        return [WriteRequest("DELETE", path, "delete", entity)]

    def _unsupported(self, entity: Entity, changes: Mapping[str, Any]) -> None:
        extra = sorted(set(changes) - self.writable_fields[entity])
        if extra:
            raise VendorUnsupported(f"Quick Quote does not take changes to {entity} "
                                    f"field(s) {', '.join(extra)}")

    @staticmethod
    def _quote_of(row: Mapping[str, Any]) -> str:
        quote = row.get("proposal_remote_id") or (row.get("raw") or {}).get("quote_id")
        if not quote:
            raise VendorUnsupported("the line item's quote has no Quick Quote id yet")
        return str(quote)

    # ---- lookups ---------------------------------------------------------------------------
    def find_by_marker(self, client: VendorClient, entity: Entity, marker: str) -> str | None:
        hint = self._marker_hints.get(marker)
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
        while paginator.has_next:
            body = client.get_json(path, params=paginator.request_params(), endpoint="find")
            records = (body.get("data") or []) if isinstance(body, dict) else []
            yield from records
            paginator.update(body, records)

    def _get_quote(self, client: VendorClient, remote_id: str) -> dict[str, Any] | None:
        path = self._path("quote", "/quotes/{id}", id=remote_id)
        try:
            response = client.request("GET", path, endpoint="quote")
        except VendorError as exc:
            if exc.status in (404, 410):
                return None
            raise
        if response.status_code in (404, 410):
            return None
        response.raise_for_status()
        body = response.json()
        return body if isinstance(body, dict) else None

    def fetch_one(self, client: VendorClient, entity: Entity, remote_id: str) -> Bundle | None:
        if entity != Entity.PROPOSALS:
            raise VendorUnsupported(f"Quick Quote cannot fetch one {entity}")
        raw = self._get_quote(client, remote_id)
        if raw is None:
            return None
        return map_quote(self, QQQuote.model_validate(raw), raw)
