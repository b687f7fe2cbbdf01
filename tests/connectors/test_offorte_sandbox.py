"""Offorte sandbox over real HTTP, and the connector against it: OAuth2 refresh, 429
without Retry-After, bare-status errors, the edit lock, 410, idempotent create, webhooks,
and both dialects through the engine (same canonical rows; v2 stops early on its mark)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from syncd.canonical import Entity
from syncd.clock import FakeClock
from syncd.db.tables import CANONICAL_TABLES, oauth_tokens
from syncd.engine.pull import Puller, PullResult
from syncd.engine.runtime import Runtime
from syncd.errors import AuthError, VendorRefused
from syncd.http.budget import RateBudget
from syncd.http.client import AccountClient, NotFound
from syncd.sandbox.base import ServedApp
from syncd.sandbox.offorte import OfforteSandbox
from syncd.settings import AccountSettings
from syncd.vendors.offorte import OfforteConnector, OfforteOAuth2

SIZES = {"companies": 12, "proposals": 130, "max_items": 6, "seed": 11}


class DictTokens:
    """A TokenStore in a dict (the engine's is the database)."""

    def __init__(self, pair: dict[str, str] | None = None) -> None:
        self.pair = pair
        self.saved: list[dict[str, str]] = []

    def load(self) -> dict[str, str] | None:
        return self.pair

    def save(self, tokens: dict[str, str]) -> None:
        self.pair = dict(tokens)
        self.saved.append(dict(tokens))


@pytest.fixture
def sandbox(served: Callable[..., ServedApp]) -> OfforteSandbox:
    box = OfforteSandbox(requests_per_minute=10_000)
    box.seed_data(**SIZES)
    served(box)
    return box


def settings_of(box: OfforteSandbox, version: str = "v1") -> AccountSettings:
    box.api_version = version
    return AccountSettings(**box.account_entry("off"))


def client_for(box: OfforteSandbox, version: str = "v1",
               tokens: DictTokens | None = None) -> tuple[AccountClient, OfforteConnector]:
    """The engine's own AccountClient (no database) with the connector's auth."""
    conn = OfforteConnector(settings_of(box, version))
    clock = FakeClock()
    client = AccountClient(account="off", base_url=conn.account.base_url,
                           budget=RateBudget("off", 10_000, clock), clock=clock, ledger=None,
                           auth=conn.auth(tokens or DictTokens()), headers=conn.headers(),
                           refusal_message=conn.refusal_message, attempts=1)
    return client, conn


# ---- auth -------------------------------------------------------------------------------------
def test_offorte_401_refreshes_once_persists_the_pair_and_retries(sandbox: OfforteSandbox) -> None:
    entry = settings_of(sandbox)
    tokens = DictTokens()
    auth = OfforteConnector(entry).auth(tokens)
    sandbox.expire_access_tokens()
    with httpx.Client(base_url=entry.base_url + "/", auth=auth) as http:
        response = http.get("companies")
    assert response.status_code == 200 and len(response.json()) == 12
    assert [(r.method, r.path, r.status) for r in sandbox.requests] == [
        ("GET", "/api/v1/acme/companies", 401), ("POST", "/oauth2/refresh-token", 200),
        ("GET", "/api/v1/acme/companies", 200)]
    (pair,) = tokens.saved
    assert pair["access_token"] != sandbox.access_token
    assert pair["refresh_token"] != sandbox.refresh_token
    assert sandbox.requests[-1].headers["authorization"] == f"Bearer {pair['access_token']}"
    # the old refresh token is spent: the pair in the store is now the only valid one
    reply = httpx.post(sandbox.root_url() + "/oauth2/refresh-token", data={
        "grant_type": "refresh_token", "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret, "refresh_token": sandbox.refresh_token})
    assert reply.status_code == 400


def test_offorte_stored_pair_wins_over_settings_and_is_not_refreshed_twice(
    sandbox: OfforteSandbox,
) -> None:
    entry = settings_of(sandbox)
    fresh_access, fresh_refresh = sandbox.issue_tokens()
    tokens = DictTokens({"access_token": fresh_access, "refresh_token": fresh_refresh})
    with httpx.Client(base_url=entry.base_url + "/",
                      auth=OfforteConnector(entry).auth(tokens)) as http:
        assert http.get("hello").status_code == 200
    assert sandbox.requests[-1].headers["authorization"] == f"Bearer {fresh_access}"
    # another worker refreshed meanwhile: a 401 with the old token just picks up the new pair
    shared = DictTokens()
    stale = OfforteOAuth2(shared, {"access_token": "expired"}, sandbox.root_url())
    request = httpx.Request("GET", entry.base_url + "/hello")
    flow = stale.auth_flow(request)
    assert next(flow).headers["authorization"] == "Bearer expired"
    shared.pair = {"access_token": fresh_access, "refresh_token": fresh_refresh}
    retry = flow.send(httpx.Response(401, request=request))
    assert retry.url == request.url  # no refresh request in between
    assert retry.headers["authorization"] == f"Bearer {fresh_access}"
    assert shared.saved == []


def test_offorte_failed_refresh_raises_auth_error_without_secrets(sandbox: OfforteSandbox) -> None:
    entry = settings_of(sandbox)
    entry.auth["client_secret"] = type(entry.auth["client_secret"])("not-the-secret")
    sandbox.expire_access_tokens()
    with httpx.Client(base_url=entry.base_url + "/",
                      auth=OfforteConnector(entry).auth(DictTokens())) as http, \
            pytest.raises(AuthError) as caught:
        http.get("companies")
    message = str(caught.value)
    assert "HTTP 400" in message
    for secret in ("not-the-secret", sandbox.refresh_token, sandbox.access_token):
        assert secret not in message


def test_offorte_v2_sends_the_raw_api_key(sandbox: OfforteSandbox) -> None:
    client, _ = client_for(sandbox, "v2")
    assert len(client.get_json("/contacts/organisations/")) == 12
    assert sandbox.requests[-1].headers["authorization"] == sandbox.api_key
    with httpx.Client() as http:
        bearer = http.get(sandbox.base_url() + "/hello",
                          headers={"Authorization": f"Bearer {sandbox.api_key}"})
    assert bearer.status_code == 401


def test_offorte_access_tokens_expire_after_30_days() -> None:
    clock = FakeClock()
    box = OfforteSandbox(clock=clock)
    app = ServedApp(box.app).start()
    try:
        box._base_url = app.url  # type: ignore[attr-defined]
        headers = {"Authorization": f"Bearer {box.access_token}"}
        assert httpx.get(box.base_url() + "/hello", headers=headers).status_code == 200
        clock.advance(30 * 86400)
        assert httpx.get(box.base_url() + "/hello", headers=headers).status_code == 401
    finally:
        app.stop()


# ---- vendor behaviour ---------------------------------------------------------------------------
def test_offorte_429_has_no_retry_after(served: Callable[..., ServedApp]) -> None:
    box = OfforteSandbox(requests_per_minute=2, clock=FakeClock())
    served(box)
    headers = {"Authorization": f"Bearer {box.access_token}"}
    statuses = [httpx.get(box.base_url() + "/hello", headers=headers) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    assert "retry-after" not in statuses[-1].headers and statuses[-1].content == b""


def test_offorte_errors_are_a_status_code_only(sandbox: OfforteSandbox) -> None:
    client, _ = client_for(sandbox)
    with pytest.raises(NotFound) as caught:
        client.get_json("/companies/999999/")
    assert caught.value.body == ""
    assert "Not Found" in str(caught.value)
    with pytest.raises(VendorRefused, match="HTTP 400"):
        client.get_json("/companies", params={"page": "zero"})


def test_offorte_pages_hold_50_and_ignore_size_parameters(served: Callable[..., ServedApp]) -> None:
    box = OfforteSandbox(requests_per_minute=10_000)
    box.seed_data(companies=120, proposals=0)
    served(box)
    client, _ = client_for(box)
    sizes = [len(client.get_json("/companies", params={"page": n, "per_page": 100}))
             for n in (1, 2, 3)]
    assert sizes == [50, 50, 20]


def test_offorte_sandbox_emits_legacy_fields_and_odd_formats(sandbox: OfforteSandbox) -> None:
    client, _ = client_for(sandbox)
    records = client.get_json("/proposals/open")
    first = records[0]
    assert first["price_total"].startswith(("$", "€")) and "total_price" in first
    assert isinstance(first["price_total_original"], int | float)
    assert "(" in first["date_created"] and first["date_created"][3:6].isalpha()
    details = client.get_json(f"/proposals/{first['id']}/details/")
    assert {"pages_total", "type", "language"} <= set(details)
    all_ids = [r["company_id"] for s in ("edit", "open", "won", "lost", "closed")
               for r in client.get_json(f"/proposals/{s}")]
    assert False in all_ids  # Offorte says `false` for "no company"
    users = client.get_json("/account/users/")
    assert users[0]["date_lastlogin"][4] == "-" and len(users[0]["date_lastlogin"]) == 19
    v2, _ = client_for(sandbox, "v2")
    row = v2.get_json("/proposals/open/", params={"sort": "date_modified"})[0]
    assert row["date_modified"].endswith(".000000Z")
    detail = v2.get_json(f"/proposals/{row['id']}/details")
    assert isinstance(detail["price_total_original"], str)


def test_offorte_locked_status_refuses_content_edits_with_403(sandbox: OfforteSandbox) -> None:
    client, _ = client_for(sandbox)
    won = client.get_json("/proposals/won")[0]
    with pytest.raises(VendorRefused) as caught:
        client.request("PATCH", f"/proposals/{won['id']}/details/", json={"name": "x"})
    assert caught.value.status == 403 and "only proposals in 'edit'" in str(caught.value)
    moved = client.request("PATCH", f"/proposals/{won['id']}/details/", json={"status": "edit"})
    assert moved.json()["status"] == "edit"
    edited = client.request("PATCH", f"/proposals/{won['id']}/details/",
                            json={"name": "Renamed", "price_total": 12.5})
    assert edited.json()["name"] == "Renamed" and edited.json()["price_total_original"] == 12.5
    assert sandbox.proposal_title(str(won["id"])) == "Renamed"


def test_offorte_planned_update_round_trips_through_the_sandbox(sandbox: OfforteSandbox) -> None:
    client, conn = client_for(sandbox)
    draft = client.get_json("/proposals/edit")[0]
    for req in conn.plan_update(Entity.PROPOSALS, str(draft["id"]),
                                {"title": "Pushed", "status": "sent"},
                                {"vendor_status": "edit"}, {}, []):
        client.request(req.method, req.path, json=req.json)
    raw = client.get_json(f"/proposals/{draft['id']}/details/")
    (row,) = conn.fetch_one(client, Entity.PROPOSALS, str(draft["id"])).proposals
    assert raw["name"] == "Pushed" and row["status"] == "sent" and row["title"] == "Pushed"


def test_offorte_deleted_proposal_details_are_gone_410(sandbox: OfforteSandbox) -> None:
    client, conn = client_for(sandbox)
    pid = str(client.get_json("/proposals/edit")[0]["id"])
    (req,) = conn.plan_delete(Entity.PROPOSALS, pid, {})
    client.request(req.method, req.path)
    with pytest.raises(NotFound) as caught:
        client.get_json(f"/proposals/{pid}/details/")
    assert caught.value.status == 410
    assert conn.fetch_one(client, Entity.PROPOSALS, pid) is None
    assert pid not in {str(r["id"]) for r in client.get_json("/proposals/edit")}


def test_offorte_drop_fault_on_create_still_creates_and_the_marker_finds_it(
    sandbox: OfforteSandbox,
) -> None:
    client, conn = client_for(sandbox)
    company = client.get_json("/companies")[0]
    row = {"title": "Lost answer", "company_remote_id": str(company["id"])}
    items = [{"position": 1, "name": "Widget", "quantity": 2, "unit_price": 10}]
    (req,) = conn.plan_create(Entity.PROPOSALS, row, items, "mk-42")
    sandbox.add_fault("POST", r"/proposals/$", "drop")
    with pytest.raises(Exception):  # noqa: B017 - the connection is dropped, any transport error
        client.request(req.method, req.path, json=req.json, retry=False)
    found = conn.find_by_marker(client, Entity.PROPOSALS, "mk-42")
    assert found is not None and sandbox.proposal_title(found) == "Lost answer"
    assert conn.find_by_marker(client, Entity.PROPOSALS, "mk-other") is None
    bundle = conn.fetch_one(client, Entity.PROPOSALS, found)
    assert [(i["name"], i["quantity"]) for i in bundle.line_items] == [("Widget", 2)]
    assert bundle.proposals[0]["status"] == "draft"
    again = client.request(req.method, req.path, json={**req.json, "remarks": "other"})
    assert conn.created_id(Entity.PROPOSALS, again.json()) != found


def test_offorte_create_rejects_rows_for_an_unknown_price_table(sandbox: OfforteSandbox) -> None:
    client, _ = client_for(sandbox)
    company = client.get_json("/companies")[0]
    body = {"company_id": company["id"], "name": "x",
            "content": {"pricetables": [{"id": "nope", "rows": []}]}}
    with pytest.raises(VendorRefused, match="HTTP 400"):
        client.request("POST", "/proposals/", json=body)


def test_offorte_companies_and_people_round_trip(sandbox: OfforteSandbox) -> None:
    for version in ("v1", "v2"):
        client, conn = client_for(sandbox, version)
        (create,) = conn.plan_create(Entity.COMPANIES, {"name": f"New {version}"}, [], "m")
        cid = conn.created_id(Entity.COMPANIES,
                              client.request("POST", create.path, json=create.json).json())
        (person,) = conn.plan_create(Entity.CONTACTS, {"full_name": "Ann Lee", "email": "a@l",
                                                       "company_remote_id": cid}, [], "m")
        pid = conn.created_id(Entity.CONTACTS,
                              client.request("POST", person.path, json=person.json).json())
        (patch,) = conn.plan_update(Entity.CONTACTS, pid, {"mobile": "06"}, {},
                                    {"company_id": int(cid)}, [])
        client.request(patch.method, patch.path, json=patch.json)
        (upd,) = conn.plan_update(Entity.COMPANIES, cid, {"city": "Gent"}, {}, {}, [])
        client.request(upd.method, upd.path, json=upd.json)
        bundle = conn.fetch_one(client, Entity.COMPANIES, cid)
        assert bundle.companies[0]["city"] == "Gent"
        assert [(c["remote_id"], c["mobile"]) for c in bundle.contacts] == [(pid, "06")]
        assert bundle.complete_contacts_of == {cid}
        (delete,) = conn.plan_delete(Entity.COMPANIES, cid, {})
        client.request(delete.method, delete.path)
        assert conn.fetch_one(client, Entity.COMPANIES, cid) is None


# ---- webhooks ---------------------------------------------------------------------------------
@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    got: list[tuple[str, Any]] = []

    async def hook(request: Request) -> Response:
        got.append((request.path_params["rest"], await request.json()))
        return Response(status_code=204)

    app = ServedApp(Starlette(routes=[Route("/webhooks/{rest:path}", hook, methods=["POST"])]))
    app.start()
    yield app.url, got
    app.stop()


def test_offorte_webhook_subscription_and_unsigned_delivery(
    sandbox: OfforteSandbox, receiver: tuple[str, list[tuple[str, Any]]],
) -> None:
    url, got = receiver
    client, conn = client_for(sandbox)
    (req,) = conn.webhook_subscriptions(f"{url}/webhooks/off", "s3cret")
    client.request(req.method, req.path, json=req.json)
    pid = str(client.get_json("/proposals/won")[0]["id"])
    assert sandbox.emit_webhook("proposal_details_updated", pid) == [204]
    ((path, payload),) = got
    assert path == "off/s3cret"
    assert payload["type"] == "proposal_details_updated"
    assert len(payload["date_created"]) == 19 and payload["date_created"][10] == " "
    assert conn.authenticate_webhook({}, b"", path.rsplit("/", 1)[-1], "s3cret")
    (hint,) = conn.webhook_hints(payload)
    assert (hint.entity, hint.remote_id, hint.deleted) == (Entity.PROPOSALS, pid, False)
    hooks = client.get_json("/webhooks/")
    assert hooks[0]["events"] == ["all"] and hooks[0]["payload_url"].endswith("/off/s3cret")


def test_offorte_allows_at_most_10_webhooks_and_https_urls_only(sandbox: OfforteSandbox) -> None:
    client, _ = client_for(sandbox)
    with pytest.raises(VendorRefused):
        client.request("POST", "/webhooks/", json={"payload_url": "http://example.com/x"})
    for n in range(10):
        client.request("POST", "/webhooks/", json={"payload_url": f"https://h.example/{n}",
                                                   "events": ["proposal_won"]})
    with pytest.raises(VendorRefused, match="HTTP 400"):
        client.request("POST", "/webhooks/", json={"payload_url": "https://h.example/11"})


def test_offorte_v2_webhook_payload_has_string_ids_and_iso_dates(
    sandbox: OfforteSandbox, receiver: tuple[str, list[tuple[str, Any]]],
) -> None:
    url, got = receiver
    client, conn = client_for(sandbox, "v2")
    (req,) = conn.webhook_subscriptions(f"{url}/webhooks/off", "tok")
    assert client.request(req.method, req.path, json=req.json).json()["webhook_id"]
    person = client.get_json("/contacts/people/")[0]
    sandbox.emit_webhook("contact_person_updated", person["id"])
    ((_, payload),) = got
    assert payload["data"]["id"] == str(person["id"]) and payload["date_created"].endswith("Z")
    (hint,) = conn.webhook_hints(payload)
    assert (hint.entity, hint.remote_id) == (Entity.COMPANIES, str(person["contact_id"]))


# ---- through the engine ---------------------------------------------------------------------------
def pull_case(db_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., ServedApp],
              version: str, sizes: dict[str, int] = SIZES) -> tuple[OfforteSandbox, Runtime]:
    clock = FakeClock()
    box = OfforteSandbox(requests_per_minute=30, clock=clock, api_version=version)
    box.seed_data(**sizes)
    served(box)
    return box, make_runtime(db_url, [box.account_entry("off")], clock)


def pull(runtime: Runtime, sweep: bool = True) -> PullResult:
    result = Puller(runtime, runtime.account("off")).run(sweep=sweep)
    assert result.ok, result.errors
    return result


def canonical(runtime: Runtime) -> dict[str, dict[str, dict[str, Any]]]:
    skip = {"id", "raw", "base", "sync_rev", "synced_at", "company_id", "proposal_id",
            "contact_id", "created_at", "decided_at"}
    out: dict[str, dict[str, dict[str, Any]]] = {}
    with runtime.db.begin() as conn:
        for name, table in CANONICAL_TABLES.items():
            out[name] = {r["remote_id"]: {k: v for k, v in r.items() if k not in skip}
                         for r in conn.execute(select(table)).mappings()}
    return out


def test_offorte_v1_and_v2_give_the_same_canonical_rows(
    sqlite_url: str, tmp_path: Any, make_runtime: Callable[..., Runtime],
    served: Callable[..., ServedApp],
) -> None:
    from syncd.db.session import Database

    v1_box, v1 = pull_case(sqlite_url, make_runtime, served, "v1")
    other = f"sqlite:///{tmp_path}/v2.db"
    Database(other).upgrade()
    v2_box, v2 = pull_case(other, make_runtime, served, "v2")
    pull(v1)
    pull(v2)
    assert len(v1_box.requests) == v1_box.lower_bound_requests()
    assert len(v2_box.requests) == v2_box.lower_bound_requests()
    assert v1_box.count(status=429) == v2_box.count(status=429) == 0
    one, two = canonical(v1), canonical(v2)
    assert {k: len(v) for k, v in one.items()} == {k: len(v) for k, v in two.items()}
    for table in one:
        assert one[table] == two[table], table


def test_offorte_v2_incremental_pull_stops_at_the_high_water_mark(
    sqlite_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., ServedApp],
) -> None:
    box, runtime = pull_case(sqlite_url, make_runtime, served, "v2",
                             {"companies": 5, "proposals": 260, "max_items": 2, "seed": 3})
    pull(runtime)
    busiest = max(("edit", "open", "won"),
                  key=lambda s: sum(p["status"] == s for p in box.proposals.values()))
    assert sum(p["status"] == busiest for p in box.proposals.values()) > 50
    edited = next(k for k, p in box.proposals.items() if p["status"] == busiest)
    box.remote_edit_title(edited, "Changed in Offorte")
    box.reset_log()
    result = pull(runtime, sweep=False)
    proposal_pages = [r for r in box.requests if "/proposals/" in r.path and "details" not in r.path]
    assert len(proposal_pages) == 5 and result.total("details") == 1
    with runtime.db.begin() as conn:
        table = CANONICAL_TABLES[Entity.PROPOSALS]
        title = conn.execute(select(table.c.title).where(table.c.remote_id == edited)).scalar()
    assert title == "Changed in Offorte"


def test_offorte_engine_refreshes_and_persists_tokens_in_the_database(
    sqlite_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., ServedApp],
) -> None:
    box, runtime = pull_case(sqlite_url, make_runtime, served, "v1",
                             {"companies": 3, "proposals": 4, "max_items": 2, "seed": 1})
    box.expire_access_tokens()
    pull(runtime)
    assert box.count("POST", "/oauth2/refresh-token") == 1
    with runtime.db.begin() as conn:
        stored = conn.execute(select(oauth_tokens.c.tokens)).scalar()
    assert stored["access_token"] in box.access_tokens
    assert stored["refresh_token"] in box.refresh_tokens
    box.reset_log()
    pull(runtime, sweep=False)
    assert box.count(status=401) == 0  # the stored pair is used from now on


def test_offorte_concurrent_401s_refresh_only_once(sandbox: OfforteSandbox) -> None:
    entry = settings_of(sandbox)
    tokens = DictTokens()
    auth = OfforteConnector(entry).auth(tokens)
    sandbox.expire_access_tokens()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            with httpx.Client(base_url=entry.base_url + "/", auth=auth) as http:
                assert http.get("hello").status_code == 200
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sandbox.count("POST", "/oauth2/refresh-token") == 1 and len(tokens.saved) == 1


def test_offorte_full_sweep_marks_remote_deletions(
    sqlite_url: str, make_runtime: Callable[..., Runtime], served: Callable[..., ServedApp],
) -> None:
    box, runtime = pull_case(sqlite_url, make_runtime, served, "v1",
                             {"companies": 6, "proposals": 8, "max_items": 3, "seed": 5})
    pull(runtime)
    person = next(iter(box.people.values()))
    box.companies[str(person["company_id"])]["people"].remove(person["id"])
    del box.people[str(person["id"])]
    gone = next(k for k, p in box.proposals.items() if p["status"] == "edit")
    box.proposals[gone]["deleted"] = True
    pull(runtime)
    with runtime.db.begin() as conn:
        tables = CANONICAL_TABLES
        contact = conn.execute(select(tables[Entity.CONTACTS].c.deleted_at).where(
            tables[Entity.CONTACTS].c.remote_id == str(person["id"]))).scalar()
        proposal_row = conn.execute(select(tables[Entity.PROPOSALS]).where(
            tables[Entity.PROPOSALS].c.remote_id == gone)).mappings().one()
        items = conn.execute(select(tables[Entity.LINE_ITEMS].c.deleted_at).where(
            tables[Entity.LINE_ITEMS].c.proposal_id == proposal_row["id"])).scalars().all()
    assert contact is not None and proposal_row["deleted_at"] is not None
    assert items and all(d is not None for d in items)


def test_offorte_sandbox_accepts_the_seed_request_bodies(sandbox: OfforteSandbox) -> None:
    import json
    from pathlib import Path

    seed = json.loads((Path(__file__).parent / "fixtures" / "offorte" /
                       "v1_seed_examples.json").read_text(encoding="utf-8"))
    client, conn = client_for(sandbox)
    made = client.request("POST", "/companies/", json=seed["company_create_body"]).json()
    cid = conn.created_id(Entity.COMPANIES, made)
    person = client.request("POST", f"/companies/{cid}/people/",
                            json=seed["person_create_body"]).json()
    pid = conn.created_id(Entity.CONTACTS, person)
    body = {**seed["proposal_create_body"], "company_id": int(cid), "company_contacts": [int(pid)]}
    created = client.request("POST", "/proposals/", json=body).json()
    assert set(created) == {"proposal_id", "proposal_version_id"}
    new = str(created["proposal_id"])
    update = {**seed["proposal_update_body"], "company_id": int(cid),
              "company_contacts": [int(pid)]}
    patched = client.request("PATCH", f"/proposals/{new}/details/", json=update).json()
    assert patched["status"] == "won" and patched["price_total_original"] == 999.99
    (row,) = conn.fetch_one(client, Entity.PROPOSALS, new).proposals
    assert row["contact_id"] == pid and row["company_id"] == cid
    hook = client.request("POST", "/webhooks/", json=seed["webhook_create_body"]).json()
    assert client.get_json(f"/webhooks/{hook['id']}/")["events"] == ["company_created"]
    client.request("PATCH", f"/webhooks/{hook['id']}/", json={"active": False})
    assert client.get_json(f"/webhooks/{hook['id']}/")["active"] is False
    client.request("DELETE", f"/webhooks/{hook['id']}/")
    assert client.get_json("/webhooks/") == []


def test_offorte_send_opens_the_proposal_and_records_the_email(sandbox: OfforteSandbox) -> None:
    client, conn = client_for(sandbox)
    draft = next(p for p in sandbox.proposals.values()
                 if p["status"] == "edit" and p["contacts"])
    path = f"/proposals/{draft['id']}/send/"
    with pytest.raises(VendorRefused, match="HTTP 400"):
        client.request("POST", path, json={"send_method": "self"})
    sent = client.request("POST", path, json={"send_method": "self", "send_message": "Hi"})
    assert sent.json()["receivers"][0]["proposal_link"].startswith("https://acme.offorte.com/")
    (row,) = conn.fetch_one(client, Entity.PROPOSALS, str(draft["id"])).proposals
    assert row["status"] == "sent" and row["sent_at"] is not None


def test_offorte_authorization_code_grant(sandbox: OfforteSandbox) -> None:
    form = {"grant_type": "authorization_code", "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret, "code": sandbox.auth_code,
            "redirect_uri": "https://example.com/cb"}
    pair = httpx.post(sandbox.root_url() + "/oauth2/token", data=form).json()
    assert httpx.get(sandbox.base_url() + "/hello", headers={
        "Authorization": f"Bearer {pair['access_token']}"}).status_code == 200
    bad = httpx.post(sandbox.root_url() + "/oauth2/token", data={**form, "code": "nope"})
    assert bad.status_code == 400


def test_offorte_new_pair_in_settings_beats_a_stale_stored_pair(sandbox: OfforteSandbox) -> None:
    entry = settings_of(sandbox)
    tokens = DictTokens()
    sandbox.expire_access_tokens()
    with httpx.Client(base_url=entry.base_url + "/",
                      auth=OfforteConnector(entry).auth(tokens)) as http:
        assert http.get("hello").status_code == 200
    assert tokens.pair and tokens.pair["origin"] and sandbox.access_token not in str(tokens.pair)
    sandbox.expire_access_tokens()  # the stored pair is dead; the user re-authorises
    access, refresh = sandbox.issue_tokens()
    sandbox.access_token, sandbox.refresh_token = access, refresh
    renewed = settings_of(sandbox)
    with httpx.Client(base_url=renewed.base_url + "/",
                      auth=OfforteConnector(renewed).auth(tokens)) as http:
        assert http.get("hello").status_code == 200
    assert sandbox.requests[-1].headers["authorization"] == f"Bearer {access}"
