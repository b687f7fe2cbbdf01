"""Automa.Net sandbox: quotes, RFQ lists, webhook subscriptions and the webhook call log.

Faithful to the seed and to syncd's project decisions (shared/vendors.md):
  * `Authorization: Bearer <api_key>`; otherwise 401 `{"message": "Unauthorized",
    "statusCode": 401}`. Errors are NestJS bodies `{message, error, statusCode}`.
  * 30 requests/min; 429 `{"statusCode": 429, "message": "ThrottlerException: Too Many
    Requests"}` with Retry-After (assumed: NestJS throttler sends it).
  * Lists: `page` (default 1), `perPage` (default 20, at most 100 -- above is a 400),
    `data{items, perPage, currentPage, lastPage, total}`.
  * Put Quote needs every required field (number<=32, currency, buyer, seller,
    additional_costs<=100, non-empty items, payment_term, expires_at) or answers 400; it is
    a full replacement (omitted items are deleted, omitted note cleared) and only while
    the quote is a draft. *Fields its schema has no place for (an address's `email`) are
    kept; `expires_at` is a date, stored as the end of that day (seeded quotes too).
  * Only calls to subscribed event types are logged. The sandbox logs every quote change
    as a call of the matching subscription: create/put/send/edit -> QUOTE_RECEIVED,
    decline -> QUOTE_DECLINED, accept -> QUOTE_ACCEPTED, expiry -> QUOTE_EXPIRED, opening
    -> QUOTE_OPENING_TRACKED (the vendor's enum has no "quote updated" event). Changes
    made through the API are logged without an HTTP delivery; `emit_webhook` delivers.
  * Quotes carry `reference_number` (the create's referenceNumber). The seed's quote
    schema does not show it: a sandbox assumption that lets syncd find a lost create.
"""

from __future__ import annotations

import copy
import json
import math
import random
import re
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any, ClassVar

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from syncd.clock import SYSTEM_CLOCK, Clock
from syncd.sandbox import automa_data as data
from syncd.sandbox.base import Handler, Sandbox

MAX_PER_PAGE = 100
QUOTE_EVENTS = tuple(e for e in data.EVENT_TYPES if e.startswith("QUOTE_"))
STATUS_EVENT = {"draft": "QUOTE_RECEIVED", "sent": "QUOTE_RECEIVED",
                "accepted": "QUOTE_ACCEPTED", "declined": "QUOTE_DECLINED",
                "expired": "QUOTE_EXPIRED"}
SEED_HOOK_URL = "http://127.0.0.1:9/automa/webhooks"  # a receiver that is down
SEED_HOOK_SECRET = "sandbox-webhook-secret"


class BadRequest(Exception):
    """A NestJS 400 (or another status) raised from a handler."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class AutomaSandbox(Sandbox):
    """Automa.Net's integration API as syncd assumes it (paths: vendors.md decisions)."""

    vendor = "automa"
    retry_after_header = True
    # the call log's event types are Automa's own protocol (the subscription enum): a
    # drifted word there would be a different event, not another spelling of the same one
    drift_exempt: ClassVar[frozenset[str]] = frozenset({"eventType"})

    def __init__(
        self, *, requests_per_minute: int = 30, clock: Clock = SYSTEM_CLOCK,
        api_key: str = "automa-sandbox-key",
    ) -> None:
        self.api_key = api_key
        self.rng = random.Random(0)
        self.seller = data.make_seller(random.Random(99))
        self.corrupted: set[str] = set()
        self._last_stamp = ""
        super().__init__(requests_per_minute=requests_per_minute, clock=clock)

    # ---- routes ----------------------------------------------------------------------------
    def routes(self) -> None:
        """Automa.Net's endpoints: RFQs, quotes and their send and decline, webhooks and their calls."""
        self.route("/rfqs/received", self._rfqs("rfqs_received"), ["GET"])
        self.route("/rfqs/sent", self._rfqs("rfqs_sent"), ["GET"])
        self.route("/quotes", self.create_quote, ["POST"])
        self.route("/quotes/{uuid}", self.get_quote, ["GET"])
        self.route("/quotes/{uuid}", self.put_quote, ["PUT"])
        self.route("/quotes/{uuid}/send", self.send_quote, ["POST"])
        self.route("/quotes/{uuid}/decline", self.decline_quote, ["POST"])
        self.route("/webhooks", self.list_webhooks, ["GET"])
        self.route("/webhooks", self.create_webhook, ["POST"])
        self.route("/webhooks/calls", self.list_calls, ["GET"])

    def authenticate(self, request: Request) -> Response | None:
        """Automa.Net takes the API key as a bearer token and answers 401 in its NestJS shape."""
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"message": "Unauthorized", "statusCode": 401}, status_code=401)
        return None

    def too_many(self, retry_after: int) -> Response:
        """Automa.Net's 429 is NestJS's ThrottlerException, with Retry-After."""
        return JSONResponse({"statusCode": 429, "message": "ThrottlerException: Too Many Requests"},
                            status_code=429, headers={"Retry-After": str(retry_after)})

    def error(self, status: int, message: str, **extra: Any) -> Response:
        """Automa.Net's errors are NestJS's: message, status phrase and status code."""
        return JSONResponse({"message": message, "error": HTTPStatus(status).phrase,
                             "statusCode": status, **extra}, status_code=status)

    # ---- helpers ---------------------------------------------------------------------------
    def now(self) -> str:
        """A strictly increasing ISO timestamp, so the call log has one order."""
        text = data.stamp(self.clock.now())
        if text <= self._last_stamp:
            last = datetime.fromisoformat(self._last_stamp.replace("Z", "+00:00"))
            text = data.stamp(last + timedelta(milliseconds=1))
        self._last_stamp = text
        return text

    def _page(self, request: Request, items: list[dict[str, Any]],
              copy_page: bool = False) -> dict[str, Any]:
        """One page of `items`; `copy_page` deep-copies only the page's items (a snapshot
        of the stored records, taken under the lock, without copying the whole list).
        """
        page = _int_param(request, "page", 1) or 1
        per_page = _int_param(request, "perPage", 20) or 20
        if per_page > MAX_PER_PAGE:
            raise BadRequest(f"perPage must not be greater than {MAX_PER_PAGE}")
        start = (page - 1) * per_page
        chunk = items[start:start + per_page]
        return {"data": {"items": copy.deepcopy(chunk) if copy_page else chunk,
                         "perPage": per_page,
                         "currentPage": page, "lastPage": max(1, math.ceil(len(items) / per_page)),
                         "total": len(items)}}

    async def _json(self, request: Request) -> Any:
        try:
            return json.loads(await request.body() or b"null")
        except ValueError:
            raise BadRequest("Unexpected token in JSON body") from None

    def _quote(self, uuid: str) -> dict[str, Any]:
        quote = self.collection("quotes").get(uuid)
        if quote is None:
            raise BadRequest("Quote not found", 404)
        return quote

    def _guard(self, handler: Handler) -> Handler:
        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except BadRequest as exc:
                return self.error(exc.status, str(exc))
        return run

    def route(self, path: str, handler: Handler, methods: list[str]) -> None:
        """Every Automa.Net handler answers a `BadRequest` as the vendor's 400."""
        super().route(path, self._guard(handler), methods)

    # ---- RFQs ------------------------------------------------------------------------------
    def _rfqs(self, name: str) -> Any:
        async def handler(request: Request) -> Response:
            wanted = request.query_params.getlist("uuids") or request.query_params.getlist(
                "uuids[]")
            with self.lock:
                rfqs = [r for r in self.collection(name).values() if not wanted
                        or r["uuid"] in wanted]
                return JSONResponse(self._page(request, rfqs, copy_page=True))
        return handler

    # ---- quotes ----------------------------------------------------------------------------
    async def get_quote(self, request: Request) -> Response:
        """GET /quotes/{uuid}: one quote under `data`."""
        with self.lock:
            return JSONResponse({"data": copy.deepcopy(self._quote(request.path_params["uuid"]))})

    async def create_quote(self, request: Request) -> Response:
        """POST /quotes: a new draft quote, validated as Automa.Net validates it."""
        body = await self._json(request)
        if not isinstance(body, dict):
            raise BadRequest("buyer should not be empty; items must be an array")
        problems = data.check_create(body)
        if problems:
            raise BadRequest("; ".join(problems))
        with self.lock:
            company, user = self._contractor(body["buyer"])
            number = len(self.collection("quotes")) + 1
            created = self.clock.now()
            quote = data.make_quote(self.rng, number, data.buyer_of(company, user), self.seller,
                                    created, "draft", 1)
            quote["currency"] = "PLN"  # the seller's default currency until a Put changes it
            quote["items"] = [self._priced_item(i, "PLN") for i in body["items"]]
            quote.update(note=body.get("note"), reference_number=body.get("referenceNumber"),
                         additional_costs=[], tracked_openings=[], created_at=self.now())
            quote["updated_at"] = quote["created_at"]
            quote["status"]["set_at"] = quote["created_at"]
            data.price_quote(quote)
            self.collection("quotes")[quote["uuid"]] = quote
            deal = data.new_uuid(self.rng)
            self.collection("deals")[deal] = {"uuid": deal, "quoteUuid": quote["uuid"],
                                              "referenceNumber": body.get("referenceNumber")}
            self._changed("QUOTE_RECEIVED", quote)
            return JSONResponse({"data": {"uuid": quote["uuid"], "dealUuid": deal}},
                                status_code=201)

    def _contractor(self, buyer: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        uuid = buyer.get("contractorUuid")
        company = next((c for c in self.collection("companies").values()
                        if c["contractor_uuid"] == uuid), None)
        if company is None:
            raise BadRequest(f"Contractor {uuid} not found", 404)
        person = buyer.get("contractorContactPersonUuid")
        users = company["_users"]
        user = next((u for u in users if u["uuid"] == person), None) if person else users[0]
        if user is None:
            raise BadRequest(f"Contact person {person} does not belong to the contractor")
        return company, user

    def _priced_item(self, item: dict[str, Any], currency: str) -> dict[str, Any]:
        made = data.make_item(self.rng, self.seller["company"]["uuid"], currency)
        offer = item["offer"]
        made["offer"]["mpn"] = offer["mpn"]
        if offer.get("brandName"):
            made["offer"]["brand"]["name"] = offer["brandName"]
        if offer.get("conditionName"):
            made["offer"]["condition"]["name"] = offer["conditionName"]
        price = data.money(data.catalog_price(offer["mpn"]))
        made.update(quantity=item["quantity"], unit_nett_price=price, tax_rate="23.00",
                    discount={"type": "none", "percentage": 0, "amount": "0.00"})
        made["offer"]["price"]["unit_nett_price"] = price
        return made

    async def put_quote(self, request: Request) -> Response:
        """PUT /quotes/{uuid}: replace a quote's number, items, costs and terms."""
        body = await self._json(request)
        problems = data.check_put(body)
        if problems:
            raise BadRequest("; ".join(problems))
        with self.lock:
            quote = self._quote(request.path_params["uuid"])
            if quote["status"]["name"] != "draft":
                raise BadRequest(f"Quote can be edited only in draft status (status: "
                                 f"{quote['status']['name']})")
            updated = self._replaced(quote, body)
            self.collection("quotes")[quote["uuid"]] = updated
            self._changed("QUOTE_RECEIVED", updated)
            return JSONResponse({"data": {"meta": {}, "success": True,
                                          "message": "Quote has been updated",
                                          "data": copy.deepcopy(updated)}})

    def _replaced(self, quote: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """Full replacement: what the body omits is gone (items, note, costs)."""
        if body["seller"].get("company", {}).get("uuid") != self.seller["company"]["uuid"]:
            raise BadRequest("seller.company.uuid must be your company")
        new = copy.deepcopy(quote)
        company = self.collection("companies").get(body["buyer"].get("company", {}).get("uuid"))
        if company is None:
            raise BadRequest("buyer.company.uuid must be an existing company")
        person = (body["buyer"].get("user") or {}).get("uuid")
        user = next((u for u in company["_users"] if u["uuid"] == person), None)
        new["buyer"] = data.buyer_of(company, user)
        for key in ("billing_address", "shipping_address", "eu_vat", "name", "number"):
            if key in body["buyer"]["company"]:
                given = copy.deepcopy(body["buyer"]["company"][key])
                kept = new["buyer"]["company"].get(key)
                if key.endswith("_address") and isinstance(given, dict) and isinstance(kept, dict):
                    # *the Put schema's addresses have no `email`: a Put cannot clear it
                    given = {**{k: v for k, v in kept.items() if k == "email"}, **given}
                new["buyer"]["company"][key] = given
        existing = {i["uuid"]: i for i in quote["items"]}
        items = []
        for given in body["items"]:
            if given.get("uuid") and given["uuid"] not in existing:
                raise BadRequest(f"Quote item {given['uuid']} does not belong to this quote")
            item = copy.deepcopy(existing.get(given.get("uuid"))) or data.make_item(
                self.rng, self.seller["company"]["uuid"], body["currency"])
            offer = {**item["offer"], **copy.deepcopy(given.get("offer") or {})}
            item.update({k: copy.deepcopy(v) for k, v in given.items() if k != "offer"})
            item["offer"] = offer
            item.setdefault("discount", {"type": "none", "percentage": 0, "amount": "0.00"})
            items.append(item)
        new.update(number=body["number"], note=body.get("note"), currency=body["currency"],
                   items=items, payment_term=copy.deepcopy(body["payment_term"]),
                   additional_costs=[{k: c.get(k) for k in ("name", "nett_price", "tax_rate")}
                                     for c in body["additional_costs"]],
                   expires_at=f"{body['expires_at'][:10]}T23:59:59.000Z", updated_at=self.now())
        data.price_quote(new)
        return new

    async def send_quote(self, request: Request) -> Response:
        """POST /quotes/{uuid}/send: send a draft quote."""
        with self.lock:
            quote = self._quote(request.path_params["uuid"])
            if quote["status"]["name"] != "draft":
                raise BadRequest(f"Only draft quotes can be sent (status: "
                                 f"{quote['status']['name']})")
            self._set_status(quote, "sent", None)
            self._changed("QUOTE_RECEIVED", quote)
            return JSONResponse({"data": {"uuid": quote["uuid"]}}, status_code=201)

    async def decline_quote(self, request: Request) -> Response:
        """POST /quotes/{uuid}/decline: decline a quote, which is how Automa.Net removes one."""
        body = await self._json(request) or {}
        reason = body.get("reason") if isinstance(body, dict) else None
        if reason is not None and (not isinstance(reason, str) or len(reason) > 1024):
            raise BadRequest("reason must be shorter than or equal to 1024 characters")
        with self.lock:
            quote = self._quote(request.path_params["uuid"])
            if quote["status"]["name"] not in ("draft", "sent"):
                raise BadRequest(f"Quote cannot be declined (status: {quote['status']['name']})")
            self._set_status(quote, "declined", reason)
            self._changed("QUOTE_DECLINED", quote)
            return JSONResponse({"data": {"uuid": quote["uuid"]}}, status_code=201)

    def _set_status(self, quote: dict[str, Any], name: str, reason: str | None) -> None:
        when = self.now()
        quote["status"] = {"name": name, "set_at": when,
                           "set_by": self.seller["user"]["uuid"], "reason": reason}
        quote["updated_at"] = when

    # ---- webhooks --------------------------------------------------------------------------
    async def list_webhooks(self, request: Request) -> Response:
        """GET /webhooks: the subscriptions, filtered by event type, a page at a time."""
        kinds = request.query_params.getlist("eventTypes")
        with self.lock:
            subs = [{k: s[k] for k in ("uuid", "eventType", "isEnabled", "createdAt", "updatedAt")}
                    for s in self.collection("webhooks").values()
                    if not kinds or s["eventType"] in kinds]
        return JSONResponse(self._page(request, _ordered(request, subs)))

    async def create_webhook(self, request: Request) -> Response:
        """POST /webhooks: a new subscription, validated as Automa.Net validates it."""
        body = await self._json(request)
        problems = data.check_webhook(body)
        if problems:
            raise BadRequest("; ".join(problems))
        with self.lock:
            sub = self.subscribe(body["eventType"], body["url"], body["authorization"])
        return JSONResponse({"data": {"uuid": sub["uuid"]}}, status_code=201)

    def subscribe(self, event_type: str, url: str, authorization: str) -> dict[str, Any]:
        """Add a subscription, for the route and for tests that subscribe directly."""
        when = self.now()
        sub: dict[str, Any] = {"uuid": data.new_uuid(self.rng), "eventType": event_type, "url": url,
               "authorization": authorization, "isEnabled": True, "createdAt": when,
               "updatedAt": when}
        self.collection("webhooks")[sub["uuid"]] = sub
        return sub

    async def list_calls(self, request: Request) -> Response:
        """GET /webhooks/calls: the webhook deliveries made, a page at a time."""
        with self.lock:
            calls = list(self.collection("calls").values())
            return JSONResponse(self._page(request, _ordered(request, calls), copy_page=True))

    def _payload(self, sub: dict[str, Any], event_type: str, obj: dict[str, Any]) -> dict[str, Any]:
        return {"timestamp": int(self.clock.time() * 1000), "webhookUuid": sub["uuid"],
                "objectUuid": obj["uuid"], "eventType": event_type, "object": data.clone(obj)}

    def _log_call(self, sub: dict[str, Any], payload: dict[str, Any], status: int,
                  response_body: Any, url: str | None = None) -> None:
        entry = data.call_entry(self.rng, {**sub, "url": url or sub["url"]}, payload, self.now(),
                                status, response_body)
        self.collection("calls")[entry["uuid"]] = entry

    def _changed(self, event_type: str, quote: dict[str, Any]) -> None:
        """A quote changed: one logged call per subscription of that event (no delivery)."""
        for sub in list(self.collection("webhooks").values()):
            if sub["eventType"] == event_type and sub["isEnabled"]:
                self._log_call(sub, self._payload(sub, event_type, quote), 200, {})

    def emit_webhook(self, event_type: str, obj_id: str, url: str | None = None) -> list[int]:
        """POST the event to every subscription of `event_type` (or only to `url`), with the
        subscription's `authorization` as the Authorization header; log each call.
        """
        with self.lock:
            obj = (self.collection("quotes").get(obj_id) or self.collection("rfqs_received")
                   .get(obj_id) or self.collection("rfqs_sent").get(obj_id) or {"uuid": obj_id})
            subs = [s for s in self.collection("webhooks").values()
                    if s["eventType"] == event_type and s["isEnabled"]]
        statuses = []
        for sub in subs:
            target = url or sub["url"]
            payload = self._payload(sub, event_type, obj)
            headers = {"Authorization": sub["authorization"], "Content-Type": "application/json"}
            try:
                answer = httpx.post(target, content=json.dumps(payload), headers=headers,
                                    timeout=10)
                status, reply = answer.status_code, _body_of(answer)
            except httpx.HTTPError as exc:
                status, reply = 0, {"error": type(exc).__name__}
            with self.lock:
                self.webhook_deliveries.append({"url": target, "headers": headers,
                                                "payload": payload, "status": status})
                self._log_call(sub, payload, status, reply, target)
            statuses.append(status)
        return statuses

    # ---- vendor-side actions (what buyers and the UI do) ------------------------------------
    def accept_quote(self, uuid: str) -> None:
        """The buyer accepts a quote, which only the buyer's side of Automa.Net can do."""
        self._buyer_action(uuid, "accepted", "QUOTE_ACCEPTED")

    def expire_quote(self, uuid: str) -> None:
        """A quote expires, as one does on Automa.Net when its validity runs out."""
        self._buyer_action(uuid, "expired", "QUOTE_EXPIRED")

    def track_opening(self, uuid: str) -> None:
        """The buyer opens a quote in the portal, which Automa.Net tracks and announces."""
        with self.lock:
            quote = self._quote(uuid)
            quote["tracked_openings"].append({"type": "portal", "opened_at": self.now()})
            self._changed("QUOTE_OPENING_TRACKED", quote)

    def _buyer_action(self, uuid: str, status: str, event: str) -> None:
        with self.lock:
            quote = self._quote(uuid)
            self._set_status(quote, status, None)
            self._changed(event, quote)

    # ---- standard-suite contract -----------------------------------------------------------
    def seed_data(
        self, *, companies: int = 20, proposals: int = 120, max_items: int = 20, seed: int = 7
    ) -> None:
        """Buyers, quotes (one logged QUOTE_* call each), RFQs and the five QUOTE_*
        subscriptions `syncd webhooks register` would have made.
        """
        rng = random.Random(seed)
        self.rng = random.Random(seed + 1)
        with self.lock:
            self.store.clear()
            self.corrupted.clear()
            for event in QUOTE_EVENTS:
                self.subscribe(event, SEED_HOOK_URL, SEED_HOOK_SECRET)
            buyers = [data.make_company(rng, i) for i in range(max(1, companies))]
            self.collection("companies").update({c["uuid"]: c for c in buyers})
            start = self.clock.now() - timedelta(days=proposals + 30)
            statuses = ("draft", "sent", "sent", "accepted", "declined", "expired")
            for n in range(proposals):
                company = rng.choice(buyers)
                quote = data.make_quote(rng, n + 1, data.buyer_of(
                    company, rng.choice(company["_users"])), self.seller,
                    start + timedelta(days=n), rng.choice(statuses), max_items)
                self.collection("quotes")[quote["uuid"]] = quote
                self._changed(STATUS_EVENT[quote["status"]["name"]], quote)
            for name, count in (("rfqs_received", proposals // 5), ("rfqs_sent", proposals // 10)):
                for n in range(count):
                    rfq = data.make_rfq(rng, n + 1, self.seller, rng.choice(buyers),
                                        start + timedelta(days=n, hours=3))
                    self.collection(name)[rfq["uuid"]] = rfq

    def account_entry(self, name: str) -> dict[str, Any]:
        """Automa.Net accounts carry only the API key."""
        return {"name": name, "vendor": "automa", "base_url": self.base_url(),
                "requests_per_minute": self.requests_per_minute,
                "auth": {"api_key": self.api_key}}

    def expected_counts(self) -> dict[str, int]:
        """Rows of every quote, corrupted ones included (the suite subtracts those)."""
        quotes = list(self.collection("quotes").values())
        return {
            "companies": len({q["buyer"]["company"]["uuid"] for q in quotes}),
            "contacts": len({q["buyer"]["user"]["uuid"] for q in quotes if q["buyer"]["user"]}),
            "proposals": len(quotes),
            "line_items": sum(len(q["items"]) for q in quotes if isinstance(q["items"], list)),
        }

    def lower_bound_requests(self) -> int:
        """Call-log pages + the two RFQ lists' pages, + one quote fetch per logged quote
        whose entries carry no usable `eventObject` (each entry carries the quote as the
        seed shows, so normally none: the snapshot is written, verified later).
        """
        calls = list(self.collection("calls").values())
        fetched = {c["eventObjectUuid"] for c in calls
                   if c["result"]["requestBody"]["eventType"].startswith("QUOTE_")
                   and (not c.get("eventObject") or c["eventObjectUuid"] in self.corrupted)}
        return sum(max(1, math.ceil(n / MAX_PER_PAGE)) for n in (
            len(calls), len(self.collection("rfqs_received")), len(self.collection("rfqs_sent"))
        )) + len(fetched)

    def verification_requests(self) -> int:
        """What verifying every snapshot costs: one quote fetch per quote written from one."""
        calls = list(self.collection("calls").values())
        return len({c["eventObjectUuid"] for c in calls
                    if c["result"]["requestBody"]["eventType"].startswith("QUOTE_")
                    and c.get("eventObject") and c["eventObjectUuid"] not in self.corrupted})

    def drop_event_objects(self, quote_uuid: str, empty: dict[str, Any] | None = None) -> None:
        """Log entries about a quote without its object (absent, or `empty` as given:
        the seed's example shows `"eventObject": {}`), as a build of Automa.Net that logs
        no object would: syncd must then fetch the quote by uuid.
        """
        with self.lock:
            for entry in self.collection("calls").values():
                if entry["eventObjectUuid"] == quote_uuid:
                    if empty is None:
                        entry.pop("eventObject", None)
                    else:
                        entry["eventObject"] = copy.deepcopy(empty)

    def corrupt_one_record(self) -> str:
        """A quote whose `items` list is a string (its uuid stays readable): an unusable
        structure, which syncd must quarantine. An unknown currency or status word would
        not do: syncd keeps such quotes and notes the word (see syncd/drift.py). The
        call log's copies of it are broken the same way (Automa logs what it sends).
        """
        with self.lock:
            quote = sorted(self.collection("quotes").values(), key=lambda q: q["number"])[0]
            quote["items"] = "items are temporarily unavailable"
            self.corrupted.add(quote["uuid"])
            for entry in self.collection("calls").values():
                if entry["eventObjectUuid"] == quote["uuid"] and entry.get("eventObject"):
                    entry["eventObject"]["items"] = quote["items"]
            return str(quote["uuid"])

    def remote_edit_title(self, remote_id: str, title: str) -> None:
        """The seller edits the quote's note in Automa's UI (logged as QUOTE_RECEIVED)."""
        with self.lock:
            quote = self._quote(remote_id)
            quote["note"] = title
            quote["updated_at"] = self.now()
            self._changed("QUOTE_RECEIVED", quote)

    def proposal_title(self, remote_id: str) -> str | None:
        """The quote's note, which syncd uses as its title."""
        with self.lock:
            quote = self.collection("quotes").get(remote_id)
            return None if quote is None else quote.get("note")

    def remote_edit_other(self, remote_id: str) -> tuple[str, Any]:
        """The seller renumbers the quote in Automa's UI (logged as QUOTE_RECEIVED)."""
        with self.lock:
            quote = self._quote(remote_id)
            quote["number"] = f"R/{quote['number']}"[:32]
            quote["updated_at"] = self.now()
            self._changed("QUOTE_RECEIVED", quote)
            return "number", quote["number"]

    def proposal_fields(self, remote_id: str) -> dict[str, Any]:
        """The quote with its note as `title` and without the modification time."""
        with self.lock:
            quote = copy.deepcopy(self._quote(remote_id))
        quote.pop("updated_at", None)
        quote["title"] = quote.pop("note", None)
        return dict(quote)

    def new_proposal_refs(self) -> dict[str, str | None]:
        """The buyer company and user of a (valid) quote, so a backfill mirrors both."""
        with self.lock:
            quote = min((q for q in self.collection("quotes").values()
                         if q["uuid"] not in self.corrupted and q["buyer"]["user"]),
                        key=lambda q: q["number"])
            return {"company_id": quote["buyer"]["company"]["uuid"],
                    "contact_id": quote["buyer"]["user"]["uuid"]}

    def count_proposals(self) -> int:
        """Automa.Net cannot delete a quote, so every quote held counts."""
        with self.lock:
            return len(self.collection("quotes"))


# ---- validation (NestJS class-validator wording) -----------------------------------------------
def _int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if not re.fullmatch(r"\d+", value):
        raise BadRequest(f"{name} must not be less than 0; {name} must be a number conforming "
                         "to the specified constraints")
    return int(value)


def _ordered(request: Request, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = request.query_params.get("order", "asc")
    key = request.query_params.get("orderBy", "createdAt")
    if order not in ("asc", "desc"):
        raise BadRequest("order must be one of the following values: asc, desc")
    if key not in ("createdAt", "updatedAt"):
        raise BadRequest("orderBy must be one of the following values: createdAt, updatedAt")
    # stable: entries of one millisecond keep the order they were written in
    ranked = sorted(enumerate(items), key=lambda p: (p[1].get(key) or "", p[0]))
    result = [item for _, item in ranked]
    return result[::-1] if order == "desc" else result


def _body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:1000]

