"""Happyoffer sandbox: a Laravel/Sanctum API at `{base}/api`, as unkind as the real one.

What it enforces (seed 003, docs.my-online-offer.com, vendors.md "Project decisions"):
  * `POST /api/login {email, password}` issues Sanctum tokens `"{n}|{40 chars}"` at
    `data.token.token`; every other route needs `Authorization: Bearer` or answers
    401 `{"message": "Unauthenticated."}`. Without `Accept: application/json`, Laravel
    answers auth and validation failures with a 302 redirect instead of JSON.
  * Lists are unpaginated and show the user's company *and its child companies*; single
    reads and sends are limited to the user's own company (403 otherwise).
  * Offers and external offers are joined by `offer_id` (external offers have UUIDs).
  * Create validation returns Laravel's 422 `{"message", "errors": {field: [...]}}`;
    the external user/company tokens must be the ones Happyoffer issued.
  * Sending refuses accepted/rejected offers and offers past their `expiration_date`.
  * 30 requests/min per user (or per client for login), 429 with `Retry-After` and
    `X-RateLimit-*` headers (Laravel's throttle middleware; the docs say nothing).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from syncd.sandbox import happyoffer_data as data
from syncd.sandbox.base import Sandbox

API = "/api"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$")
_REQUIRED = ("offer_template_id", "external_client_id", "client_name", "contact_firstname",
             "contact_lastname", "contact_email", "offer_pdf_url", "external_user_token",
             "external_company_token")
_STRINGS = ("client_name", "contact_firstname", "contact_lastname", "external_user_token",
            "external_company_token")


def _label(field: str) -> str:
    """Laravel's attribute name in messages: `contact_email` -> `contact email`."""
    return field.replace("_", " ")


def laravel_422(errors: dict[str, list[str]]) -> JSONResponse:
    """`{"message": "<first> (and N more errors)", "errors": {...}}` (Laravel 10)."""
    first = next(iter(errors.values()))[0]
    more = sum(len(v) for v in errors.values()) - 1
    if more:
        first += f" (and {more} more error{'s' if more > 1 else ''})"
    return JSONResponse({"message": first, "errors": errors}, status_code=422)


class HappyofferSandbox(Sandbox):
    """The Happyoffer API over the in-memory store (`offers`, `external_offers`,
    `templates`); `self.tokens` maps issued Sanctum tokens to the user's id.
    """

    vendor = "happyoffer"
    retry_after_header = True

    def __init__(self, **kwargs: Any) -> None:
        self.tokens: dict[str, str] = {}
        self.sent: list[dict[str, Any]] = []
        self.broken_offers: set[str] = set()  # served with unusable attributes
        self._token_count = 0
        super().__init__(**kwargs)
        self.collection("templates")[data.TEMPLATE_ID] = {
            "id": data.TEMPLATE_ID,
            "attributes": {"company_id": data.PARENT_COMPANY, "name": "Standaard offerte",
                           "is_template": True},
        }

    # ---- routes ---------------------------------------------------------------------------
    def routes(self) -> None:
        """Happyoffer's endpoints: login, offers, and the external offers syncd writes."""
        self.route(f"{API}/login", self.login, ["POST"])
        self.route(f"{API}/offers", self.list_offers, ["GET"])
        self.route(f"{API}/offers/{{id}}", self.get_offer, ["GET"])
        self.route(f"{API}/external-offers", self.list_external, ["GET"])
        self.route(f"{API}/external-offers", self.create_external, ["POST"])
        self.route(f"{API}/external-offers/{{id}}", self.get_external, ["GET"])
        self.route(f"{API}/external-offers/{{id}}/send", self.send_offer, ["POST"])

    def base_url(self) -> str:
        """Happyoffer's API sits under its own prefix."""
        url = super().base_url()
        return url if not url or url.endswith(API) else url + API

    # ---- auth, rate key, error dialect ----------------------------------------------------
    @staticmethod
    def expects_json(request: Request) -> bool:
        """Whether the client asked for JSON: Laravel answers others as a browser."""
        return "json" in request.headers.get("accept", "")

    def _bearer(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        return header[7:].strip() if header.lower().startswith("bearer ") else None

    def authenticate(self, request: Request) -> Response | None:
        """Happyoffer takes a bearer token from login, and redirects a browser without one."""
        if request.url.path == f"{API}/login":
            return None
        if self._bearer(request) in self.tokens:
            return None
        if not self.expects_json(request):  # Laravel redirects browsers to the login page
            return RedirectResponse("/login", status_code=302)
        return self.error(401, "Unauthenticated.")

    def rate_key(self, request: Request) -> str:
        """Laravel's `throttle:api`: per user id, else per client address."""
        user = self.tokens.get(self._bearer(request) or "")
        return f"user:{user}" if user else f"ip:{request.client.host if request.client else '-'}"

    def too_many(self, retry_after: int) -> Response:
        """Happyoffer's 429 is Laravel's, with its X-RateLimit headers."""
        now = int(self.clock.time())
        return JSONResponse({"message": "Too Many Attempts."}, status_code=429, headers={
            "Retry-After": str(retry_after), "X-RateLimit-Limit": str(self.requests_per_minute),
            "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(now + retry_after)})

    def error(self, status: int, message: str, **extra: Any) -> Response:
        """Happyoffer's errors are Laravel's: a message and any extra fields."""
        return JSONResponse({"message": message, **extra}, status_code=status)

    def not_found(self, model: str, key: str) -> Response:
        """Laravel's ModelNotFoundException as JSON."""
        return self.error(404, f"No query results for model [App\\Models\\{model}] {key}")

    def issue_token(self) -> str:
        """A new Sanctum personal access token for the sandbox user."""
        with self.lock:
            self._token_count += 1
            secret = hashlib.sha1(f"happy-{self._token_count}".encode()).hexdigest()
            token = f"{self._token_count}|{secret}"
            self.tokens[token] = data.USER["id"]
            return token

    def revoke_tokens(self) -> None:
        """Log every session out (tokens expire or are revoked in the dashboard)."""
        with self.lock:
            self.tokens.clear()

    # ---- helpers --------------------------------------------------------------------------
    @staticmethod
    async def body(request: Request) -> dict[str, Any]:
        """The JSON body as Laravel reads it: anything else is no input."""
        try:
            parsed = json.loads(await request.body() or b"{}")
        except ValueError:
            return {}  # Laravel reads an unparsable body as no input
        return parsed if isinstance(parsed, dict) else {}

    @staticmethod
    def visible_companies() -> set[str]:
        """The user's company and its child companies, all the user may see."""
        own = data.USER["company_id"]
        return {own} | {c for c, info in data.COMPANIES.items() if info["parent_id"] == own}

    def now(self) -> datetime:
        """The sandbox clock's time, for the timestamps it writes."""
        return self.clock.now()

    def _offer(self, offer_id: str) -> tuple[dict[str, Any] | None, Response | None]:
        """The offer if the user's own company owns it; else a 404/403 answer."""
        offer = self.collection("offers").get(offer_id)
        if offer is None:
            return None, self.not_found("Offer", offer_id)
        if offer["attributes"]["company_id"] != data.USER["company_id"]:
            return None, self.error(403, "This action is unauthorized.")
        return offer, None

    # ---- handlers -------------------------------------------------------------------------
    async def login(self, request: Request) -> Response:
        """POST /login: a token for the user's email and password, or Laravel's 422."""
        body = await self.body(request)
        errors: dict[str, list[str]] = {}
        for field in ("email", "password"):
            if not body.get(field):
                errors[field] = [f"The {field} field is required."]
        if not errors and (body["email"] != data.USER["email"]
                           or body["password"] != data.USER["password"]):
            errors["email"] = ["These credentials do not match our records."]
        if errors:
            if not self.expects_json(request):
                return RedirectResponse("/login", status_code=302)
            return laravel_422(errors)
        company = data.COMPANIES[data.USER["company_id"]]
        return JSONResponse({"data": {
            "id": data.USER["id"], "type": "users",
            "attributes": {"name": data.USER["name"], "email": data.USER["email"]},
            "token": {"token": self.issue_token()},
            "relationships": {"company": {"id": company["id"], "name": company["name"]}},
        }})

    async def list_offers(self, request: Request) -> Response:
        """GET /offers: the offers of the companies the user may see."""
        visible = self.visible_companies()
        with self.lock:
            rows = [self.served_offer(o) for o in self.collection("offers").values()
                    if o["attributes"]["company_id"] in visible]
        return JSONResponse({"data": rows})

    async def get_offer(self, request: Request) -> Response:
        """`data` is a one-element array here (as Happyoffer's own app reads it)."""
        with self.lock:
            offer, refusal = self._offer(request.path_params["id"])
        if refusal is not None or offer is None:
            return refusal or self.not_found("Offer", request.path_params["id"])
        return JSONResponse({"data": [self.served_offer(offer)]})

    async def list_external(self, request: Request) -> Response:
        """GET /external-offers: the external offers of the companies the user may see."""
        visible = self.visible_companies()
        with self.lock:
            rows = [e for e in self.collection("external_offers").values()
                    if e["attributes"]["company_id"] in visible]
        return JSONResponse({"data": rows})

    async def get_external(self, request: Request) -> Response:
        """GET /external-offers/{id}: one external offer, refused outside the user's own company."""
        ext_id = request.path_params["id"]
        with self.lock:
            record = self.collection("external_offers").get(ext_id)
        if record is None:
            return self.not_found("ExternalOffer", ext_id)
        if record["attributes"]["company_id"] != data.USER["company_id"]:
            return self.error(403, "This action is unauthorized.")
        return JSONResponse({"data": record})

    def validate_create(self, body: dict[str, Any]) -> dict[str, list[str]]:
        """The seed's rules, in Laravel's words."""
        errors: dict[str, list[str]] = {}

        def add(field: str, message: str) -> None:
            errors.setdefault(field, []).append(message)

        for field in _REQUIRED:
            if body.get(field) in (None, "", []):
                add(field, f"The {_label(field)} field is required.")
        for field in _STRINGS:
            if field not in errors and not isinstance(body.get(field), str):
                add(field, f"The {_label(field)} field must be a string.")
        template = str(body.get("offer_template_id") or "")
        if "offer_template_id" not in errors and template not in self.collection("templates") \
                and template not in self.collection("offers"):
            add("offer_template_id", "The selected offer template id is invalid.")
        if "contact_email" not in errors and not _EMAIL.match(str(body["contact_email"])):
            add("contact_email", "The contact email field must be a valid email address.")
        if "offer_pdf_url" not in errors and not _URL.match(str(body["offer_pdf_url"])):
            add("offer_pdf_url", "The offer pdf url field must be a valid URL.")
        for field, issued in (("external_user_token", data.EXTERNAL_USER_TOKEN),
                              ("external_company_token", data.EXTERNAL_COMPANY_TOKEN)):
            if field not in errors and body[field] != issued:
                add(field, f"The selected {_label(field)} is invalid.")
        self._validate_products(body.get("products"), add)
        return errors

    @staticmethod
    def _validate_products(products: Any, add: Any) -> None:
        if products is None:
            return
        if isinstance(products, str):
            try:
                products = json.loads(products)
            except ValueError:
                add("products", "The products field must be a valid JSON string.")
                return
        if isinstance(products, list):
            products = products[0] if products else {}
        if not isinstance(products, dict):
            add("products", "The products field must be an array.")
            return
        if not isinstance(products.get("client"), dict):
            add("products.client", "The products.client field is required.")
        for i, art in enumerate(products.get("articles") or []):
            if not isinstance(art, dict) or not art.get("name"):
                field = f"products.articles.{i}.name"
                add(field, f"The {field} field is required.")
                continue
            for key in ("price", "amount"):
                value = art.get(key)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    add(f"products.articles.{i}.{key}",
                        f"The products.articles.{i}.{key} field must be a number.")

    async def create_external(self, request: Request) -> Response:
        """POST /external-offers: a new external offer and its offer, or Laravel's 422."""
        body = await self.body(request)
        errors = self.validate_create(body)
        if errors:
            if not self.expects_json(request):
                return RedirectResponse("/", status_code=302)
            return laravel_422(errors)
        with self.lock:
            record = self._store_created(body)
        return JSONResponse({"data": record}, status_code=201)

    def _store_created(self, body: dict[str, Any]) -> dict[str, Any]:
        """An offer ("Not Yet Send", never sent automatically) and its external offer."""
        offers = self.collection("offers")
        offer_id = max((int(k) for k in offers), default=0) + 1
        products = body.get("products")
        parsed = json.loads(products) if isinstance(products, str) else products
        first = (parsed[0] if parsed else {}) if isinstance(parsed, list) else (parsed or {})
        general = first.get("general") or {}
        contact = {"firstname": body["contact_firstname"], "lastname": body["contact_lastname"],
                   "email": body["contact_email"], "title": body.get("contact_title")}
        client = {"external_client_id": str(body["external_client_id"]),
                  "happyoffer_client_id": str(4000 + offer_id), "name": body["client_name"]}
        name = general.get("offer_description") or f"Offerte {body['client_name']}"
        offers[str(offer_id)] = data.offer_record(
            offer_id, data.USER["company_id"], client, contact, name=name,
            number=str(general.get("offer_number") or f"HO-{offer_id:05d}"),
            status="Not Yet Send", total=data.total_once(parsed), created=self.now())
        ext_id = str(uuid.uuid4())
        external_id = body.get("external_id")
        record = data.external_record(
            ext_id, offer_id, data.USER["company_id"], client, contact, products,
            None if external_id in (None, "") else str(external_id))
        record["attributes"]["offer_template_id"] = str(body["offer_template_id"])
        record["attributes"]["offer_pdf_url"] = body["offer_pdf_url"]
        metadata = body.get("metadata")
        record["attributes"]["metadata"] = (
            metadata if metadata is None or isinstance(metadata, str) else json.dumps(metadata))
        self.collection("external_offers")[ext_id] = record
        return record

    async def send_offer(self, request: Request) -> Response:
        """Send an offer (cc addresses validated as Laravel does), refused once decided or expired."""
        body = await self.body(request)
        errors: dict[str, list[str]] = {}
        cc = body.get("cc_emails")
        if cc is not None and not isinstance(cc, list):
            errors["cc_emails"] = ["The cc emails field must be an array."]
        for i, email in enumerate(cc if isinstance(cc, list) else []):
            if not isinstance(email, str) or not _EMAIL.match(email):
                field = f"cc_emails.{i}"
                errors[field] = [f"The {field} field must be a valid email address."]
        if errors:
            return laravel_422(errors)
        with self.lock:
            offer, refusal = self._offer(request.path_params["id"])
            if refusal is not None or offer is None:
                return refusal or self.error(404, "Not found.")
            attrs = offer["attributes"]
            if attrs["offer_status"] in ("Accepted", "Rejected") or attrs["is_manually_rejected"]:
                return laravel_422({"offer": [
                    "The offer has already been accepted or rejected and cannot be sent."]})
            expiry = attrs.get("expiration_date")
            if expiry and datetime.fromisoformat(expiry).date() < self.now().date():
                return laravel_422({"offer": [
                    "The offer has expired; the recipient would be unable to open it."]})
            attrs["offer_status"] = "active"
            self._touch(attrs)
            self.sent.append({"offer_id": request.path_params["id"], "cc_emails": cc or [],
                              "subject": body.get("subject")})
        return JSONResponse({"message": "Offer sent successfully."})

    def _touch(self, attrs: dict[str, Any]) -> None:
        """Bump `updated_at`, always forward (a frozen clock still moves it)."""
        previous = datetime.fromisoformat(attrs["updated_at"].replace("Z", "+00:00"))
        attrs["updated_at"] = data.laravel_time(max(self.now(), previous + timedelta(seconds=1)))

    # ---- standard-suite contract ----------------------------------------------------------
    def seed_data(
        self, *, companies: int = 20, proposals: int = 120, max_items: int = 20, seed: int = 7
    ) -> None:
        """Replace the data with generated offers and their external offers."""
        offers, externals = data.generate(
            companies=companies, proposals=proposals, max_items=max_items, seed=seed)
        with self.lock:
            self.store["offers"] = offers
            self.store["external_offers"] = externals

    def account_entry(self, name: str) -> dict[str, Any]:
        """Happyoffer accounts log in with the user's email and password; the create keys
        (template, tokens, PDF URL) are the entry's own.
        """
        return {
            "name": name, "vendor": self.vendor, "base_url": self.base_url(),
            "requests_per_minute": self.requests_per_minute,
            "offer_template_id": data.TEMPLATE_ID,
            "external_user_token": data.EXTERNAL_USER_TOKEN,
            "external_company_token": data.EXTERNAL_COMPANY_TOKEN,
            "offer_pdf_url": "https://crm.example.com/pdf/{marker}.pdf",
            "auth": {"email": data.USER["email"], "password": data.USER["password"]},
        }

    def live_offers(self) -> dict[str, dict[str, Any]]:
        """Offers a backfill mirrors as live proposals (visible, not deleted); a corrupted
        one still counts here (the standard suite subtracts it itself).
        """
        visible = self.visible_companies()
        return {k: o for k, o in self.collection("offers").items()
                if o["attributes"]["company_id"] in visible and not o["attributes"]["deleted_at"]}

    def expected_counts(self) -> dict[str, int]:
        """Happyoffer's companies, contacts and line items come from the live offers' external offers."""
        with self.lock:
            live = self.live_offers()
            companies: set[str] = set()
            contacts: set[tuple[str, str]] = set()
            items = 0
            for ext in self.collection("external_offers").values():
                a = ext["attributes"]
                if a["offer_id"] not in live:
                    continue
                companies.add(a["external_client_id"])
                contacts.add((a["external_client_id"], a["contact_email"].lower()))
                products = a["products"]
                products = json.loads(products) if isinstance(products, str) else products
                first = products[0] if isinstance(products, list) and products else products
                items += len((first or {}).get("articles") or [])
        return {"companies": len(companies), "contacts": len(contacts),
                "proposals": len(live), "line_items": items}

    def lower_bound_requests(self) -> int:
        """Login, `GET /offers`, `GET /external-offers`: both lists come in one page."""
        return 3

    def corrupt_one_record(self) -> str:
        """A live dashboard offer (no external offer, so no other record fills its row) is
        served with `attributes` as the text `"[object Object]"` (a serialiser bug): its
        id stays readable, but an offer without an attributes object is an unusable
        structure that syncd must quarantine. The store keeps the offer intact (the
        sandbox's own routes still read it); only the lists and reads serve it broken.
        """
        with self.lock:
            externals = self.collection("external_offers").values()
            joined = {e["attributes"]["offer_id"] for e in externals}
            offer_id = next(k for k in self.live_offers() if k not in joined)
            self.broken_offers.add(offer_id)
        return offer_id

    def served_offer(self, offer: dict[str, Any]) -> dict[str, Any]:
        """The offer as the API answers it (a corrupted one broken, see above)."""
        if offer["id"] not in self.broken_offers:
            return offer
        return {**offer, "attributes": "[object Object]"}

    def remote_edit_title(self, remote_id: str, title: str) -> None:
        """Happyoffer's title is the offer's name."""
        with self.lock:
            attrs = self.collection("offers")[remote_id]["attributes"]
            attrs["name"] = title
            self._touch(attrs)

    def proposal_title(self, remote_id: str) -> str | None:
        """The offer's name, which syncd uses as its title."""
        with self.lock:
            offer = self.collection("offers").get(remote_id)
            return offer["attributes"]["name"] if offer else None

    def total_of(self, remote_id: str) -> Decimal | None:
        """The offer's `total_price_once` as a Decimal (for tests)."""
        offer = self.collection("offers").get(remote_id)
        return Decimal(offer["attributes"]["total_price_once"]) if offer else None


    def remote_edit_other(self, remote_id: str) -> tuple[str, Any]:
        """A user renumbers the offer in the Happyoffer dashboard."""
        with self.lock:
            attrs = self.collection("offers")[remote_id]["attributes"]
            attrs["offer_number"] = f"R-{remote_id}"
            self._touch(attrs)
            return "number", attrs["offer_number"]

    def proposal_fields(self, remote_id: str) -> dict[str, Any]:
        """The offer with its external offers, as one comparable dict."""
        with self.lock:
            offer = json.loads(json.dumps(self.collection("offers")[remote_id], default=str))
            externals = [json.loads(json.dumps(e, default=str))
                         for e in self.collection("external_offers").values()
                         if e["attributes"]["offer_id"] == remote_id]
        attrs = offer["attributes"]
        attrs.pop("updated_at", None)
        return {**offer, "title": attrs.pop("name"), "external_offers": externals}

    def new_proposal_refs(self) -> dict[str, str | None]:
        """The client and contact of a live external offer (Happyoffer contacts are keyed by
        client and e-mail).
        """
        with self.lock:
            live = self.live_offers()
            for ext in sorted(self.collection("external_offers").values(),
                              key=lambda e: int(e["attributes"]["offer_id"])):
                a = ext["attributes"]
                if a["offer_id"] in live:
                    client = str(a["external_client_id"])
                    return {"company_id": client,
                            "contact_id": f"{client}:{a['contact_email'].strip().lower()}"}
        raise LookupError("no live external offer")

    def count_proposals(self) -> int:
        """The live offers, counted as a backfill mirrors them."""
        with self.lock:
            return len(self.live_offers())
