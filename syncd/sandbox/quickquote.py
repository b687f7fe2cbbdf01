"""Quick Quote sandbox: `/api/v1` quotes, line items and quote email, as unkind as the vendor.

What it enforces (shared/vendors.md section 3 + project decisions; choices marked *):
  * `x-api-key` on every call, else 401; POST/PUT without a JSON Content-Type → 415.
  * Lists: `page_size` 1..100 (default 25, anything else 400); `next_page` is an opaque
    cursor (*base64 of the last id returned, a keyset), null once nothing follows — a full
    last page therefore ends the list without an extra empty page.
  * Quotes are editable (PUT, line-item writes) only while Created/Sent/Viewed, else 400.
    Status is set lowercase and returned capitalised; a capitalised input is a 400.
  * Shopify-product line items (custom_product false) take only quantity changes (400).
  * Invalid custom-field values are silently removed: 200, the field's value becomes null.
  * Discount types fixed_amount|percentage; create also accepts "fixed" (stored fixed_amount).
  * *Error body `{"error": <code>, "message": <text>}`; *429 carries `Retry-After` (seconds).
  * *POST /quotes/{id}/line_items answers 200 with the created items (array, sent order);
    DELETE and POST /quotes/email answer 200 with an empty body (the docs promise no body).
  * No webhooks. No updated_at in the JSON (the vendor exposes none); `_updated` is internal.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import random
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from syncd.clock import SYSTEM_CLOCK, Clock
from syncd.sandbox import quickquote_data as data
from syncd.sandbox.base import Sandbox

API = "/api/v1"
MAX_PAGE = 100
DEFAULT_PAGE = 25
LOCKED_MESSAGE = "This quote has already been accepted or declined and can no longer be edited."
_SETTABLE = {s.lower(): s for s in data.STATUSES}


class Refusal(Exception):
    """A 4xx raised inside a handler, answered in the vendor's error dialect."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, error, message


class QuickQuoteSandbox(Sandbox):
    """The Quick Quote REST API (v1) on loopback."""

    vendor = "quickquote"
    demo_currency = "USD"  # its API carries no currency (a Shopify app priced in dollars)
    retry_after_header = True  # *the vendor is silent; we send it and syncd honours it

    def __init__(
        self, *, requests_per_minute: int = 30, clock: Clock = SYSTEM_CLOCK,
        api_key: str = "qq-sandbox-key",
    ) -> None:
        self.api_key = api_key
        self.variants = data.catalog(random.Random(0))
        self.emails: list[dict[str, Any]] = []
        self._next_line_id = data.FIRST_LINE_ITEM_ID
        self._next_number = 1001
        super().__init__(requests_per_minute=requests_per_minute, clock=clock)
        self._next_id = 2450  # quote ids (the seed shows 2453) apart from quote numbers

    # ---- plumbing ---------------------------------------------------------------------------
    def base_url(self) -> str:
        """Quick Quote's API sits under its own prefix."""
        url = super().base_url()
        return url if not url or url.endswith(API) else url + API

    def routes(self) -> None:
        """Quick Quote's endpoints: quotes, their line items, and email."""
        self.route(API + "/quotes", self._wrap(self.list_quotes), ["GET"])
        self.route(API + "/quotes", self._wrap(self.create_quote), ["POST"])
        self.route(API + "/quotes/email", self._wrap(self.email_quote), ["POST"])
        self.route(API + "/quotes/{qid}", self._wrap(self.get_quote), ["GET"])
        self.route(API + "/quotes/{qid}", self._wrap(self.update_quote), ["PUT"])
        self.route(API + "/quotes/{qid}", self._wrap(self.delete_quote), ["DELETE"])
        self.route(API + "/quotes/{qid}/line_items", self._wrap(self.list_items), ["GET"])
        self.route(API + "/quotes/{qid}/line_items", self._wrap(self.add_items), ["POST"])
        self.route(API + "/quotes/{qid}/line_items/{lid}", self._wrap(self.update_item), ["PUT"])
        self.route(API + "/quotes/{qid}/line_items/{lid}", self._wrap(self.delete_item),
                   ["DELETE"])
        self.route(API + "/customers/{cid}/quotes", self._wrap(self.customer_quotes), ["GET"])

    def _wrap(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            body: Any = None
            if request.method in ("POST", "PUT"):
                ctype = request.headers.get("content-type", "")
                if not ctype.lower().startswith("application/json"):
                    return self.error(415, "Content-Type must be application/json",
                                      error="unsupported_media_type")
                raw = await request.body()
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    return self.error(400, "The request body is not valid JSON")
            try:
                with self.lock:
                    result: Response = handler(request, body)
                return result
            except Refusal as exc:
                return self.error(exc.status, exc.message, error=exc.code)

        return endpoint

    def authenticate(self, request: Request) -> Response | None:
        """Quick Quote takes the key in `x-api-key`."""
        if request.headers.get("x-api-key") != self.api_key:
            return self.error(401, "Missing or invalid API key", error="unauthorized")
        return None

    def error(self, status: int, message: str, **extra: Any) -> Response:
        """Quick Quote's errors carry a code word and a message."""
        code = extra.pop("error", None) or {400: "bad_request", 404: "not_found"}.get(
            status, "error")
        return JSONResponse({"error": code, "message": message, **extra}, status_code=status)

    def too_many(self, retry_after: int) -> Response:
        """Quick Quote's 429 names the limit in its message; Retry-After only if configured."""
        headers = {"Retry-After": str(retry_after)} if self.retry_after_header else {}
        return JSONResponse(
            {"error": "too_many_requests",
             "message": f"Rate limit of {self.requests_per_minute} requests per minute exceeded"},
            status_code=429, headers=headers)

    # ---- helpers ------------------------------------------------------------------------
    @property
    def quotes(self) -> dict[str, dict[str, Any]]:
        """The quotes, by id, each holding its line items."""
        return self.collection("quotes")

    def _quote(self, qid: str) -> dict[str, Any]:
        quote = self.quotes.get(qid)
        if quote is None:
            raise Refusal(404, "not_found", f"Quote {qid} not found")
        return quote

    def _editable(self, quote: dict[str, Any]) -> None:
        if quote["status"] not in data.EDITABLE:
            raise Refusal(400, "bad_request", LOCKED_MESSAGE)

    def _touch(self, quote: dict[str, Any]) -> None:
        quote["_updated"] = self.clock.time()

    def _line_id(self) -> int:
        self._next_line_id += 2  # odd ids above 2^53: not representable as a float
        return self._next_line_id - 2

    # ---- lists ------------------------------------------------------------------------------
    def _page(self, request: Request, quotes: list[dict[str, Any]]) -> Response:
        params = request.query_params
        try:
            size = int(params.get("page_size", DEFAULT_PAGE))
        except ValueError:
            size = 0
        if not 1 <= size <= MAX_PAGE:
            raise Refusal(400, "bad_request", "page_size must be between 1 and 100")
        after = 0
        if params.get("page"):
            try:
                after = int(base64.urlsafe_b64decode(params["page"].encode()).decode())
            except (ValueError, binascii.Error, UnicodeDecodeError):
                raise Refusal(400, "bad_request", "Invalid page cursor") from None
        ordered = sorted(quotes, key=lambda q: q["id"])
        rest = [q for q in ordered if q["id"] > after]
        page, more = rest[:size], len(rest) > size
        cursor = base64.urlsafe_b64encode(str(page[-1]["id"]).encode()).decode() if more else None
        return JSONResponse({"total_records": len(ordered), "next_page": cursor,
                             "data": [data.render_quote(q) for q in page]})

    def list_quotes(self, request: Request, body: Any) -> Response:
        """GET /quotes: every quote, a page at a time."""
        return self._page(request, list(self.quotes.values()))

    def customer_quotes(self, request: Request, body: Any) -> Response:
        """GET /customers/{id}/quotes: one customer's quotes, which syncd scans for a marker."""
        cid = request.path_params["cid"]
        mine = [q for q in self.quotes.values() if str(q.get("customer_id")) == cid]
        return self._page(request, mine)

    # ---- quotes -----------------------------------------------------------------------------
    def get_quote(self, request: Request, body: Any) -> Response:
        """GET /quotes/{id}: one quote with its line items."""
        return JSONResponse(data.render_quote(self._quote(request.path_params["qid"])))

    def create_quote(self, request: Request, body: Any) -> Response:
        """POST /quotes: a new quote, which needs the customer's email and name."""
        if not isinstance(body, dict):
            raise Refusal(400, "bad_request", "A quote object is required")
        missing = [k for k in ("email", "first_name", "last_name") if not body.get(k)]
        if missing:
            raise Refusal(400, "validation_error", f"{', '.join(missing)} required")
        items = [self._new_item(i) for i in self._item_list(body.get("line_items") or [])]
        qid = self.new_id()
        quote: dict[str, Any] = {
            "id": qid, "quote_number": self._next_number, "status": "Created",
            "created_on": data.created_on(self.clock.now()),
            "custom_fields": dict.fromkeys(data.CUSTOM_FIELDS), "line_items": items,
        }
        self._next_number += 1
        self._set_fields(quote, body, creating=True)
        self._touch(quote)
        self.quotes[str(qid)] = quote
        return JSONResponse(data.render_quote(quote))

    def update_quote(self, request: Request, body: Any) -> Response:
        """PUT /quotes/{id}: change an editable quote, its status only to the words a user may set."""
        quote = self._quote(request.path_params["qid"])
        self._editable(quote)
        if not isinstance(body, dict):
            raise Refusal(400, "bad_request", "A quote object is required")
        status = body.get("status")
        if status is not None and status not in _SETTABLE:
            raise Refusal(400, "validation_error", f"Invalid status '{status}'. Valid statuses "
                          "are created, sent, viewed, accepted, declined, canceled and ordered")
        for key in ("email", "first_name", "last_name"):
            if key in body and not body[key]:
                raise Refusal(400, "validation_error", f"{key} cannot be empty")
        self._set_fields(quote, body, creating=False)
        if status is not None:
            quote["status"] = _SETTABLE[status]
        self._touch(quote)
        return JSONResponse(data.render_quote(quote))

    def _set_fields(self, quote: dict[str, Any], body: dict[str, Any], *, creating: bool) -> None:
        if "email" in body and "@" not in str(body["email"]):
            raise Refusal(400, "validation_error", "email is not a valid email address")
        for key in ("email", "first_name", "last_name", "phone", "customer_id", "remarks",
                    "internal_notes", "public_notes", "tags"):
            if key in body:
                quote[key] = body[key]
        if "assignee_id" in body:
            quote["assignee"] = {"assignee_id": body["assignee_id"], "assignee_name": "Staff User"}
        if "discount" in body:
            quote["discount"] = self._discount(body["discount"], creating=creating)
        if "shipping" in body:
            shipping = body["shipping"] or {}
            price = shipping.get("shipping_price")
            if price is not None and not isinstance(price, int | float):
                raise Refusal(400, "validation_error", "shipping_price must be a number")
            quote["shipping"] = {"shipping_name": shipping.get("shipping_name"),
                                 "shipping_price": price, "shipping_handle": "custom"}
            if not body["shipping"]:
                quote["shipping"] = None
        if "custom_fields" in body:
            data.apply_custom_fields(quote["custom_fields"], body["custom_fields"])

    @staticmethod
    def _discount(value: Any, *, creating: bool) -> dict[str, Any] | None:
        if not value:
            return None
        kinds: dict[Any, str] = {"fixed_amount": "fixed_amount", "percentage": "percentage"}
        if creating:
            kinds["fixed"] = "fixed_amount"  # the create example's spelling
        kind = kinds.get(value.get("discount_type")) if isinstance(value, dict) else None
        amount = value.get("discount_amount") if isinstance(value, dict) else None
        if kind is None:
            raise Refusal(400, "validation_error",
                          "Valid discount types are fixed_amount and percentage")
        if not isinstance(amount, int | float) or isinstance(amount, bool) or amount < 0:
            raise Refusal(400, "validation_error", "discount_amount must be a positive number")
        reason = value.get("discount_reason") or value.get("reason")
        return {"discount_type": kind, "discount_amount": amount, "discount_reason": reason}

    def delete_quote(self, request: Request, body: Any) -> Response:
        """DELETE /quotes/{id}: remove a quote."""
        qid = request.path_params["qid"]
        self._quote(qid)
        del self.quotes[qid]
        return Response(status_code=200)

    def email_quote(self, request: Request, body: Any) -> Response:
        """POST /quotes/email: send a quote, which marks a new one Sent."""
        if not isinstance(body, dict) or body.get("quote_id") in (None, ""):
            raise Refusal(400, "validation_error", "quote_id is required")
        quote = self._quote(str(body["quote_id"]))
        self.emails.append(dict(body))
        if quote["status"] == "Created":
            quote["status"] = "Sent"
            self._touch(quote)
        return Response(status_code=200)

    # ---- line items -------------------------------------------------------------------------
    @staticmethod
    def _item_list(value: Any) -> list[dict[str, Any]]:
        if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
            raise Refusal(400, "bad_request", "line_items must be an array of line item objects")
        return value

    def _new_item(self, given: dict[str, Any]) -> dict[str, Any]:
        quantity = given.get("quantity", 1)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise Refusal(400, "validation_error", "quantity must be a whole number above 0")
        props = given.get("properties") or []
        props = [props] if isinstance(props, dict) else props
        item_props = [{"id": n + 1, "key": p.get("key"), "value": p.get("value")}
                      for n, p in enumerate(props) if isinstance(p, dict)]
        if given.get("custom_product"):
            price = given.get("price")
            if not given.get("title") or not isinstance(price, int | float) or price < 0:
                raise Refusal(400, "validation_error",
                              "price and title are required for custom products")
            return {"id": self._line_id(), "custom_product": True, "title": given["title"],
                    "price": Decimal(repr(price)), "quantity": quantity, "sku": given.get("sku"),
                    "barcode": given.get("barcode"), "grams": given.get("weight"),
                    "custom_image_path": given.get("image_url"),
                    "taxable": bool(given.get("taxable", True)),
                    "requires_shipping": bool(given.get("requires_shipping", True)),
                    "discount": self._discount(given.get("discount"), creating=True),
                    "item_properties": item_props}
        try:
            variant = self.variants[int(given.get("variant_id"))]  # type: ignore[arg-type]
        except (TypeError, ValueError, KeyError):
            raise Refusal(400, "validation_error",
                          "variant_id is required and must be a product variant of the shop"
                          ) from None
        return {"id": self._line_id(), "custom_product": False,
                "variant_id": int(given["variant_id"]), "quantity": quantity,
                "item_properties": item_props,
                **{k: variant[k] for k in ("product_id", "title", "variant_title", "price",
                                           "sku", "grams", "taxable", "image")}}

    def _item(self, quote: dict[str, Any], lid: str) -> dict[str, Any]:
        items: list[dict[str, Any]] = quote["line_items"]
        for item in items:
            if str(item["id"]) == lid:
                return item
        raise Refusal(404, "not_found", f"Line item {lid} not found")

    def list_items(self, request: Request, body: Any) -> Response:
        """GET a quote's line items."""
        quote = self._quote(request.path_params["qid"])
        return JSONResponse([data.render_item(i) for i in quote["line_items"]])

    def add_items(self, request: Request, body: Any) -> Response:
        """POST line items to an editable quote; the answer lists the new ones."""
        quote = self._quote(request.path_params["qid"])
        self._editable(quote)
        items = [self._new_item(i) for i in self._item_list(body)]
        quote["line_items"].extend(items)
        self._touch(quote)
        return JSONResponse([data.render_item(i) for i in items])

    def update_item(self, request: Request, body: Any) -> Response:
        """PUT one line item of an editable quote."""
        quote = self._quote(request.path_params["qid"])
        self._editable(quote)
        item = self._item(quote, request.path_params["lid"])
        if not isinstance(body, dict):
            raise Refusal(400, "bad_request", "A line item object is required")
        changes = {k: v for k, v in body.items() if k != "id"}
        if not item["custom_product"] and set(changes) - {"quantity"}:
            raise Refusal(400, "validation_error",
                          "Only the quantity can be updated for Shopify product line items")
        if "quantity" in changes:
            qty = changes["quantity"]
            if not isinstance(qty, int) or isinstance(qty, bool) or qty < 1:
                raise Refusal(400, "validation_error", "quantity must be a whole number above 0")
            item["quantity"] = qty
        if "price" in changes:
            price = changes["price"]
            if not isinstance(price, int | float) or isinstance(price, bool) or price < 0:
                raise Refusal(400, "validation_error", "price must be a number")
            item["price"] = Decimal(repr(price))
        for key in ("title", "sku", "barcode", "taxable", "requires_shipping", "grams"):
            if key in changes:
                item[key] = changes[key]
        if "discount" in changes:
            item["discount"] = self._discount(changes["discount"], creating=False)
        self._touch(quote)
        return JSONResponse(data.render_item(item))

    def delete_item(self, request: Request, body: Any) -> Response:
        """DELETE one line item of an editable quote."""
        quote = self._quote(request.path_params["qid"])
        self._editable(quote)
        item = self._item(quote, request.path_params["lid"])
        quote["line_items"].remove(item)
        self._touch(quote)
        return Response(status_code=200)

    # ---- the standard-suite contract ----------------------------------------------------------
    def seed_data(
        self, *, companies: int = 20, proposals: int = 120, max_items: int = 20, seed: int = 7
    ) -> None:
        """Replace the data with seeded quotes, in the variants the sandbox was built with."""
        rng = random.Random(seed)
        with self.lock:
            quote_ids = [self.new_id() for _ in range(proposals)]
            line_ids = [self._line_id() for _ in range(proposals * max(1, max_items))]
            generated = data.generate_quotes(
                rng, self.variants, companies=companies, proposals=proposals,
                max_items=max_items, quote_ids=quote_ids, line_ids=line_ids)
            for quote in generated:
                quote["_updated"] = self.clock.time()
                self.quotes[str(quote["id"])] = quote
            self._next_number = max(self._next_number, 1001 + proposals)

    def account_entry(self, name: str) -> dict[str, Any]:
        """Quick Quote accounts carry only the API key."""
        return {"name": name, "vendor": self.vendor, "base_url": self.base_url(),
                "requests_per_minute": self.requests_per_minute,
                "auth": {"api_key": self.api_key}}

    def expected_counts(self) -> dict[str, int]:
        """Rows a backfill of the listed quotes yields (a corrupted one still counts: the
        suite subtracts it): contacts/companies are distinct keys over the quotes
        (customer_id else lowercased email; casefolded, single-spaced company name).
        """
        with self.lock:
            live = list(self.quotes.values())
            contacts = {str(q["customer_id"]) if q.get("customer_id") is not None
                        else "email:" + q["email"].strip().lower() for q in live}
            companies = {" ".join(q["custom_fields"][data.COMPANY_FIELD_ID].split()).casefold()
                         for q in live
                         if isinstance(q["custom_fields"].get(data.COMPANY_FIELD_ID), str)
                         and q["custom_fields"][data.COMPANY_FIELD_ID].strip()}
            return {"companies": len(companies), "contacts": len(contacts),
                    "proposals": len(live),
                    "line_items": sum(len(q["line_items"]) for q in live)}

    def lower_bound_requests(self) -> int:
        """One request per 100 quotes; the last page's null `next_page` ends the list."""
        with self.lock:
            return max(1, math.ceil(len(self.quotes) / MAX_PAGE))

    def corrupt_one_record(self) -> str:
        """The quote's `line_items` as text instead of a list (its id stays readable): an
        unusable structure, so syncd must quarantine the quote. An unknown status word or
        a number as a string is not enough: syncd keeps such quotes (syncd/drift.py).
        """
        with self.lock:
            qid = sorted(self.quotes, key=int)[len(self.quotes) // 2]
            self.quotes[qid]["_override"] = {"line_items": f"see /quotes/{qid}/line_items"}
            return qid

    def override(self, remote_id: str, item: int | None = None, **fields: Any) -> None:
        """Make the quote (or its `item`-th line item, from 0) answer `fields` instead of
        what the sandbox computes: what another build of the vendor says (drift tests).
        """
        with self.lock:
            quote = self.quotes[remote_id]
            target = quote if item is None else quote["line_items"][item]
            target.setdefault("_override", {}).update(fields)
            self._touch(quote)

    def remote_edit_title(self, remote_id: str, title: str) -> None:
        """The title syncd sees is the quote's internal notes (the merchant edits them in the app)."""
        with self.lock:
            quote = self.quotes[remote_id]
            quote["internal_notes"] = title
            self._touch(quote)

    def proposal_title(self, remote_id: str) -> str | None:
        """The quote's internal notes, which syncd uses as its title."""
        with self.lock:
            quote = self.quotes.get(remote_id)
            return None if quote is None else quote.get("internal_notes")

    def remote_edit_other(self, remote_id: str) -> tuple[str, Any]:
        """The merchant moves the quote on (Created -> Sent -> Viewed -> Sent): still
        editable, but a different status.
        """
        with self.lock:
            quote = self.quotes[remote_id]
            quote["status"] = {"Created": "Sent", "Sent": "Viewed"}.get(quote["status"], "Sent")
            self._touch(quote)
            return "status", quote["status"].lower()

    def proposal_fields(self, remote_id: str) -> dict[str, Any]:
        """The quote with its internal notes as `title`."""
        with self.lock:
            quote = json.loads(json.dumps(self.quotes[remote_id], default=str))
        quote.pop("_updated", None)
        quote["title"] = quote.pop("internal_notes", None)
        return dict(quote)

    def new_proposal_refs(self) -> dict[str, str | None]:
        """A Shopify customer with a "Company Name" on one of their quotes."""
        with self.lock:
            for qid in sorted(self.quotes, key=int):
                quote = self.quotes[qid]
                name = quote["custom_fields"].get(data.COMPANY_FIELD_ID)
                if quote.get("customer_id") is not None and isinstance(name, str) and name.strip():
                    return {"company_id": "name:" + " ".join(name.split()).casefold(),
                            "contact_id": str(quote["customer_id"])}
        raise LookupError("no quote with a customer and a company name")

    def count_proposals(self) -> int:
        """Quick Quote deletes quotes outright, so every quote held is live."""
        with self.lock:
            return len(self.quotes)
