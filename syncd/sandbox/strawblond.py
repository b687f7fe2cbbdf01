"""StrawBlond sandbox: a Laravel-flavoured offer API on loopback, as strict as the real one.

Faithful behaviours (and the choices made where the vendor is silent, see vendors.md):
* Every route lives under `/api` (`base_url()` ends in `/api`).
* Auth: `Authorization: Bearer <api_key>`; a request without `Accept: application/json`
  is answered like Laravel answers a browser: `302 Location: /login` with an HTML body
  (the docs say the header is mandatory; a client that forgets it breaks visibly). A bad
  key with the JSON Accept gets `401 {"message": "Unauthenticated."}`.
* Laravel pages `{data, links, meta}`; `per_page` defaults to 20 and values above 50 are
  *clamped* to 50 (no error: a client trusting its own page size stops early); `links` carry
  only `?page=N`, not the other query parameters. Unknown `filter[...]`, `sort` or `include`
  values answer 400 like spatie/laravel-query-builder.
* `filter[trashed]=true` lists the soft-deleted offers. The seed's one line ("Include
  soft-deleted offers") can also be read as "live ones too"; `trashed_includes_live=True`
  switches the sandbox to that reading (the connector is correct under both; it learns
  which from the answers and then reads that list alone in sweeps, see
  `lower_bound_requests`).
* Throttle 30/min: `X-RateLimit-Limit`/`X-RateLimit-Remaining` on every answer, 429 with
  `Retry-After` and `X-RateLimit-Reset`.
* Errors: 422 `{message, errors: {field: [msg]}}`, 404 `{message}` naming the model, 403 for
  edits of locked offers (approved/rejected: every edit; pending: content unless the same
  request unlocks it with `locked_at: null`). Elements of locked offers are locked too.
* Webhooks: `POST /webhook {event, url}` (https only; plain http allowed for loopback so
  tests can receive) returns the signing `secret` once; `emit_webhook` posts the signed
  payload.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
from datetime import datetime
from typing import Any

import httpx
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from syncd.clock import SYSTEM_CLOCK, Clock
from syncd.sandbox.base import Sandbox
from syncd.sandbox.strawblond_data import (
    LINE_ITEM_TYPES,
    OFFER_TYPE,
    ElementStore,
    Generator,
    Invalid,
    compute,
    elements_of,
    hashid,
    iso,
    new_element,
    new_offer,
    render_element,
    render_offer,
    validate_element,
    validate_offer,
    validate_webhook,
)

OFFER_MODEL = "Modules\\Salesforce\\Offer"
ALLOWED_SORTS = ("name", "created_at", "approved_at")
OFFER_FILTERS = ("search", "project", "company", "status", "member", "custom_field", "trashed")
ELEMENT_FILTERS = ("search", "document_type", "document_id")
OFFER_INCLUDES = (
    "project", "project.offers", "contact.company.media", "company.media", "elements.tag",
    "elements.product", "member.user.media", "createdBy.user.media", "updatedBy.user.media",
    "activities", "sourcedInvoices", "comments.commentator.media", "media",
)
CONTENT_KEYS = ("name", "description", "address", "header", "footer", "contact_id",
                "project_id", "has_page_break_after_header", "has_page_break_before_footer")
PER_PAGE = "per page field"


def _prefixes(includes: tuple[str, ...]) -> frozenset[str]:
    """Spatie's query builder allows every prefix of an allowed nested include (`a.b.c` allows `a`, `a.b`)."""
    out: set[str] = set()
    for include in includes:
        parts = include.split(".")
        out.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return frozenset(out)


ALLOWED_INCLUDES = _prefixes(OFFER_INCLUDES)


class StrawBlondSandbox(Sandbox):
    """The StrawBlond offer API: offers, document elements, webhooks, send."""

    vendor = "strawblond"
    demo_currency = "EUR"  # its API carries no currency (a Swiss/Dutch agency tool priced in euros)
    retry_after_header = True
    trashed_includes_live = False

    def __init__(
        self,
        *,
        requests_per_minute: int = 30,
        clock: Clock = SYSTEM_CLOCK,
        api_key: str = "sb-test-key-0123456789",
        webhook_secret: str | None = None,
        trashed_includes_live: bool | None = None,
    ) -> None:
        self.api_key = api_key
        if trashed_includes_live is not None:  # None: the class default
            self.trashed_includes_live = trashed_includes_live
        # None: each subscription gets a fresh random secret, like the vendor; a fixed
        # value makes account_entry() carry it (tests that skip registration).
        self.webhook_secret = webhook_secret
        self.sent_offers: list[dict[str, Any]] = []
        self._taken: set[str] = set()
        self._ids = Generator(seed=99_991)  # runtime ids, independent of seed_data
        super().__init__(requests_per_minute=requests_per_minute, clock=clock)
        self.store["elements"] = ElementStore()  # indexed by document_id
        for name in ("companies", "contacts", "offers", "elements", "webhooks"):
            self.collection(name)
        self.app.app.add_exception_handler(StarletteHTTPException, self._http_error)

    # ---- plumbing ---------------------------------------------------------------------------
    def base_url(self) -> str:
        """StrawBlond's API sits under `/api`."""
        url = super().base_url()
        return url if not url or url.endswith("/api") else url + "/api"

    def routes(self) -> None:
        """StrawBlond's endpoints: offers, their elements, companies, contacts and webhooks."""
        r = self.route
        r("/login", self._login, ["GET"])
        r("/api/offer", self._list_offers, ["GET"])
        r("/api/offer", self._create_offer, ["POST"])
        r("/api/offer/{id}", self._get_offer, ["GET"])
        r("/api/offer/{id}", self._update_offer, ["PUT", "PATCH"])
        r("/api/offer/{id}", self._delete_offer, ["DELETE"])
        r("/api/offer/{id}/send", self._send_offer, ["POST"])
        r("/api/offer/{id}/restore", self._restore_offer, ["PATCH"])
        r("/api/document_element", self._list_elements, ["GET"])
        r("/api/document_element", self._create_element, ["POST"])
        r("/api/document_element/{id}", self._get_element, ["GET"])
        r("/api/document_element/{id}", self._update_element, ["PUT", "PATCH"])
        r("/api/document_element/{id}", self._delete_element, ["DELETE"])
        r("/api/webhook", self._list_webhooks, ["GET"])
        r("/api/webhook", self._create_webhook, ["POST"])
        r("/api/webhook/{id}", self._get_webhook, ["GET"])
        r("/api/webhook/{id}", self._update_webhook, ["PUT", "PATCH"])
        r("/api/webhook/{id}", self._delete_webhook, ["DELETE"])

    def authenticate(self, request: Request) -> Response | None:
        """StrawBlond takes a bearer key, and redirects a request not asking for JSON to the login page."""
        if not request.url.path.startswith("/api"):
            return None
        accept = request.headers.get("accept", "")
        if "/json" not in accept and "+json" not in accept:
            login = f"{request.url.scheme}://{request.url.netloc}/login"
            html = (f'<!DOCTYPE html><html><head><meta http-equiv="refresh" content="0;url='
                    f"'{login}'\" /><title>Redirecting to {login}</title></head><body>"
                    f'Redirecting to <a href="{login}">{login}</a>.</body></html>')
            return HTMLResponse(html, status_code=302, headers={"Location": login})
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"message": "Unauthenticated."}, status_code=401)
        return None

    def too_many(self, retry_after: int) -> Response:
        """StrawBlond's 429 is Laravel's, with its X-RateLimit headers."""
        return JSONResponse(
            {"message": "Too Many Attempts."}, status_code=429,
            headers={"Retry-After": str(retry_after),
                     "X-RateLimit-Limit": str(self.requests_per_minute),
                     "X-RateLimit-Remaining": "0",
                     "X-RateLimit-Reset": str(int(self.clock.time()) + retry_after)},
        )

    def error(self, status: int, message: str, **extra: Any) -> Response:
        """StrawBlond's errors are Laravel's: a message and any extra fields."""
        return JSONResponse({"message": message, **extra}, status_code=status)

    def _json(self, request: Request, body: Any, status: int = 200) -> Response:
        """A JSON answer with Laravel's throttle headers."""
        window = self._window.get(self.rate_key(request), ())
        remaining = max(0, self.requests_per_minute - len(window))
        headers = {"X-RateLimit-Limit": str(self.requests_per_minute),
                   "X-RateLimit-Remaining": str(remaining)}
        if status == 204:
            return Response(status_code=204, headers=headers)
        return JSONResponse(body, status_code=status, headers=headers)

    def _invalid(self, request: Request, errors: dict[str, list[str]]) -> Response:
        first = next(iter(errors.values()))[0]
        more = sum(len(v) for v in errors.values()) - 1
        message = first if not more else (
            f"{first} (and {more} more error{'s' if more > 1 else ''})")
        return self._json(request, {"message": message, "errors": errors}, 422)

    def _missing(self, request: Request, model: str, key: str) -> Response:
        return self._json(request, {"message": f"No query results for model [{model}] {key}"},
                          404)

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        path = request.url.path.lstrip("/")
        if status == 405:
            return self.error(405, f"The {request.method} method is not supported for route "
                                   f"{path}.")
        return self.error(status, f"The route {path} could not be found.")

    async def _login(self, request: Request) -> Response:
        return HTMLResponse("<!DOCTYPE html><title>StrawBlond – Login</title><form></form>")

    @staticmethod
    async def _body(request: Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def _now(self) -> datetime:
        return self.clock.now().replace(microsecond=0)

    def _root(self, request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}/api"

    # ---- listing (filters, sorts, includes, pages) -------------------------------------------
    def _query(self, request: Request, filters: tuple[str, ...]
               ) -> tuple[dict[str, str], list[str], frozenset[str]] | Response:
        params = request.query_params
        given = {k[7:-1]: v for k, v in params.items()
                 if k.startswith("filter[") and k.endswith("]")}
        bad = [k for k in given if k not in filters]
        if bad:
            return self.error(400, f"Requested filter(s) `{', '.join(bad)}` are not allowed. "
                                   f"Allowed filter(s) are `{', '.join(filters)}`.")
        sorts = [s for s in params.get("sort", "").split(",") if s]
        bad = [s for s in sorts if s.lstrip("-") not in ALLOWED_SORTS]
        if bad:
            return self.error(400, f"Requested sort(s) `{', '.join(bad)}` is not allowed. "
                                   f"Allowed sort(s) are `{', '.join(ALLOWED_SORTS)}`.")
        includes = frozenset(i for i in params.get("include", "").split(",") if i)
        bad = sorted(includes - ALLOWED_INCLUDES)
        if bad:
            return self.error(400, f"Requested include(s) `{', '.join(bad)}` are not allowed. "
                                   f"Allowed include(s) are `{', '.join(OFFER_INCLUDES)}`.")
        return given, sorts, includes

    def _page(self, request: Request, rows: list[Any], render: Any,
              filters: tuple[str, ...]) -> Response:
        raw = request.query_params.get("per_page")
        per_page = 20
        if raw is not None:
            if not raw.lstrip("-").isdigit():
                return self._invalid(request, {"per_page": [f"The {PER_PAGE} must be an integer."]})
            per_page = int(raw)
            if per_page < 1:
                return self._invalid(request, {"per_page": [f"The {PER_PAGE} must be at least 1."]})
            per_page = min(per_page, 50)  # StrawBlond's maximum: larger values are clamped
        page_raw = request.query_params.get("page", "1")
        page = int(page_raw) if page_raw.isdigit() and int(page_raw) >= 1 else 1
        total = len(rows)
        last = max(1, math.ceil(total / per_page))
        chunk = rows[(page - 1) * per_page: page * per_page]
        path = f"{self._root(request)}{request.url.path.removeprefix('/api')}"

        def link(n: int | None) -> str | None:
            return f"{path}?page={n}" if n is not None else None

        start = (page - 1) * per_page + 1
        meta = {
            "current_page": page, "from": start if chunk else None, "last_page": last,
            "links": [{"url": link(page - 1) if page > 1 else None, "label": "&laquo; Previous",
                       "active": False}]
            + [{"url": link(n), "label": str(n), "active": n == page} for n in range(1, last + 1)]
            + [{"url": link(page + 1) if page < last else None, "label": "Next &raquo;",
                "active": False}],
            "path": path, "per_page": per_page, "to": start + len(chunk) - 1 if chunk else None,
            "total": total, "allowed_sorts": list(ALLOWED_SORTS), "allowed_filters": list(filters),
        }
        links = {"first": link(1), "last": link(last), "prev": link(page - 1) if page > 1 else None,
                 "next": link(page + 1) if page < last else None}
        return self._json(request, {"data": [render(r) for r in chunk], "links": links,
                                    "meta": meta})

    def _status_of(self, offer: dict[str, Any]) -> str:
        if offer["approved_at"]:
            return "approved"
        if offer["rejected_at"]:
            return "rejected"
        return "pending" if offer["locked_at"] else "draft"

    def _matches(self, offer: dict[str, Any], flt: dict[str, str]) -> bool:
        trashed = flt.get("trashed", "").lower() in ("1", "true")
        if (offer["deleted_at"] is not None) != trashed and not (
            trashed and self.trashed_includes_live
        ):
            return False
        if "search" in flt:
            needle = flt["search"].lower()
            if needle not in f"{offer['name'] or ''} {offer['number']}".lower():
                return False
        if "company" in flt and offer["company_id"] != flt["company"]:
            return False
        if "project" in flt and offer["project_id"] != flt["project"]:
            return False
        if "member" in flt:
            return False  # the sandbox has no members
        if "status" in flt:
            wanted = set(flt["status"].split(","))
            wanted |= {"approved", "pending"} if "approved_or_pending" in wanted else set()
            wanted |= {"approved"} if "billable" in wanted else set()
            if self._status_of(offer) not in wanted:
                return False
        if "custom_field" in flt:
            key, _, value = flt["custom_field"].partition(",")
            if str(offer["custom_fields"].get(key)) != value or key not in offer["custom_fields"]:
                return False
        return True

    async def _list_offers(self, request: Request) -> Response:
        parsed = self._query(request, OFFER_FILTERS)
        if isinstance(parsed, Response):
            return parsed
        flt, sorts, includes = parsed
        with self.lock:
            rows = [o for o in self.collection("offers").values() if self._matches(o, flt)]
            for sort in reversed(sorts):  # stable multi-key sort, NULLs first like MySQL
                key = sort.lstrip("-")
                def nulls_first(o: dict[str, Any], k: str = key) -> tuple[bool, Any, Any]:
                    return (o[k] is not None, o[k] or 0, o["seq"])
                rows.sort(key=nulls_first, reverse=sort.startswith("-"))
            root, now = self._root(request), self.clock.time()
            return self._page(request, rows,
                              lambda o: render_offer(o, self.store, includes, root, now),
                              OFFER_FILTERS)

    # ---- offers ------------------------------------------------------------------------------
    def _live_offer(self, oid: str, with_trashed: bool = False) -> dict[str, Any] | None:
        offer = self.collection("offers").get(oid)
        if offer is None or (offer["deleted_at"] is not None and not with_trashed):
            return None
        return offer

    def _render(self, request: Request, offer: dict[str, Any], status: int = 200) -> Response:
        includes = frozenset(i for i in request.query_params.get("include", "").split(",") if i)
        bad = sorted(includes - ALLOWED_INCLUDES)
        if bad:
            return self.error(400, f"Requested include(s) `{', '.join(bad)}` are not allowed.")
        body = render_offer(offer, self.store, includes, self._root(request), self.clock.time())
        return self._json(request, body, status)

    async def _get_offer(self, request: Request) -> Response:
        oid = request.path_params["id"]
        with self.lock:
            offer = self._live_offer(oid)
            if offer is None:
                return self._missing(request, OFFER_MODEL, oid)
            return self._render(request, offer)

    def _apply(self, offer: dict[str, Any], values: dict[str, Any]) -> None:
        now = self._now()
        for key, value in values.items():
            offer[key] = value
        if "contact_id" in values:
            offer["company_id"] = self.collection("contacts")[values["contact_id"]]["company_id"]
        if values.get("approved_at"):
            offer["rejected_at"] = None
            offer["locked_at"] = offer["locked_at"] or values["approved_at"]
        if values.get("rejected_at"):
            offer["approved_at"] = None
            offer["locked_at"] = offer["locked_at"] or values["rejected_at"]
        offer["updated_at"] = now

    async def _create_offer(self, request: Request) -> Response:
        body = await self._body(request)
        with self.lock:
            try:
                values = validate_offer(body, True, self.collection("contacts"))
            except Invalid as exc:
                return self._invalid(request, exc.errors)
            offers = self.collection("offers")
            contact = self.collection("contacts")[values["contact_id"]]
            offer = new_offer(self._new_hashid(), len(offers) + 1, contact, self._now())
            self._apply(offer, values)
            offers[offer["id"]] = offer
            return self._render(request, offer, 201)

    def _lock_refusal(self, offer: dict[str, Any], values: dict[str, Any]) -> str | None:
        """Why a locked offer refuses these values (None: allowed)."""
        if offer["approved_at"] or offer["rejected_at"]:
            word = "approved" if offer["approved_at"] else "rejected"
            return f"This offer has been {word} and is locked. It can no longer be edited."
        unlocking = "locked_at" in values and values["locked_at"] is None
        if offer["locked_at"] and not unlocking and any(k in values for k in CONTENT_KEYS):
            return "This offer is locked. Unlock it before editing."
        return None

    async def _update_offer(self, request: Request) -> Response:
        oid = request.path_params["id"]
        body = await self._body(request)
        with self.lock:
            offer = self._live_offer(oid)
            if offer is None:
                return self._missing(request, OFFER_MODEL, oid)
            try:
                values = validate_offer(body, False, self.collection("contacts"))
            except Invalid as exc:
                return self._invalid(request, exc.errors)
            refusal = self._lock_refusal(offer, values)
            if refusal:
                return self._json(request, {"message": refusal}, 403)
            self._apply(offer, values)
            return self._render(request, offer)

    async def _delete_offer(self, request: Request) -> Response:
        oid = request.path_params["id"]
        with self.lock:
            offer = self._live_offer(oid)
            if offer is None:
                return self._missing(request, OFFER_MODEL, oid)
            offer["deleted_at"] = offer["updated_at"] = self._now()
            return self._json(request, None, 204)

    async def _restore_offer(self, request: Request) -> Response:
        oid = request.path_params["id"]
        with self.lock:
            offer = self._live_offer(oid, with_trashed=True)
            if offer is None:
                return self._missing(request, OFFER_MODEL, oid)
            offer["deleted_at"] = None
            offer["updated_at"] = self._now()
            return self._render(request, offer)

    async def _send_offer(self, request: Request) -> Response:
        oid = request.path_params["id"]
        body = await self._body(request)
        with self.lock:
            offer = self._live_offer(oid)
            if offer is None:
                return self._missing(request, OFFER_MODEL, oid)
            contact = self.collection("contacts").get(offer["contact_id"] or "")
            emails = body.get("email") or (contact or {}).get("email")
            if not isinstance(emails, str) or not all(
                "@" in e for e in emails.split(";") if e.strip()
            ):
                return self._invalid(request, {"email": ["The email field must be a valid "
                                                         "email address."]})
            self.sent_offers.append({"offer_id": oid, "email": emails,
                                     "message": body.get("message")})
            offer["locked_at"] = offer["locked_at"] or self._now()
            offer["updated_at"] = self._now()
            return self._render(request, offer)

    # ---- document elements -------------------------------------------------------------------
    def _element_render(self, el: dict[str, Any]) -> dict[str, Any]:
        per, _ = compute(elements_of(self.store, el["document_id"]))
        return render_element(el, per[el["id"]])

    async def _list_elements(self, request: Request) -> Response:
        parsed = self._query(request, ELEMENT_FILTERS)
        if isinstance(parsed, Response):
            return parsed
        flt, _, _ = parsed
        with self.lock:
            rows = []
            candidates = (elements_of(self.store, flt["document_id"]) if "document_id" in flt
                          else self.collection("elements").values())
            for el in candidates:
                if "document_type" in flt and el["document_type"] != flt["document_type"]:
                    continue
                if "search" in flt:
                    text = f"{el['name'] or ''} {el['description'] or ''} {el['remark'] or ''}"
                    if flt["search"].lower() not in text.lower():
                        continue
                rows.append(el)
            return self._page(request, rows, self._element_render, ELEMENT_FILTERS)

    async def _get_element(self, request: Request) -> Response:
        eid = request.path_params["id"]
        with self.lock:
            el = self.collection("elements").get(eid)
            if el is None:
                return self._missing(request, "App\\Models\\DocumentElement", eid)
            return self._json(request, self._element_render(el))

    def _offer_exists(self, offer_id: str) -> bool:
        return self._live_offer(offer_id) is not None

    def _element_lock(self, offer_id: str) -> str | None:
        offer = self._live_offer(offer_id)
        if offer is not None and (offer["locked_at"] or offer["approved_at"]
                                  or offer["rejected_at"]):
            return "This offer is locked. Its elements can no longer be edited."
        return None

    def _touch(self, offer_id: str) -> None:
        offer = self.collection("offers").get(offer_id)
        if offer is not None:
            offer["updated_at"] = self._now()

    async def _create_element(self, request: Request) -> Response:
        body = await self._body(request)
        with self.lock:
            try:
                values = validate_element(body, True, self._offer_exists)
            except Invalid as exc:
                return self._invalid(request, exc.errors)
            if values["document_type"] != OFFER_TYPE:
                return self._invalid(request, {"document_id": ["The selected document id is "
                                                               "invalid."]})
            refusal = self._element_lock(values["document_id"])
            if refusal:
                return self._json(request, {"message": refusal}, 403)
            elements = self.collection("elements")
            order = 1 + max((e["order"] for e in elements_of(self.store, values["document_id"])),
                            default=0)
            el = new_element(self._new_hashid(), values.pop("document_id"), order,
                             values.pop("type"), self._now(), **values)
            elements[el["id"]] = el
            self._touch(el["document_id"])
            return self._json(request, self._element_render(el), 201)

    async def _update_element(self, request: Request) -> Response:
        eid = request.path_params["id"]
        body = await self._body(request)
        with self.lock:
            el = self.collection("elements").get(eid)
            if el is None:
                return self._missing(request, "App\\Models\\DocumentElement", eid)
            try:
                values = validate_element(body, False, self._offer_exists)
            except Invalid as exc:
                return self._invalid(request, exc.errors)
            refusal = self._element_lock(el["document_id"])
            if refusal:
                return self._json(request, {"message": refusal}, 403)
            values.pop("document_id", None)
            values.pop("document_type", None)
            el.update(values)
            el["updated_at"] = self._now()
            self._touch(el["document_id"])
            return self._json(request, self._element_render(el))

    async def _delete_element(self, request: Request) -> Response:
        eid = request.path_params["id"]
        with self.lock:
            el = self.collection("elements").get(eid)
            if el is None:
                return self._missing(request, "App\\Models\\DocumentElement", eid)
            refusal = self._element_lock(el["document_id"])
            if refusal:
                return self._json(request, {"message": refusal}, 403)
            del self.collection("elements")[eid]
            self._touch(el["document_id"])
            return self._json(request, None, 204)

    # ---- webhooks ----------------------------------------------------------------------------
    def _webhook_json(self, hook: dict[str, Any], with_secret: bool = False) -> dict[str, Any]:
        body = {k: v for k, v in hook.items() if k != "secret"}
        body["created_at"], body["updated_at"] = iso(hook["created_at"]), iso(hook["updated_at"])
        body["last_failed_at"] = iso(hook["last_failed_at"])
        if with_secret:
            body["secret"] = hook["secret"]
        return body

    async def _list_webhooks(self, request: Request) -> Response:
        with self.lock:
            rows = list(self.collection("webhooks").values())
            return self._page(request, rows, self._webhook_json, ())

    async def _create_webhook(self, request: Request) -> Response:
        body = await self._body(request)
        with self.lock:
            try:
                values = validate_webhook(body, True)
            except Invalid as exc:
                return self._invalid(request, exc.errors)
            now = self._now()
            hook = {"id": self._new_hashid(), **values, "failed_count": 0, "last_failed_at": None,
                    "call_logs": [], "created_at": now, "updated_at": now,
                    "secret": self.webhook_secret or secrets.token_hex(20)}
            self.collection("webhooks")[hook["id"]] = hook
            return self._json(request, self._webhook_json(hook, with_secret=True), 201)

    async def _get_webhook(self, request: Request) -> Response:
        wid = request.path_params["id"]
        with self.lock:
            hook = self.collection("webhooks").get(wid)
            if hook is None:
                return self._missing(request, "App\\Models\\Webhook", wid)
            return self._json(request, self._webhook_json(hook))

    async def _update_webhook(self, request: Request) -> Response:
        wid = request.path_params["id"]
        body = await self._body(request)
        with self.lock:
            hook = self.collection("webhooks").get(wid)
            if hook is None:
                return self._missing(request, "App\\Models\\Webhook", wid)
            try:
                hook.update(validate_webhook(body, False))
            except Invalid as exc:
                return self._invalid(request, exc.errors)
            hook["updated_at"] = self._now()
            return self._json(request, self._webhook_json(hook))

    async def _delete_webhook(self, request: Request) -> Response:
        wid = request.path_params["id"]
        with self.lock:
            if self.collection("webhooks").pop(wid, None) is None:
                return self._missing(request, "App\\Models\\Webhook", wid)
            return self._json(request, None, 204)

    def emit_webhook(self, event: str, obj_id: str, url: str | None = None) -> list[dict[str, Any]]:
        """POST `{id, event, created, test: false, data: offer}` to every subscription for
        `event` (or `*`), signed with hex HMAC-SHA256 of the raw body and the subscription's
        secret in `X-StrawBlond-Webhook-Signature`. Returns (and records) the deliveries.
        """
        with self.lock:
            offer = self.collection("offers")[obj_id]
            root = self.base_url() or "http://127.0.0.1/api"
            data = render_offer(offer, self.store, frozenset(), root, self.clock.time())
            hooks = [h for h in self.collection("webhooks").values()
                     if h["event"] in ("*", event) and (url is None or h["url"] == url)]
            if url is not None and not hooks:
                hooks = [{"url": url, "secret": self.webhook_secret or "", "id": None}]
            payload = {"id": secrets.token_hex(12), "event": event,
                       "created": int(self.clock.time()), "test": False, "data": data}
        raw = json.dumps(payload, ensure_ascii=False).encode()
        deliveries = []
        for hook in hooks:
            signature = hmac.new(hook["secret"].encode(), raw, hashlib.sha256).hexdigest()
            delivery: dict[str, Any] = {"url": hook["url"], "event": event, "body": raw,
                                        "payload": payload, "signature": signature}
            try:
                answer = httpx.post(hook["url"], content=raw, timeout=5, headers={
                    "Content-Type": "application/json",
                    "X-StrawBlond-Webhook-Signature": signature})
                delivery["status"] = answer.status_code
            except httpx.HTTPError as exc:
                delivery["status"], delivery["error"] = None, repr(exc)
            failed = delivery["status"] is None or delivery["status"] >= 300
            with self.lock:
                stored = self.collection("webhooks").get(hook["id"] or "")
                if stored is not None and failed:
                    stored["failed_count"] += 1
                    stored["last_failed_at"] = self._now()
                self.webhook_deliveries.append(delivery)
            deliveries.append(delivery)
        return deliveries

    def webhook_secret_of(self, url: str | None = None) -> str | None:
        """The secret of the (newest) subscription, optionally for one URL."""
        with self.lock:
            hooks = [h for h in self.collection("webhooks").values() if url in (None, h["url"])]
        return hooks[-1]["secret"] if hooks else None

    # ---- the standard-suite contract ---------------------------------------------------------
    def _new_hashid(self) -> str:
        taken = {k for c in self.store.values() for k in c}
        return hashid(self._ids.rng, taken | self._taken)

    def seed_data(self, *, companies: int = 20, proposals: int = 120, max_items: int = 20,
                  seed: int = 7) -> None:
        """`proposals` live offers plus one soft-deleted offer per 20 (whose contacts also
        have live offers, so deletions never hide a contact or company).
        """
        gen = Generator(seed)
        with self.lock:
            for name in ("companies", "contacts", "offers", "elements"):
                self.collection(name).clear()
            company_rows = gen.companies(companies)
            contact_rows = gen.contacts(company_rows)
            self.collection("companies").update({c["id"]: c for c in company_rows})
            self.collection("contacts").update({c["id"]: c for c in contact_rows})
            used: list[dict[str, Any]] = []
            trashed = proposals // 20
            for seq in range(1, proposals + trashed + 1):
                dead = seq > proposals
                contact = gen.rng.choice(used if dead else contact_rows)
                offer, elements = gen.offer(seq, contact, max_items)
                if dead:
                    offer["deleted_at"] = offer["updated_at"] = gen.tick()
                used.append(contact)
                self.collection("offers")[offer["id"]] = offer
                self.collection("elements").update({e["id"]: e for e in elements})
            self._taken = set(gen.taken)

    def account_entry(self, name: str) -> dict[str, Any]:
        """StrawBlond accounts carry the API key, and the webhook secret when there is one."""
        entry: dict[str, Any] = {
            "name": name, "vendor": self.vendor, "base_url": self.base_url(),
            "requests_per_minute": self.requests_per_minute, "auth": {"api_key": self.api_key},
        }
        if self.webhook_secret:
            entry["webhook_secret"] = self.webhook_secret
        return entry

    def _live_offers(self) -> list[dict[str, Any]]:
        return [o for o in self.collection("offers").values() if o["deleted_at"] is None]

    def expected_counts(self) -> dict[str, int]:
        """StrawBlond's companies and contacts are those the live offers name."""
        with self.lock:
            live = self._live_offers()
            ids = {o["id"] for o in live}
            return {
                "companies": len({o["company_id"] for o in live if o["company_id"]}),
                "contacts": len({o["contact_id"] for o in live if o["contact_id"]}),
                "proposals": len(live),
                "line_items": sum(1 for e in self.collection("elements").values()
                                  if e["document_id"] in ids and e["type"] in LINE_ITEM_TYPES),
            }

    def lower_bound_requests(self) -> int:
        """A backfill must read the trashed list (one page even when empty) in pages of 50.
        When it lists only trashed offers (the default reading), the live ones need the
        plain list as well; when it lists every offer (`trashed_includes_live`), that one
        list is the whole backfill, unless no offer is live: a list of trashed offers
        alone cannot show that it would hold live ones, so the plain list is read too.
        Laravel's `meta.last_page` makes an empty trailing page unnecessary.
        """
        with self.lock:
            live = len(self._live_offers())
            every = len(self.collection("offers"))
        if self.trashed_includes_live:
            return max(1, math.ceil(every / 50)) + (0 if live else 1)
        return max(1, math.ceil(live / 50)) + max(1, math.ceil((every - live) / 50))

    def corrupt_one_record(self) -> str:
        """A live offer in mid-list answers its `elements` as a string instead of a list: a
        structure syncd cannot use (quarantined), while its id stays readable. Unknown
        words or a Swiss-formatted total are no longer enough: syncd keeps such offers.
        Its contact and company stay referenced by other offers.
        """
        with self.lock:
            live = self._live_offers()
            counts: dict[str, int] = {}
            for o in live:
                counts[o["contact_id"]] = counts.get(o["contact_id"], 0) + 1
            candidates = [o for o in live if counts[o["contact_id"]] > 1] or live
            offer = candidates[len(candidates) // 2]
            offer["_overrides"] = {"elements": "siehe Beilage"}
            return str(offer["id"])

    def override(self, remote_id: str, element: int | None = None, **fields: Any) -> None:
        """Render these keys of an offer (or of its `element`-th element, by order) as
        given, the way another build of the API might say them (quirk tests): totals are
        still computed from the stored values, as the vendor's would be.
        """
        with self.lock:
            target = self.collection("offers")[remote_id]
            if element is not None:
                rows = sorted(elements_of(self.store, remote_id), key=lambda e: e["order"])
                target = rows[element]
            target.setdefault("_overrides", {}).update(fields)

    def remote_edit_title(self, remote_id: str, title: str) -> None:
        """StrawBlond's title is the offer's name."""
        with self.lock:
            offer = self.collection("offers")[remote_id]
            offer["name"] = title
            offer["updated_at"] = self._now()

    def proposal_title(self, remote_id: str) -> str | None:
        """The offer's name, which syncd uses as its title."""
        with self.lock:
            offer = self.collection("offers").get(remote_id)
            return None if offer is None else offer["name"]

    def remote_edit_other(self, remote_id: str) -> tuple[str, Any]:
        """A user renumbers the offer in StrawBlond."""
        with self.lock:
            offer = self.collection("offers")[remote_id]
            offer["number"] = f"R-{offer['seq']}"
            offer["updated_at"] = self._now()
            return "number", offer["number"]

    def proposal_fields(self, remote_id: str) -> dict[str, Any]:
        """The offer with its elements, as one comparable dict."""
        with self.lock:
            offer = json.loads(json.dumps(self.collection("offers")[remote_id], default=str))
            elements = sorted(
                (json.loads(json.dumps(e, default=str))
                 for e in elements_of(self.store, remote_id)),
                key=lambda e: str(e["id"]))
        offer.pop("updated_at", None)
        offer["title"] = offer.pop("name")
        offer["elements"] = elements
        return dict(offer)

    def new_proposal_refs(self) -> dict[str, str | None]:
        """The contact (and its company) of a live offer, so a backfill mirrors both."""
        with self.lock:
            offer = min(self._live_offers(), key=lambda o: o["seq"])
            return {"company_id": offer["company_id"], "contact_id": offer["contact_id"]}

    def count_proposals(self) -> int:
        """The live offers, counted as a backfill mirrors them."""
        with self.lock:
            return len(self._live_offers())
