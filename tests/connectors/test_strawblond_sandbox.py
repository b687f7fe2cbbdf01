"""StrawBlond quirks over real HTTP: the served sandbox, syncd's AccountClient, the connector,
and (at the end) the engine's pull, push and webhook receiver against the same sandbox.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from syncd.canonical import Entity
from syncd.clock import FakeClock
from syncd.db.tables import CANONICAL_TABLES, outbox
from syncd.engine.push import Pusher
from syncd.engine.webhooks import receive, run_pending_fetches
from syncd.errors import BadRecord, VendorError, VendorRefused
from syncd.http.budget import RateBudget
from syncd.http.client import AccountClient
from syncd.sandbox.base import Sandbox, ServedApp
from syncd.sandbox.strawblond import StrawBlondSandbox
from syncd.settings import AccountSettings
from syncd.vendors.base import WriteRequest
from syncd.vendors.strawblond import StrawBlondConnector, StrawBlondOffer, offer_fingerprint
from tests.connectors.standard import Case, make_case


@dataclass
class SB:
    sandbox: StrawBlondSandbox
    connector: StrawBlondConnector
    client: AccountClient
    raw: httpx.Client  # bearer only, no Accept: what a forgetful client sends
    clock: FakeClock

    def send(self, request: WriteRequest) -> httpx.Response:
        return self.client.request(request.method, request.path, json=request.json,
                                   params=request.params)

    def offer_in(self, word: str) -> str:
        """The id of a live offer in the given vendor state."""
        with self.sandbox.lock:
            for offer in self.sandbox.collection("offers").values():
                if offer["deleted_at"] is None and self.sandbox._status_of(offer) == word:
                    return str(offer["id"])
        raise LookupError(word)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get_json(path, params=params)


def _make(served: Callable[..., ServedApp], *, rpm: int = 10_000, **kwargs: Any) -> SB:
    clock = FakeClock()
    sandbox = StrawBlondSandbox(requests_per_minute=rpm, clock=clock, **kwargs)
    sandbox.seed_data(companies=6, proposals=60, max_items=5, seed=3)
    served(sandbox)
    account = AccountSettings(**sandbox.account_entry("sb"))
    connector = StrawBlondConnector(account)
    client = AccountClient(
        account="sb", base_url=account.base_url,
        budget=RateBudget("sb", account.requests_per_minute, clock), clock=clock, ledger=None,
        auth=connector.auth(None), headers=connector.headers(),  # type: ignore[arg-type]
        refusal_message=connector.refusal_message, attempts=2)
    raw = httpx.Client(base_url=account.base_url + "/",
                       headers={"Authorization": f"Bearer {sandbox.api_key}"})
    return SB(sandbox, connector, client, raw, clock)


@pytest.fixture
def sb(served: Callable[..., ServedApp]) -> SB:
    return _make(served)


JSON = {"Accept": "application/json"}


# ---- auth and headers ------------------------------------------------------------------------
def test_strawblond_accept_header_is_mandatory(sb: SB) -> None:
    answer = sb.raw.get("offer")
    assert answer.status_code == 302
    assert answer.headers["location"].endswith("/login")
    assert answer.headers["content-type"].startswith("text/html")
    assert sb.raw.get("offer", headers=JSON).status_code == 200
    forgetful = AccountClient(
        account="sb", base_url=sb.sandbox.base_url(), budget=RateBudget("sb", 1000, sb.clock),
        clock=sb.clock, ledger=None, auth=sb.connector.auth(None), attempts=1)  # type: ignore[arg-type]
    with pytest.raises(VendorError, match="redirect"):
        forgetful.get_json("/offer")
    assert sb.get("/offer")["meta"]["total"] == 60  # the connector's headers carry Accept


def test_strawblond_bad_key_is_laravel_401_json(sb: SB) -> None:
    answer = httpx.get(sb.sandbox.base_url() + "/offer",
                       headers={**JSON, "Authorization": "Bearer wrong"})
    assert answer.status_code == 401 and answer.json() == {"message": "Unauthenticated."}


# ---- pages, filters, errors ------------------------------------------------------------------
def test_strawblond_per_page_max_is_50_and_larger_values_are_clamped(sb: SB) -> None:
    page = sb.get("/offer", per_page=100)
    assert page["meta"]["per_page"] == 50 and len(page["data"]) == 50
    assert page["meta"]["last_page"] == 2 and page["meta"]["total"] == 60
    default = sb.get("/offer")
    assert default["meta"]["per_page"] == 20 and len(default["data"]) == 20
    answer = sb.raw.get("offer", params={"per_page": 0}, headers=JSON)
    assert answer.status_code == 422 and set(answer.json()) == {"message", "errors"}


def test_strawblond_links_keep_only_the_page_parameter(sb: SB) -> None:
    page = sb.get("/offer", per_page=50, include="elements", sort="-created_at")
    assert page["links"]["next"].endswith("/api/offer?page=2")
    assert page["links"]["prev"] is None and page["meta"]["current_page"] == 1
    last = sb.get("/offer", per_page=50, page=2)
    assert last["links"]["next"] is None and len(last["data"]) == 10
    assert last["meta"]["from"] == 51 and last["meta"]["to"] == 60


@pytest.mark.parametrize(("params", "word"), [
    ({"filter[updated_after]": "2024-01-01"}, "filter"),
    ({"sort": "-updated_at"}, "sort"),
    ({"include": "elements,vatRate"}, "include"),
])
def test_strawblond_unknown_filter_sort_or_include_is_400(
    sb: SB, params: dict[str, str], word: str
) -> None:
    answer = sb.raw.get("offer", params=params, headers=JSON)
    assert answer.status_code == 400 and f"Requested {word}(s)" in answer.json()["message"]


def test_strawblond_list_sorted_newest_first_with_includes(sb: SB) -> None:
    offers = sb.connector.streams[0]
    page = sb.get("/offer", **offers.params, per_page=50)
    created = [o["created_at"] for o in page["data"]]
    assert created == sorted(created, reverse=True)
    first = page["data"][0]
    assert {"elements", "contact", "company"} <= set(first)
    assert "project" not in first and "activities" not in first
    StrawBlondOffer.model_validate(first)


def test_strawblond_validation_error_is_laravel_422_shape(sb: SB) -> None:
    answer = sb.raw.post("offer", json={}, headers=JSON)
    assert answer.status_code == 422
    assert answer.json() == {"message": "The contact id field is required.",
                             "errors": {"contact_id": ["The contact id field is required."]}}
    answer = sb.raw.post("offer", json={"contact_id": "nope", "name": "x" * 300}, headers=JSON)
    body = answer.json()
    assert answer.status_code == 422 and body["message"].endswith("(and 1 more error)")
    assert set(body["errors"]) == {"contact_id", "name"}
    assert all(isinstance(v, list) and v for v in body["errors"].values())
    with pytest.raises(VendorRefused, match="contact id"):
        sb.client.request("POST", "/offer", json={"name": "x"})


def test_strawblond_404_names_the_model(sb: SB) -> None:
    answer = sb.raw.get("offer/NoSuchOffr", headers=JSON)
    assert answer.status_code == 404
    assert answer.json() == {"message": "No query results for model "
                                        "[Modules\\Salesforce\\Offer] NoSuchOffr"}
    assert sb.connector.fetch_one(sb.client, Entity.PROPOSALS, "NoSuchOffr") is None


def test_strawblond_webhook_fetch_keeps_drifted_offers_and_reports_broken_ones(sb: SB) -> None:
    """A targeted fetch maps an offer saying things in other words; one whose elements are
    not a list is a BadRecord (a SyncdError the webhook runner reports), not a crash."""
    oid = sb.offer_in("approved")
    sb.sandbox.override(oid, total="12.50", status="APPROVED", name=None)
    bundle = sb.connector.fetch_one(sb.client, Entity.PROPOSALS, oid)
    assert bundle is not None
    (row,) = bundle.proposals
    assert (row["total_net"], row["status"], row["title"]) == (Decimal("12.50"), "accepted", None)
    bad = sb.sandbox.corrupt_one_record()
    with pytest.raises(BadRecord, match=bad):
        sb.connector.fetch_one(sb.client, Entity.PROPOSALS, bad)


def test_strawblond_rate_limit_429_with_retry_after_and_ratelimit_headers(
    served: Callable[..., ServedApp]
) -> None:
    sb = _make(served, rpm=3)
    seen = [sb.raw.get("offer", headers=JSON) for _ in range(3)]
    assert [r.headers["x-ratelimit-remaining"] for r in seen] == ["2", "1", "0"]
    assert all(r.headers["x-ratelimit-limit"] == "3" for r in seen)
    limited = sb.raw.get("offer", headers=JSON)
    assert limited.status_code == 429 and limited.json() == {"message": "Too Many Attempts."}
    assert int(limited.headers["retry-after"]) == 60
    assert int(limited.headers["x-ratelimit-reset"]) == int(sb.clock.time()) + 60
    sb.clock.advance(60)
    assert sb.raw.get("offer", headers=JSON).status_code == 200


def test_strawblond_signed_urls_change_with_time_but_the_fingerprint_does_not(sb: SB) -> None:
    oid = sb.offer_in("draft")
    before = sb.get(f"/offer/{oid}")
    sb.clock.advance(5)
    after = sb.get(f"/offer/{oid}")
    assert before["pdf_url"] != after["pdf_url"] and "expires=" in after["pdf_url"]
    assert offer_fingerprint(before) == offer_fingerprint(after)


# ---- deletions -------------------------------------------------------------------------------
def test_strawblond_trashed_filter_shows_deleted_offers(sb: SB) -> None:
    oid = sb.offer_in("draft")
    (delete,) = sb.connector.plan_delete(Entity.PROPOSALS, oid, {})
    assert sb.send(delete).status_code == 204
    live = {o["id"] for o in sb.get("/offer", per_page=50)["data"]}
    live |= {o["id"] for o in sb.get("/offer", per_page=50, page=2)["data"]}
    assert oid not in live
    trashed = sb.get("/offer", **sb.connector.streams[1].params, per_page=50)["data"]
    mine = next(o for o in trashed if o["id"] == oid)
    assert mine["deleted_at"] is not None and sb.connector.streams[1].is_deleted(mine)
    assert all(o["deleted_at"] for o in trashed)  # 3 seeded + this one, no live ones
    assert len(trashed) == 4
    assert sb.connector.fetch_one(sb.client, Entity.PROPOSALS, oid) is None
    assert sb.raw.patch(f"offer/{oid}/restore", headers=JSON).status_code == 200
    assert sb.connector.fetch_one(sb.client, Entity.PROPOSALS, oid) is not None


def test_strawblond_trashed_filter_literal_reading_includes_live_offers(
    served: Callable[..., ServedApp]
) -> None:
    sb = _make(served, webhook_secret=None)
    sb.sandbox.trashed_includes_live = True
    rows = sb.get("/offer", **sb.connector.streams[1].params, per_page=50)["meta"]["total"]
    assert rows == 63
    assert sb.sandbox.lower_bound_requests() == 2  # the trashed list alone: 63 offers


# ---- locks -----------------------------------------------------------------------------------
@pytest.mark.parametrize("word", ["approved", "rejected"])
def test_strawblond_locked_offer_refuses_patch(sb: SB, word: str) -> None:
    oid = sb.offer_in(word)
    answer = sb.raw.patch(f"offer/{oid}", json={"name": "changed"}, headers=JSON)
    assert answer.status_code == 403 and "locked" in answer.json()["message"]
    answer = sb.raw.patch(f"offer/{oid}", json={"locked_at": None}, headers=JSON)
    assert answer.status_code == 403
    assert sb.sandbox.proposal_title(oid) != "changed"
    element = sb.get(f"/offer/{oid}", include="elements")["elements"][0]["id"]
    answer = sb.raw.put(f"document_element/{element}", json={"name": "x"}, headers=JSON)
    assert answer.status_code == 403


def test_strawblond_sent_offer_takes_decisions_and_unlocking_edits_only(sb: SB) -> None:
    oid = sb.offer_in("pending")
    assert sb.raw.patch(f"offer/{oid}", json={"name": "x"}, headers=JSON).status_code == 403
    raw = sb.get(f"/offer/{oid}")
    (unlock,) = sb.connector.plan_update(Entity.PROPOSALS, oid,
                                         {"status": "draft", "title": "Neu"}, {}, raw, [])
    body = sb.send(unlock).json()
    assert body["is_locked"] is False and body["name"] == "Neu"
    (send,) = sb.connector.plan_update(Entity.PROPOSALS, oid, {"status": "sent"}, {},
                                       body, [])
    assert sb.send(send).json()["is_locked"] is True
    assert sb.sandbox.sent_offers[-1]["offer_id"] == oid
    (approve,) = sb.connector.plan_update(Entity.PROPOSALS, oid, {"status": "accepted"}, {},
                                          sb.get(f"/offer/{oid}"), [])
    body = sb.send(approve).json()
    assert body["is_approved"] is True and body["approved_at"].endswith(".000000Z")
    bundle = sb.connector.fetch_one(sb.client, Entity.PROPOSALS, oid)
    assert bundle is not None and bundle.proposals[0]["status"] == "accepted"


# ---- writes round trip -------------------------------------------------------------------------
def test_create_find_by_marker_elements_and_totals_round_trip(sb: SB) -> None:
    contact = next(iter(sb.sandbox.collection("contacts")))
    row = {"title": "Neues Angebot", "contact_remote_id": contact, "status": "draft"}
    (create,) = sb.connector.plan_create(Entity.PROPOSALS, row, [], "syncd-m1")
    answer = sb.send(create)
    assert answer.status_code == 201
    oid = sb.connector.created_id(Entity.PROPOSALS, answer.json())
    assert sb.connector.find_by_marker(sb.client, Entity.PROPOSALS, "syncd-m1") == oid
    assert sb.connector.find_by_marker(sb.client, Entity.PROPOSALS, "syncd-other") is None
    item = {"proposal_remote_id": oid, "name": "Hosting", "quantity": Decimal("3"),
            "unit_price": Decimal("19.90"), "optional": False}
    (create_item,) = sb.connector.plan_create(Entity.LINE_ITEMS, item, [], "syncd-li1")
    eid = sb.connector.created_id(Entity.LINE_ITEMS, sb.send(create_item).json())
    assert sb.connector.find_by_marker(sb.client, Entity.LINE_ITEMS, "syncd-li1") == eid
    (update_item,) = sb.connector.plan_update(Entity.LINE_ITEMS, eid,
                                              {"quantity": Decimal("4")}, {}, {}, [])
    assert sb.send(update_item).json()["total"] == 79.6
    bundle = sb.connector.fetch_one(sb.client, Entity.PROPOSALS, oid)
    assert bundle is not None
    (proposal,) = bundle.proposals
    assert proposal["total_net"] == Decimal("79.6") and proposal["contact_id"] == contact
    (line,) = bundle.line_items
    assert line["remote_id"] == eid and line["quantity"] == Decimal("4.0")
    assert line["unit_price"] == Decimal("19.9") and line["position"] == 1
    (delete_item,) = sb.connector.plan_delete(Entity.LINE_ITEMS, eid, {})
    assert sb.send(delete_item).status_code == 204
    bundle = sb.connector.fetch_one(sb.client, Entity.PROPOSALS, oid)
    assert bundle is not None and bundle.line_items == []
    assert bundle.complete_line_items == {oid}


def test_element_writes_touch_the_offer_updated_at(sb: SB) -> None:
    oid = sb.offer_in("draft")
    before = sb.get(f"/offer/{oid}")["updated_at"]
    sb.clock.advance(3600)
    item = {"proposal_remote_id": oid, "name": "Extra", "quantity": Decimal(1),
            "unit_price": Decimal(1)}
    sb.send(sb.connector.plan_create(Entity.LINE_ITEMS, item, [], "m")[0])
    assert sb.get(f"/offer/{oid}")["updated_at"] > before


# ---- webhooks ----------------------------------------------------------------------------------
class Receiver:
    """A loopback endpoint that records what it is sent."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()

        async def hook(request: Request) -> JSONResponse:
            with self.lock:
                self.got.append((dict(request.headers), await request.body()))
            return JSONResponse({"ok": True})

        self.app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])


def test_strawblond_webhook_is_signed_with_the_secret_from_registration(
    sb: SB, served: Callable[..., ServedApp]
) -> None:
    receiver = Receiver()
    url = ServedApp(receiver.app).start()
    try:
        (subscribe,) = sb.connector.webhook_subscriptions(url.url + "/hook", "unused")
        answer = sb.send(subscribe)
        assert answer.status_code == 201
        secret = sb.connector.webhook_secret_from(answer.json())
        assert secret and sb.sandbox.webhook_secret_of() == secret
        listed = sb.get("/webhook")["data"]
        assert listed[0]["event"] == "*" and "secret" not in listed[0]
        oid = sb.offer_in("draft")
        (delivery,) = sb.sandbox.emit_webhook("offer.updated", oid)
        assert delivery["status"] == 200
        headers, body = receiver.got[-1]
        assert sb.connector.authenticate_webhook(headers, body, None, secret)
        assert not sb.connector.authenticate_webhook(headers, body, None, "forged-secret")
        forged = body.replace(b'"test": false', b'"test": true')
        assert not sb.connector.authenticate_webhook(headers, forged, None, secret)
        payload = json.loads(body)
        assert set(payload) == {"id", "event", "created", "test", "data"}
        assert payload["data"]["id"] == oid and isinstance(payload["created"], int)
        (hint,) = sb.connector.webhook_hints(payload)
        assert hint.remote_id == oid
    finally:
        url.stop()


def test_strawblond_webhook_urls_must_be_https_except_loopback(sb: SB) -> None:
    answer = sb.raw.post("webhook", json={"event": "*", "url": "http://example.com/h"},
                         headers=JSON)
    assert answer.status_code == 422 and "url" in answer.json()["errors"]
    answer = sb.raw.post("webhook", json={"event": "offer.exploded",
                                          "url": "https://example.com/h"}, headers=JSON)
    assert answer.status_code == 422 and "event" in answer.json()["errors"]
    ok = sb.raw.post("webhook", json={"event": "offer.updated", "url": "https://example.com/h"},
                     headers=JSON)
    assert ok.status_code == 201 and len(ok.json()["secret"]) == 40
    assert sb.raw.delete(f"webhook/{ok.json()['id']}", headers=JSON).status_code == 204


# ---- through the engine ------------------------------------------------------------------------
def _case(sqlite_url: str, make_runtime: Any, served: Any) -> Case:
    return make_case("strawblond", sqlite_url, make_runtime, served, rpm=30,
                     sizes={"companies": 5, "proposals": 40, "max_items": 4, "seed": 5})


def _proposal_in(case: Case, word: str) -> str:
    with case.sandbox.lock:
        return next(o["id"] for o in case.sandbox.collection("offers").values()
                    if o["deleted_at"] is None and case.sandbox._status_of(o) == word)


def _set(case: Case, remote_id: str, **values: Any) -> None:
    table = CANONICAL_TABLES[Entity.PROPOSALS]
    with case.runtime.db.begin() as conn:
        conn.execute(update(table).where(table.c.account == case.account,
                                         table.c.remote_id == remote_id).values(**values))


def test_engine_backfill_marks_trashed_offers_deleted(sqlite_url, make_runtime, served) -> None:
    case = _case(sqlite_url, make_runtime, served)
    result = case.pull()
    assert result.ok and len(case.sandbox.requests) == case.sandbox.lower_bound_requests()
    assert case.live_counts() == case.sandbox.expected_counts()
    victim = _proposal_in(case, "draft")
    case.sandbox.collection("offers")[victim]["deleted_at"] = case.clock.now()
    assert case.pull().ok
    row = next(r for r in case.rows(Entity.PROPOSALS) if r["remote_id"] == victim)
    assert row["deleted_at"] is not None
    items = [i for i in case.rows(Entity.LINE_ITEMS) if i["proposal_id"] == row["id"]]
    assert items and all(i["deleted_at"] is not None for i in items)


def test_engine_push_title_status_and_lock_refusal(sqlite_url, make_runtime, served) -> None:
    case = _case(sqlite_url, make_runtime, served)
    assert case.pull().ok
    draft, pending, approved = (_proposal_in(case, w) for w in ("draft", "pending", "approved"))
    _set(case, draft, title="Neuer Titel")
    _set(case, pending, status="accepted")
    _set(case, approved, title="Zu spät")
    case.sandbox.reset_log()
    result = Pusher(case.runtime, case.runtime.account(case.account)).run()
    assert case.sandbox.proposal_title(draft) == "Neuer Titel"
    assert case.sandbox.collection("offers")[pending]["approved_at"] is not None
    assert case.sandbox.proposal_title(approved) != "Zu spät"
    assert case.sandbox.count("PATCH") == 2  # the locked offer cost no request
    patch = next(r for r in case.sandbox.seen("PATCH") if draft in r.path)
    assert patch.json() == {"name": "Neuer Titel"}
    with case.runtime.db.begin() as conn:
        statuses = {r.status for r in conn.execute(select(outbox.c.status))}
    assert "refused" in statuses and any("locked" in r for r in result.refused + [
        str(x.reason) for x in result.planned])
    case.sandbox.reset_log()
    assert case.pull(sweep=False).ok
    assert sum(1 for r in case.sandbox.requests if r.method != "GET") == 0


def test_engine_webhook_receiver_checks_the_signature_then_fetches(
    sqlite_url, make_runtime, served
) -> None:
    clock = FakeClock()
    sandbox = StrawBlondSandbox(requests_per_minute=30, clock=clock, webhook_secret="s3cret")
    sandbox.seed_data(companies=3, proposals=10, max_items=3, seed=1)
    served(sandbox)
    runtime = make_runtime(sqlite_url, [sandbox.account_entry("acct")], clock)
    oid = next(iter(sandbox.collection("offers")))
    sandbox.remote_edit_title(oid, "Per Webhook")
    payload = json.dumps({"id": "evt-9", "event": "offer.updated", "created": int(clock.time()),
                          "test": False, "data": {"id": oid}}).encode()
    signature = hmac.new(b"s3cret", payload, hashlib.sha256).hexdigest()
    forged = {"X-StrawBlond-Webhook-Signature": "f" * 64}
    assert receive(runtime, "acct", forged, payload, None)[0] == 401
    assert len(sandbox.requests) == 0
    good = {"X-StrawBlond-Webhook-Signature": signature}
    assert receive(runtime, "acct", good, payload, None) == (202, {"queued": 1, "events": 1})
    assert receive(runtime, "acct", good, payload, None)[1]["queued"] == 0  # duplicate
    assert run_pending_fetches(runtime, "acct") == 1
    assert [(r.method, r.path) for r in sandbox.requests] == [("GET", f"/api/offer/{oid}")]
    table = CANONICAL_TABLES[Entity.PROPOSALS]
    with runtime.db.begin() as conn:
        title = conn.execute(select(table.c.title).where(table.c.remote_id == oid)).scalar()
    assert title == "Per Webhook"


def test_sandbox_contract_methods(served: Callable[..., ServedApp]) -> None:
    sandbox: Sandbox = StrawBlondSandbox()
    sandbox.seed_data(companies=4, proposals=50, max_items=3, seed=2)
    again = StrawBlondSandbox()
    again.seed_data(companies=4, proposals=50, max_items=3, seed=2)
    assert list(sandbox.store["offers"]) == list(again.store["offers"])  # deterministic
    counts = sandbox.expected_counts()
    assert counts["proposals"] == 50 and 50 <= counts["line_items"] <= 150
    assert sandbox.lower_bound_requests() == 1 + 1
    bad = sandbox.corrupt_one_record()
    served(sandbox)
    entry = sandbox.account_entry("x")
    assert entry["base_url"].endswith("/api") and entry["auth"] == {"api_key": "sb-test-key-0123456789"}
    body = httpx.get(f"{sandbox.base_url()}/offer/{bad}",
                     headers={**JSON, "Authorization": "Bearer sb-test-key-0123456789"}).json()
    with pytest.raises(ValueError):
        StrawBlondOffer.model_validate(body)
