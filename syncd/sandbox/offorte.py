"""The Offorte API on loopback: v1 (the seed, OAuth2) and v2 (API key) over one store.

v1 lives under `/api/v1/{account}`, v2 under `/api/v2/{account}`; the OAuth2 host's
`/oauth2/token` and `/oauth2/refresh-token` sit at the root (`oauth_url`). Faithful, not
kind: 50 records per page with no size parameter, bare arrays, errors that are a status
code and nothing else, 429 without Retry-After (Offorte documents none), 30-day access
tokens whose refresh invalidates the old refresh token, 410 for a deleted proposal, at most
10 webhooks, JSON Content-Type required on writes.

Choices where Offorte is silent (syncd's project decisions, documented for users):
  * Only proposals in `edit` accept content changes (name, price_total, company, contacts):
    others answer 403 ("hidden/forbidden" is the closest documented code); status changes
    are always accepted.
  * `?query=` searches name, number, company name and the internal remarks, in every status.
  * v1 creates answer `{company_id}` / `{people_id}` / `{proposal_id, proposal_version_id}`;
    v2 answers `{id}` / `{id, version_id}`.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from syncd.clock import SYSTEM_CLOCK, Clock
from syncd.netloc import is_loopback_host
from syncd.sandbox import offorte_data as data
from syncd.sandbox.base import Sandbox

PAGE = 50
TOKEN_DAYS = 30
_API = re.compile(r"^/api/(v1|v2)/([^/]+)")
_COMPANY_FIELDS = ("name", "street", "zipcode", "city", "state", "country", "phone", "fax",
                   "email", "internet", "linkedin", "facebook", "twitter", "instagram",
                   "coc_number", "vat_number")
_PERSON_FIELDS = ("firstname", "lastname", "fullname", "salutation", "street", "zipcode", "city",
                  "state", "country", "phone", "mobile", "email", "internet", "linkedin",
                  "facebook", "twitter")
_EVENTS = {"all", "company_created", "company_updated", "company_deleted",
           "company_contact_created", "company_contact_updated", "company_contact_deleted",
           "contact_created", "contact_updated", "contact_deleted", "contact_person_created",
           "contact_person_updated", "contact_person_deleted", "proposal_created",
           "proposal_details_updated", "proposal_deleted", "proposal_send", "proposal_won",
           "proposal_lost", "proposal_viewed", "proposal_comment_received",
           "product_directory_created", "product_directory_updated", "product_directory_deleted",
           "product_created", "product_updated", "product_deleted"}
Handler = Callable[[Request, Any, bool], Response]


class Refusal(Exception):
    """An error status raised inside a handler (Offorte sends the code alone)."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _ok(body: Any = None) -> Response:
    return Response(status_code=200) if body is None else JSONResponse(body)


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise Refusal(400)
    return int(value)


class OfforteSandbox(Sandbox):
    """Offorte v1 + v2 for one account (`acme`)."""

    vendor = "offorte"
    retry_after_header = False  # Offorte's 429 carries no Retry-After

    def __init__(self, *, requests_per_minute: int = 30, clock: Clock = SYSTEM_CLOCK,
                 api_version: str = "v1", account: str = "acme") -> None:
        self.api_version = api_version
        self.account = account
        self.client_id, self.client_secret = "offorte-sandbox-client", "offorte-sandbox-secret"
        self.auth_code = "offorte-sandbox-code"
        self.api_key = "offorte-sandbox-api-key"
        self.access_tokens: dict[str, float] = {}
        self.refresh_tokens: set[str] = set()
        super().__init__(requests_per_minute=requests_per_minute, clock=clock)
        self.access_token, self.refresh_token = self.issue_tokens()

    # ---- plumbing ---------------------------------------------------------------------------
    def root_url(self) -> str:
        """The server root: the OAuth2 host (`oauth_url`) in account settings."""
        return super().base_url().split("/api/")[0]

    def base_url(self) -> str:
        """Offorte's API sits under `/api/{version}/{account}`, so the account is part of the URL."""
        root = super().base_url().split("/api/")[0]
        return f"{root}/api/{self.api_version}/{self.account}" if root else ""

    def routes(self) -> None:
        """Offorte's endpoints, each under the API versions that have it."""
        both, v1, v2 = ("v1", "v2"), ("v1",), ("v2",)
        self._add(both, "/hello", GET=self.hello)
        self._add(both, "/account/users", GET=self.list_users)
        self._add(both, "/webhooks", GET=self.list_webhooks, POST=self.create_webhook)
        self._add(both, "/webhooks/{wid}", GET=self.get_webhook, PATCH=self.patch_webhook,
                  DELETE=self.delete_webhook)
        self._add(both, "/proposals", POST=self.create_proposal)
        self._add(both, "/proposals/{key}", GET=self.list_proposals,
                  DELETE=self.delete_proposal)
        self._add(both, "/proposals/{pid}/details", GET=self.get_details,
                  PATCH=self.patch_details)
        self._add(both, "/proposals/{pid}/send", POST=self.send_proposal)
        self._add(v1, "/companies", GET=self.list_companies, POST=self.create_company)
        self._add(v1, "/companies/{cid}", GET=self.get_company, PATCH=self.patch_company,
                  DELETE=self.delete_company)
        self._add(v1, "/companies/{cid}/people", GET=self.list_company_people,
                  POST=self.create_person)
        self._add(v1, "/companies/{cid}/people/{pid}", GET=self.get_person,
                  PATCH=self.patch_person, DELETE=self.delete_person)
        self._add(v2, "/contacts", POST=self.create_contact)
        self._add(v2, "/contacts/organisations", GET=self.list_organisations)
        self._add(v2, "/contacts/people", GET=self.list_people)
        self._add(v2, "/contacts/{cid}", GET=self.get_company, PATCH=self.patch_contact,
                  DELETE=self.delete_contact)
        self._add(v2, "/contacts/{cid}/people", POST=self.create_person)
        for path, handler in (("/oauth2/token", self.oauth_token),
                              ("/oauth2/refresh-token", self.oauth_refresh)):
            self.route(path, handler, ["POST"])

    def _add(self, versions: tuple[str, ...], path: str, **handlers: Handler) -> None:
        """One endpoint per path and version, with and without the trailing slash."""
        for version in versions:
            endpoint = self._endpoint(handlers, version == "v2")
            for variant in (path, path + "/"):
                self.route(f"/api/{version}/{{account}}{variant}", endpoint, list(handlers))

    def _endpoint(self, handlers: dict[str, Handler], v2: bool) -> Any:
        async def endpoint(request: Request) -> Response:
            body: Any = None
            raw = await request.body()
            if request.method in ("POST", "PATCH", "PUT") and raw:
                if not request.headers.get("content-type", "").startswith("application/json"):
                    return self.error(400, "Content-Type must be application/json")
                try:
                    body = json.loads(raw)
                except ValueError:
                    return self.error(400, "invalid JSON")
            try:
                with self.lock:
                    return handlers[request.method](request, body, v2)
            except Refusal as exc:
                return self.error(exc.status, "")

        return endpoint

    def authenticate(self, request: Request) -> Response | None:
        """Offorte checks the account in the path and the key (v2) or a live access token (v1)."""
        match = _API.match(request.url.path)
        if match is None:
            return None
        if match.group(2) != self.account:
            return self.error(404, "")
        given = request.headers.get("authorization", "")
        if match.group(1) == "v2":
            return None if given == self.api_key else self.error(401, "")
        token = given[7:] if given.startswith("Bearer ") else ""
        issued = self.access_tokens.get(token)
        if issued is None or self.clock.time() - issued >= TOKEN_DAYS * 86400:
            return self.error(401, "")
        return None

    def rate_key(self, request: Request) -> str:
        """Offorte counts requests per account; the OAuth endpoints share one budget."""
        match = _API.match(request.url.path)
        return match.group(2) if match else "oauth"

    def error(self, status: int, message: str, **extra: Any) -> Response:
        """Offorte answers errors with the status code only."""
        return Response(status_code=status)

    def too_many(self, retry_after: int) -> Response:
        """Offorte's 429 has no body and no Retry-After."""
        return Response(status_code=429)

    # ---- OAuth2 -----------------------------------------------------------------------------
    def issue_tokens(self) -> tuple[str, str]:
        """A new access and refresh token pair, as the OAuth endpoints grant."""
        with self.lock:
            access, refresh = f"oa-{secrets.token_hex(12)}", f"or-{secrets.token_hex(12)}"
            self.access_tokens[access] = self.clock.time()
            self.refresh_tokens.add(refresh)
            return access, refresh

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is now past its 30 days (tests)."""
        with self.lock:
            self.access_tokens.clear()

    async def _form(self, request: Request) -> dict[str, Any]:
        raw = (await request.body()).decode()
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = json.loads(raw or "{}")
            except ValueError:
                return {}
            return body if isinstance(body, dict) else {}
        return dict(parse_qsl(raw))

    def _grant(self) -> Response:
        access, refresh = self.issue_tokens()
        return JSONResponse({"access_token": access, "refresh_token": refresh,
                             "token_type": "Bearer", "expires_in": TOKEN_DAYS * 86400})

    async def oauth_token(self, request: Request) -> Response:
        """The OAuth code grant: the first token pair, for an authorization code."""
        form = await self._form(request)
        ok = (form.get("grant_type") == "authorization_code" and form.get("code") == self.auth_code
              and self._client_ok(form))
        return self._grant() if ok else JSONResponse({"error": "invalid_grant"}, 400)

    async def oauth_refresh(self, request: Request) -> Response:
        """The OAuth refresh grant: a new pair for a live refresh token, which is then spent."""
        form = await self._form(request)
        with self.lock:
            token = form.get("refresh_token")
            ok = (form.get("grant_type") == "refresh_token" and self._client_ok(form)
                  and token in self.refresh_tokens)
            if not ok:
                return JSONResponse({"error": "invalid_grant"}, 400)
            self.refresh_tokens.discard(token)  # a refresh token works once
            return self._grant()

    def _client_ok(self, form: dict[str, Any]) -> bool:
        return form.get("client_id") == self.client_id and secrets.compare_digest(
            str(form.get("client_secret", "")), self.client_secret)

    # ---- store helpers ----------------------------------------------------------------------
    @property
    def companies(self) -> dict[str, dict[str, Any]]:
        """The companies, by id (v2 calls them organisation contacts)."""
        return self.collection("companies")

    @property
    def people(self) -> dict[str, dict[str, Any]]:
        """The people, by id, each of one company."""
        return self.collection("people")

    @property
    def proposals(self) -> dict[str, dict[str, Any]]:
        """The proposals, by id, deleted ones kept with a flag as Offorte keeps them."""
        return self.collection("proposals")

    def _find(self, collection: dict[str, dict[str, Any]], key: Any) -> dict[str, Any]:
        found = collection.get(str(key))
        if found is None:
            raise Refusal(404)
        return found

    def _proposal(self, key: Any) -> dict[str, Any]:
        proposal = self._find(self.proposals, key)
        if proposal.get("deleted"):
            raise Refusal(410)
        return proposal

    def _people_of(self, company: dict[str, Any] | None) -> list[dict[str, Any]]:
        if company is None:
            return []
        return [self.people[str(p)] for p in company["people"] if str(p) in self.people]

    def _company_of(self, proposal: dict[str, Any]) -> dict[str, Any] | None:
        return self.companies.get(str(proposal["company_id"]))

    def _page(self, request: Request, items: list[Any]) -> Response:
        try:
            page = int(request.query_params.get("page", "1"))
        except ValueError:
            page = 0
        if page < 1:
            raise Refusal(400)
        return JSONResponse(items[(page - 1) * PAGE: page * PAGE])

    def _list_body(self, p: dict[str, Any], v2: bool) -> dict[str, Any]:
        return data.proposal_list(p, self._company_of(p), v2)

    def _detail_body(self, p: dict[str, Any], v2: bool) -> dict[str, Any]:
        receivers = [self.people[str(i)] for i in p["contacts"] if str(i) in self.people]
        return data.proposal_detail(p, self._company_of(p), receivers, v2)

    def _company_body(self, company: dict[str, Any], v2: bool, people: bool) -> dict[str, Any]:
        if not v2:
            return data.company_v1(company, self._people_of(company) if people else None)
        counts: dict[str, int] = {}
        for p in self.proposals.values():
            if p["company_id"] == company["id"] and not p.get("deleted"):
                counts[p["status"]] = counts.get(p["status"], 0) + 1
        body = data.company_v2(company, counts)
        if people:
            body["people"] = [data.person_v2(x, company) for x in self._people_of(company)]
        return body

    def _touch(self, proposal: dict[str, Any]) -> None:
        proposal["modified"] = self.clock.time()

    # ---- account, users, webhooks -------------------------------------------------------------
    def hello(self, request: Request, body: Any, v2: bool) -> Response:
        """GET /hello: the check that the credentials work."""
        return _ok({"message": f"Hello {self.account}"})

    def list_users(self, request: Request, body: Any, v2: bool) -> Response:
        """GET /account/users: the account's users, a paged list."""
        users = sorted(self.collection("users").values(), key=lambda u: u["id"])
        return self._page(request, [data.user(u, v2) for u in users])

    def _webhook_body(self, hook: dict[str, Any]) -> dict[str, Any]:
        when = data.iso if hook["v2"] else data.v1_stamp
        return {"id": hook["id"], "active": hook["active"], "payload_url": hook["payload_url"],
                "payload_content_type": "json", "date_created": when(hook["created"]),
                "date_modified": when(hook["modified"]), "date_failed": when(hook["failed"]),
                "events": hook["events"]}

    def list_webhooks(self, request: Request, body: Any, v2: bool) -> Response:
        """GET /webhooks: the subscriptions, which syncd reads before subscribing."""
        hooks = sorted(self.collection("webhooks").values(), key=lambda h: h["id"])
        return _ok([self._webhook_body(h) for h in hooks])

    def _hook_fields(self, hook: dict[str, Any], body: Any) -> None:
        if not isinstance(body, dict):
            raise Refusal(400)
        if "payload_url" in body:
            parts = urlsplit(str(body["payload_url"]))
            secure = parts.scheme == "https" or (parts.scheme == "http"
                                                 and is_loopback_host(parts.hostname))
            if not secure or not parts.hostname:
                raise Refusal(400)
            hook["payload_url"] = body["payload_url"]
        if "events" in body:
            events = body["events"]
            if not isinstance(events, list) or not events or not set(events) <= _EVENTS:
                raise Refusal(400)
            hook["events"] = list(events)
        if "active" in body:
            hook["active"] = bool(body["active"])
        hook["modified"] = self.clock.time()

    def create_webhook(self, request: Request, body: Any, v2: bool) -> Response:
        """POST /webhooks: a new subscription, at most ten per account as Offorte allows."""
        hooks = self.collection("webhooks")
        if len(hooks) >= 10 or not isinstance(body, dict) or "payload_url" not in body:
            raise Refusal(400)
        hook = {"id": self.new_id(), "active": True, "events": ["all"], "v2": v2,
                "created": self.clock.time(), "failed": None, "failures": 0}
        self._hook_fields(hook, body)
        hooks[str(hook["id"])] = hook
        return _ok({"webhook_id": hook["id"]} if v2 else self._webhook_body(hook))

    def get_webhook(self, request: Request, body: Any, v2: bool) -> Response:
        """GET /webhooks/{id}: one subscription."""
        return _ok(self._webhook_body(self._find(self.collection("webhooks"),
                                                 request.path_params["wid"])))

    def patch_webhook(self, request: Request, body: Any, v2: bool) -> Response:
        """PATCH /webhooks/{id}: change a subscription's URL or events."""
        hook = self._find(self.collection("webhooks"), request.path_params["wid"])
        self._hook_fields(hook, body)
        return _ok(self._webhook_body(hook))

    def delete_webhook(self, request: Request, body: Any, v2: bool) -> Response:
        """DELETE /webhooks/{id}: remove a subscription."""
        self._find(self.collection("webhooks"), request.path_params["wid"])
        del self.collection("webhooks")[request.path_params["wid"]]
        return _ok()

    # ---- companies / contacts ------------------------------------------------------------------
    def list_companies(self, request: Request, body: Any, v2: bool) -> Response:
        """The companies (v1) or organisation contacts (v2) matching `query`, a page at a time."""
        query = request.query_params.get("query", "").lower()
        found = [c for c in sorted(self.companies.values(), key=lambda c: c["id"])
                 if query in c["name"].lower()]
        return self._page(request, [self._company_body(c, v2, people=not v2) for c in found])

    list_organisations = list_companies

    def list_people(self, request: Request, body: Any, v2: bool) -> Response:
        """v2's person contacts matching `query` in name or email, a page at a time."""
        query = request.query_params.get("query", "").lower()
        found = [p for p in sorted(self.people.values(), key=lambda p: p["id"])
                 if query in p["fullname"].lower() or query in p["email"].lower()]
        return self._page(request, [data.person_v2(p, self.companies.get(str(p["company_id"])))
                                    for p in found])

    def get_company(self, request: Request, body: Any, v2: bool) -> Response:
        """One company with its people; v2 answers a person's id on the same path."""
        cid = request.path_params["cid"]
        if v2 and cid in self.people:
            person = self.people[cid]
            return _ok(data.person_v2(person, self.companies.get(str(person["company_id"]))))
        company = self._find(self.companies, cid)
        shown = self._company_body(company, v2, people=True)
        mine = [p for p in self.proposals.values()
                if p["company_id"] == company["id"] and not p.get("deleted")]
        shown["proposals"] = [{**self._list_body(p, v2), "proposal_status": p["status"],
                               "proposal_name": p["name"]} for p in mine]
        if not v2:
            shown["account_company_user_id"] = company["account_user_id"] or False
        return _ok(shown)

    def _set(self, record: dict[str, Any], body: Any, keys: tuple[str, ...]) -> None:
        if not isinstance(body, dict):
            raise Refusal(400)
        for key in keys:
            if key in body:
                value = body[key]
                if value is not None and not isinstance(value, str):
                    raise Refusal(400)
                record[key] = value or ""
        if "fullname" not in body and ({"firstname", "lastname"} & set(body)):
            record["fullname"] = f"{record.get('firstname', '')} {record.get('lastname', '')}"
            record["fullname"] = record["fullname"].strip()

    def create_company(self, request: Request, body: Any, v2: bool) -> Response:
        """Create a company; Offorte requires only its name."""
        if not isinstance(body, dict) or not body.get("name"):
            raise Refusal(400)
        company = data.make_company(random.Random(0), self.new_id(), self.clock.time())
        company.update({k: "" for k in _COMPANY_FIELDS})
        self._set(company, body, _COMPANY_FIELDS)
        self.companies[str(company["id"])] = company
        return _ok({"id": company["id"]} if v2 else {"company_id": company["id"]})

    def create_contact(self, request: Request, body: Any, v2: bool) -> Response:
        """v2 creates both kinds of contact on one path, told apart by `type`."""
        kind = body.get("type") if isinstance(body, dict) else None
        if kind == "organisation":
            return self.create_company(request, body, v2)
        if kind != "person":
            raise Refusal(400)
        return self._new_person(None, body, v2)

    def create_person(self, request: Request, body: Any, v2: bool) -> Response:
        """POST /companies/{id}/people (v1) or /contacts/{id}/people (v2): a person of a company."""
        company = self._find(self.companies, request.path_params["cid"])
        return self._new_person(company, body, v2)

    def _new_person(self, company: dict[str, Any] | None, body: Any, v2: bool) -> Response:
        if not isinstance(body, dict) or not body.get("email"):
            raise Refusal(400)
        if not (body.get("fullname") or body.get("firstname") or body.get("lastname")):
            raise Refusal(400)
        person = data.make_person(random.Random(0), self.new_id(),
                                  company["id"] if company else 0, self.clock.time())
        person.update({k: "" for k in _PERSON_FIELDS})
        self._set(person, body, _PERSON_FIELDS)
        if company is None:
            person["company_id"] = False
        else:
            company["people"].append(person["id"])
        self.people[str(person["id"])] = person
        return _ok({"id": person["id"]} if v2 else {"people_id": person["id"]})

    def patch_company(self, request: Request, body: Any, v2: bool) -> Response:
        """PATCH /companies/{id} (v1): change a company; v2 reaches it through `patch_contact`."""
        company = self._find(self.companies, request.path_params["cid"])
        self._set(company, body, _COMPANY_FIELDS)
        return _ok(self._company_body(company, v2, people=True))

    def patch_contact(self, request: Request, body: Any, v2: bool) -> Response:
        """v2 patches either kind of contact on one path."""
        cid = request.path_params["cid"]
        if cid in self.people:
            self._set(self.people[cid], body, _PERSON_FIELDS)
            person = self.people[cid]
            return _ok(data.person_v2(person, self.companies.get(str(person["company_id"]))))
        return self.patch_company(request, body, v2)

    def delete_company(self, request: Request, body: Any, v2: bool) -> Response:
        """Delete a company with its people, unlinking its proposals as Offorte does."""
        company = self._find(self.companies, request.path_params["cid"])
        for pid in company["people"]:
            self.people.pop(str(pid), None)
        for proposal in self.proposals.values():
            if proposal["company_id"] == company["id"]:
                proposal.update(company_id=None, contacts=[])
        del self.companies[str(company["id"])]
        return _ok()

    def delete_contact(self, request: Request, body: Any, v2: bool) -> Response:
        """v2 deletes either kind of contact on one path."""
        cid = request.path_params["cid"]
        if cid in self.people:
            return self._drop_person(self.people[cid])
        return self.delete_company(request, body, v2)

    def _person_in(self, request: Request) -> dict[str, Any]:
        company = self._find(self.companies, request.path_params["cid"])
        person = self._find(self.people, request.path_params["pid"])
        if person["company_id"] != company["id"]:
            raise Refusal(404)
        return person

    def list_company_people(self, request: Request, body: Any, v2: bool) -> Response:
        """v1's people of one company, a page at a time."""
        company = self._find(self.companies, request.path_params["cid"])
        return self._page(request, [data.person_v1(p) for p in self._people_of(company)])

    def get_person(self, request: Request, body: Any, v2: bool) -> Response:
        """v1's person, addressed through their company."""
        return _ok(data.person_v1(self._person_in(request)))

    def patch_person(self, request: Request, body: Any, v2: bool) -> Response:
        """PATCH /companies/{id}/people/{id} (v1): change a person, addressed through their company."""
        person = self._person_in(request)
        self._set(person, body, _PERSON_FIELDS)
        return _ok(data.person_v1(person))

    def delete_person(self, request: Request, body: Any, v2: bool) -> Response:
        """DELETE /companies/{id}/people/{id} (v1): remove a person from their company."""
        return self._drop_person(self._person_in(request))

    def _drop_person(self, person: dict[str, Any]) -> Response:
        company = self.companies.get(str(person["company_id"]))
        if company is not None:
            company["people"] = [p for p in company["people"] if p != person["id"]]
        for proposal in self.proposals.values():
            proposal["contacts"] = [c for c in proposal["contacts"] if c != person["id"]]
        del self.people[str(person["id"])]
        return _ok()

    # ---- proposals ----------------------------------------------------------------------------
    def _matches(self, p: dict[str, Any], query: str) -> bool:
        company = self._company_of(p)
        hay = " ".join((p["name"], p["proposal_nr"], p["remarks"],
                        company["name"] if company else "")).lower()
        return query.lower() in hay

    def list_proposals(self, request: Request, body: Any, v2: bool) -> Response:
        """The proposals in one status, or those matching `query`, sorted as the version sorts."""
        status, query = request.path_params["key"], request.query_params.get("query")
        if status not in data.STATUSES and not query:
            raise Refusal(404)
        live = [p for p in self.proposals.values() if not p.get("deleted")]
        found = [p for p in live if (self._matches(p, query) if query else p["status"] == status)]
        sort = request.query_params.get("sort", "name" if v2 else "id")
        keys: dict[str, Callable[[dict[str, Any]], Any]] = {
            "id": lambda p: p["id"], "name": lambda p: (p["name"].lower(), p["id"]),
            "date_created": lambda p: (-p["created"], -p["id"]),
            "date_modified": lambda p: (-p["modified"], -p["id"]),
            "date_openclient": lambda p: (-(p["viewed_at"] or 0), -p["id"])}
        if sort not in keys:
            raise Refusal(400)
        found.sort(key=keys[sort])
        return self._page(request, [self._list_body(p, v2) for p in found])

    def get_details(self, request: Request, body: Any, v2: bool) -> Response:
        """One proposal in detail, with its price tables."""
        return _ok(self._detail_body(self._proposal(request.path_params["pid"]), v2))

    def _contacts(self, company_id: int | None, ids: Any) -> list[int]:
        if not isinstance(ids, list):
            raise Refusal(400)
        people = [self._find(self.people, _int(i)) for i in ids]
        if any(p["company_id"] != company_id or not p["email"] for p in people):
            raise Refusal(400)
        return [p["id"] for p in people]

    def patch_details(self, request: Request, body: Any, v2: bool) -> Response:
        """Change a proposal's name, total, contacts and price tables, with each version's field names."""
        p = self._proposal(request.path_params["pid"])
        if not isinstance(body, dict):
            raise Refusal(400)
        company_key, people_key = ("contact_id", "contact_people") if v2 else (
            "company_id", "company_contacts")
        content = {"name", "price_total", company_key, people_key} & set(body)
        if content and p["status"] != "edit":
            raise Refusal(403)  # only proposals in edit take content changes
        changes: dict[str, Any] = {}
        if "status" in body:
            if body["status"] not in data.STATUSES:
                raise Refusal(400)
            changes["status"] = body["status"]
        if "name" in body:
            if not isinstance(body["name"], str) or not body["name"].strip():
                raise Refusal(400)
            changes["name"] = body["name"]
        if "price_total" in body:
            value = body["price_total"]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise Refusal(400)
            changes["total"] = str(Decimal(str(value)).quantize(Decimal("0.01")))
        if company_key in body:
            company = None if body[company_key] in (None, False) else self._find(
                self.companies, _int(body[company_key]))
            changes.update(company_id=company["id"] if company else None, contacts=[])
        if people_key in body:
            changes["contacts"] = self._contacts(changes.get("company_id", p["company_id"]),
                                                 body[people_key])
        if changes.get("status") == "won" and p["status"] != "won":
            p["won_at"] = self.clock.time()
        p.update(changes)
        self._touch(p)
        return _ok(self._detail_body(p, v2))

    def create_proposal(self, request: Request, body: Any, v2: bool) -> Response:
        """Create a proposal for a company, with each version's field names."""
        if not isinstance(body, dict):
            raise Refusal(400)
        company_key, people_key = ("contact_id", "contact_people") if v2 else (
            "company_id", "company_contacts")
        if body.get(company_key) in (None, False, ""):
            raise Refusal(400)
        company = self._find(self.companies, _int(body[company_key]))
        contacts = self._contacts(company["id"], body.get(people_key, []))
        now = self.clock.time()
        proposal = {
            "id": self.new_id(), "name": str(body.get("name") or "New proposal"),
            "status": "edit", "remarks": str(body.get("remarks") or ""), "currency": "USD",
            "language": "en", "company_id": company["id"], "contacts": contacts,
            "account_user_id": body.get("account_user_id") or None, "version_id": self.new_id(),
            "proposal_nr": str(3000 + len(self.proposals)), "created": now, "modified": now,
            "viewed_at": None, "won_at": None, "views": 0, "emails": [], "total": None,
            "pricetables": self._new_tables((body.get("content") or {}).get("pricetables", [])),
        }
        self.proposals[str(proposal["id"])] = proposal
        if v2:
            return _ok({"id": proposal["id"], "version_id": proposal["version_id"]})
        return _ok({"proposal_id": proposal["id"],
                    "proposal_version_id": proposal["version_id"]})

    def _new_tables(self, given: Any) -> list[dict[str, Any]]:
        """Rows target the template's price table by its Unique ID; nothing else exists."""
        rows: list[dict[str, Any]] = []
        if not isinstance(given, list):
            raise Refusal(400)
        for table in given:
            if not isinstance(table, dict) or table.get("id") != data.PRICETABLE:
                raise Refusal(400)
            for row in table.get("rows", []):
                if not isinstance(row, dict) or row.get("type") not in (
                        "price", "discount", "subtotal", "title"):
                    raise Refusal(400)
                clean = {**row, "id": f"o-{uuid.uuid4()}"}
                if row["type"] == "price":
                    for key in ("quantity", "price"):
                        if isinstance(row.get(key), bool) or not isinstance(
                                row.get(key), int | float):
                            raise Refusal(400)
                    clean["subtotal"] = data.number(
                        Decimal(str(row["quantity"])) * Decimal(str(row["price"])))
                    clean.setdefault("discount_type", False)
                rows.append(clean)
        return [{"id": data.PRICETABLE, "rows": rows,
                 "settings": {"vat_default_percentage": 21, "vat_hidden": False,
                              "rows_include_vat": False}}]

    def send_proposal(self, request: Request, body: Any, v2: bool) -> Response:
        """Send a proposal to its contacts, which needs a message and at least one receiver."""
        p = self._proposal(request.path_params["pid"])
        if not isinstance(body, dict) or not (body.get("send_message")
                                              or body.get("send_message_id")):
            raise Refusal(400)
        receivers = [self.people[str(i)] for i in p["contacts"] if str(i) in self.people]
        if not receivers:
            raise Refusal(400)
        if p["status"] not in ("edit", "open"):
            raise Refusal(403)
        p["status"] = "open"
        p["emails"].append({"id": self.new_id(), "at": self.clock.time()})
        self._touch(p)
        return _ok({"receivers": [
            {"id": r["id"], "fullname": r["fullname"], "email": r["email"],
             "proposal_link": f"https://{self.account}.offorte.com/viewer/{p['id']}/",
             "signature_required": 0, "signature_allowed": 1} for r in receivers]})

    def delete_proposal(self, request: Request, body: Any, v2: bool) -> Response:
        """Delete a proposal: Offorte only flags it."""
        p = self._proposal(request.path_params["key"])
        p["deleted"] = True
        return _ok()

    # ---- webhook emission ------------------------------------------------------------------
    def emit_webhook(self, event: str, obj_id: Any, url: str | None = None) -> list[int]:
        """POST `{type, date_created, data}` to each subscribed hook (or `url`); unsigned."""
        with self.lock:
            hooks = [h for h in self.collection("webhooks").values() if h["active"]
                     and ("all" in h["events"] or event in h["events"])]
            targets = [(url, self.api_version == "v2", None)] if url else [
                (h["payload_url"], h["v2"], h) for h in hooks]
            payloads = [(target, self._payload(event, obj_id, v2), hook)
                        for target, v2, hook in targets]
        statuses = []
        for target, payload, hook in payloads:
            try:
                status = httpx.post(target, json=payload, timeout=5).status_code
            except httpx.HTTPError:
                status = -1
            with self.lock:
                self.webhook_deliveries.append({"url": target, "payload": payload,
                                                "status": status})
                if hook is not None and not 200 <= status < 300:
                    hook["failures"] += 1
                    hook["failed"] = self.clock.time()
                    hook["active"] = hook["failures"] < 10  # Offorte deactivates the hook
            statuses.append(status)
        return statuses

    def _payload(self, event: str, obj_id: Any, v2: bool) -> dict[str, Any]:
        key = str(obj_id)
        body: dict[str, Any]
        if event.startswith("proposal_") and key in self.proposals:
            body = self._detail_body(self.proposals[key], v2)
        elif key in self.people:
            person = self.people[key]
            company = self.companies.get(str(person["company_id"]))
            body = data.person_v2(person, company) if v2 else data.person_v1(person)
        elif key in self.companies:
            body = self._company_body(self.companies[key], v2, people=False)
        else:
            body = {"id": obj_id}
        if v2:  # observed v2 payloads carry ids as strings and ISO dates
            body = {**body, "id": str(body.get("id"))}
        when = data.iso(self.clock.time()) if v2 else data.v1_stamp(self.clock.time())
        return {"type": event, "date_created": when, "data": body}

    # ---- the standard-suite contract ----------------------------------------------------------
    def seed_data(self, *, companies: int = 20, proposals: int = 120, max_items: int = 20,
                  seed: int = 7) -> None:
        """Replace the data with a seeded set of companies, people and proposals."""
        with self.lock:
            self.store.clear()
            self._next_id = 1000
            rng = random.Random(seed)
            data.seed(self, rng, companies, proposals, max_items)

    def account_entry(self, name: str) -> dict[str, Any]:
        """v2 accounts carry the API key; v1 accounts the OAuth pair, client and token URL."""
        if self.api_version == "v2":
            auth = {"api_key": self.api_key}
        else:
            auth = {"access_token": self.access_token, "refresh_token": self.refresh_token,
                    "client_id": self.client_id, "client_secret": self.client_secret,
                    "oauth_url": self.root_url()}
        return {"name": name, "vendor": self.vendor, "base_url": self.base_url(),
                "api_version": self.api_version, "requests_per_minute": self.requests_per_minute,
                "auth": auth}

    def _live(self) -> list[dict[str, Any]]:
        return [p for p in self.proposals.values() if not p.get("deleted")]

    def expected_counts(self) -> dict[str, int]:
        """Offorte's line items are the price rows of the live proposals' tables."""
        with self.lock:
            live = self._live()
            items = sum(1 for p in live for t in p["pricetables"] for r in t["rows"]
                        if r.get("type") == "price")
            return {"companies": len(self.companies), "contacts": len(self.people),
                    "proposals": len(live), "line_items": items}

    def lower_bound_requests(self) -> int:
        """Short-page lists (one extra page only for exact multiples of 50), one details
        call per proposal, the users list; v2 lists organisations and people apart.
        """
        with self.lock:
            def pages(n: int) -> int:
                return n // PAGE + 1

            live = self._live()
            lists = sum(pages(sum(1 for p in live if p["status"] == s)) for s in data.STATUSES)
            contacts = pages(len(self.companies)) + (
                pages(len(self.people)) if self.api_version == "v2" else 0)
            return contacts + lists + len(live) + pages(len(self.collection("users")))

    def corrupt_one_record(self) -> str:
        """A proposal whose `content.pricetables` (the list its line items come from) is a
        string: an unusable structure, so syncd must quarantine it, while its id stays
        readable. Odd words or types alone would not do: syncd keeps such records.
        """
        with self.lock:
            key = sorted(self.proposals, key=int)[len(self.proposals) // 2]
            self.proposals[key]["overrides"] = {"content": {"pricetables": data.PRICETABLE}}
            return key

    def override_fields(self, remote_id: str, **fields: Any) -> None:
        """Fields every rendering of one proposal (its list record and its details) sends
        instead of what the store holds: the vendor says the same things in other words
        (or breaks them). Bumps the modification time, as an edit at Offorte would.
        """
        with self.lock:
            proposal = self.proposals[str(remote_id)]
            proposal.setdefault("overrides", {}).update(fields)
            self._touch(proposal)

    def override_row(self, remote_id: str, table: int, index: int, **fields: Any) -> None:
        """Fields one price-table row is sent with instead of the stored ones (its
        contribution to the proposal's total stays what the store says).
        """
        with self.lock:
            proposal = self.proposals[str(remote_id)]
            row = proposal["pricetables"][table]["rows"][index]
            row.setdefault("overrides", {}).update(fields)
            self._touch(proposal)

    def add_row(self, remote_id: str, row: dict[str, Any], table: int = 0) -> None:
        """Append a row as given (any type, any fields) to one of the proposal's price
        tables: a row a real account holds that the seed never makes.
        """
        with self.lock:
            proposal = self.proposals[str(remote_id)]
            proposal["pricetables"][table]["rows"].append(dict(row))
            self._touch(proposal)

    def remote_edit_title(self, remote_id: str, title: str) -> None:
        """Offorte's title is the proposal's name."""
        with self.lock:
            proposal = self.proposals[str(remote_id)]
            proposal["name"] = title
            self._touch(proposal)

    def proposal_title(self, remote_id: str) -> str | None:
        """The proposal's name, which syncd uses as its title; None once it is deleted."""
        with self.lock:
            proposal = self.proposals.get(str(remote_id))
            return None if proposal is None or proposal.get("deleted") else proposal["name"]

    def remote_edit_other(self, remote_id: str) -> tuple[str, Any]:
        """A user renumbers the proposal in Offorte."""
        with self.lock:
            proposal = self.proposals[str(remote_id)]
            proposal["proposal_nr"] = f"R-{proposal['id']}"
            self._touch(proposal)
            return "number", proposal["proposal_nr"]

    def proposal_fields(self, remote_id: str) -> dict[str, Any]:
        """The proposal with its name as `title` and without the modification time."""
        with self.lock:
            proposal = json.loads(json.dumps(self.proposals[str(remote_id)], default=str))
        proposal.pop("modified", None)
        proposal["title"] = proposal.pop("name")
        return dict(proposal)

    def new_proposal_refs(self) -> dict[str, str | None]:
        """A company with a person who has an e-mail address (Offorte's receivers need one)."""
        with self.lock:
            for key in sorted(self.companies, key=int):
                for person in self._people_of(self.companies[key]):
                    if person.get("email"):
                        return {"company_id": key, "contact_id": str(person["id"])}
        raise LookupError("no company with a person who has an e-mail address")

    def count_proposals(self) -> int:
        """Offorte only flags a deleted proposal, so the flagged ones do not count."""
        with self.lock:
            return len(self._live())
