"""Automa.Net sandbox quirks over real HTTP, driven by syncd's own client and connector:
Bearer auth, NestJS error bodies, Put Quote's full replacement (drafts only), the webhook
call log as an append-only cursor, webhooks echoing the subscription's authorization."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from syncd.canonical import Entity
from syncd.clock import FakeClock
from syncd.db.tables import proposals, vendor_records
from syncd.errors import VendorRefused
from syncd.http.budget import RateBudget
from syncd.http.client import AccountClient
from syncd.http.paginators import LastPagePaginator
from syncd.sandbox.automa import AutomaSandbox
from syncd.sandbox.base import ServedApp, serve
from syncd.settings import AccountSettings
from syncd.vendors.automa import AutomaConnector, Quote, map_quote, normalize_delivery_time


class Harness:
    """A seeded, served sandbox plus syncd's connector and budgeted client pointed at it."""

    def __init__(self, sandbox: AutomaSandbox) -> None:
        self.sandbox = sandbox
        self.account = AccountSettings(**sandbox.account_entry("am"))
        self.conn = AutomaConnector(self.account)
        clock = FakeClock()
        self.client = AccountClient(
            account="am", base_url=self.account.base_url,
            budget=RateBudget("am", 10_000, clock), clock=clock, ledger=None,
            auth=self.conn.auth(None),  # type: ignore[arg-type]
            headers=self.conn.headers(), refusal_message=self.conn.refusal_message)
        self.raw = httpx.Client(base_url=self.account.base_url)

    def quote(self, status: str | None = None) -> dict[str, Any]:
        quotes = sorted(self.sandbox.collection("quotes").values(), key=lambda q: q["number"])
        return next(q for q in quotes if status is None or q["status"]["name"] == status)

    def get(self, uuid: str) -> dict[str, Any]:
        return self.client.get_json(f"/quotes/{uuid}")["data"]

    def send(self, request: Any) -> httpx.Response:
        return self.client.request(request.method, request.path, json=request.json)


@pytest.fixture
def harness() -> Iterator[Harness]:
    clock = FakeClock()
    sandbox = AutomaSandbox(requests_per_minute=10_000, clock=clock)
    sandbox.seed_data(companies=4, proposals=30, max_items=4, seed=3)
    app = serve(sandbox)
    made = Harness(sandbox)
    yield made
    made.client.close()
    app.stop()


def auth(h: Harness) -> dict[str, str]:
    return {"Authorization": f"Bearer {h.sandbox.api_key}"}


# ---- auth, errors, limits ---------------------------------------------------------------------
def test_automa_requires_the_bearer_api_key(harness: Harness) -> None:
    for headers in ({}, {"Authorization": harness.sandbox.api_key},
                    {"Authorization": "Bearer wrong"}):
        answer = harness.raw.get("/rfqs/received", headers=headers)
        assert answer.status_code == 401
        assert answer.json() == {"message": "Unauthorized", "statusCode": 401}


def test_automa_errors_are_nestjs_bodies(harness: Harness) -> None:
    answer = harness.raw.get("/quotes/nope", headers=auth(harness))
    assert answer.json() == {"message": "Quote not found", "error": "Not Found",
                             "statusCode": 404}
    answer = harness.raw.get("/webhooks/calls", params={"perPage": 101}, headers=auth(harness))
    assert answer.status_code == 400
    assert answer.json() == {"message": "perPage must not be greater than 100",
                             "error": "Bad Request", "statusCode": 400}


def test_automa_429_carries_retry_after() -> None:
    clock = FakeClock()
    sandbox = AutomaSandbox(requests_per_minute=2, clock=clock)
    sandbox.seed_data(companies=1, proposals=1, max_items=1)
    app = serve(sandbox)
    try:
        headers = {"Authorization": f"Bearer {sandbox.api_key}"}
        codes = [httpx.get(sandbox.base_url() + "/rfqs/sent", headers=headers)
                 for _ in range(3)]
        assert [c.status_code for c in codes] == [200, 200, 429]
        assert codes[2].headers["Retry-After"] == "60"
        assert codes[2].json()["statusCode"] == 429
        clock.advance(60)
        assert httpx.get(sandbox.base_url() + "/rfqs/sent", headers=headers).status_code == 200
    finally:
        app.stop()


def test_automa_rfq_delivery_time_is_upper_case_in_responses(harness: Harness) -> None:
    for name in ("received", "sent"):
        body = harness.client.get_json(f"/rfqs/{name}", params={"perPage": 100})
        assert set(body["data"]) == {"items", "perPage", "currentPage", "lastPage", "total"}
        words = {i["deliveryTime"] for r in body["data"]["items"] for i in r["items"]}
        assert words and all(w == w.upper() for w in words)
        assert {normalize_delivery_time(w) for w in words} <= {
            "Emergency", "Next Day", "2-3 Days", "4-6 Days", "7-10 Days", "10+ Days", "Any"}


# ---- Put Quote ---------------------------------------------------------------------------------
def test_automa_put_requires_every_field(harness: Harness) -> None:
    quote = harness.quote("draft")
    answer = harness.raw.put(f"/quotes/{quote['uuid']}", json={"number": "Q-1", "note": "x"},
                             headers=auth(harness))
    assert answer.status_code == 400
    body = answer.json()
    assert body["error"] == "Bad Request" and body["statusCode"] == 400
    for field in ("currency", "buyer", "seller", "payment_term", "additional_costs", "items",
                  "expires_at"):
        assert field in body["message"]
    assert harness.get(quote["uuid"])["note"] == quote["note"]  # nothing changed


def test_automa_put_number_longer_than_32_is_a_400(harness: Harness) -> None:
    quote = harness.get(harness.quote("draft")["uuid"])
    bundle = map_quote(harness.conn, Quote.model_validate(quote), quote)
    put = harness.conn.put_body(quote, {"number": "Q" * 33}, bundle.line_items)
    answer = harness.raw.put(f"/quotes/{quote['uuid']}", json=put, headers=auth(harness))
    assert answer.status_code == 400
    assert "number must be shorter than or equal to 32 characters" in answer.json()["message"]


def test_automa_put_only_while_draft(harness: Harness) -> None:
    sent = harness.get(harness.quote("sent")["uuid"])
    bundle = map_quote(harness.conn, Quote.model_validate(sent), sent)
    body = harness.conn.put_body(sent, {"title": "late"}, bundle.line_items)
    answer = harness.raw.put(f"/quotes/{sent['uuid']}", json=body, headers=auth(harness))
    assert answer.status_code == 400
    assert "only in draft" in answer.json()["message"]
    with pytest.raises(VendorRefused):  # and syncd does not even try
        harness.conn.plan_update(Entity.PROPOSALS, sent["uuid"], {"title": "late"}, {}, sent,
                                 bundle.line_items)


def test_automa_connector_put_round_trips_a_title_change(harness: Harness) -> None:
    before = harness.get(harness.quote("draft")["uuid"])
    items = map_quote(harness.conn, Quote.model_validate(before), before).line_items
    (put,) = harness.conn.plan_update(Entity.PROPOSALS, before["uuid"], {"title": "Renamed"},
                                      {}, before, items)
    answer = harness.send(put).json()
    assert answer["data"]["success"] is True and set(answer["data"]) == {
        "meta", "success", "message", "data"}
    after = harness.get(before["uuid"])
    assert after["note"] == "Renamed"
    assert [i["uuid"] for i in after["items"]] == [i["uuid"] for i in before["items"]]
    assert after["totals"] == before["totals"] and after["number"] == before["number"]
    assert after["updated_at"] > before["updated_at"]
    assert harness.sandbox.proposal_title(before["uuid"]) == "Renamed"


def test_automa_put_deletes_omitted_items(harness: Harness) -> None:
    quote = harness.get(harness.quote("draft")["uuid"])
    items = map_quote(harness.conn, Quote.model_validate(quote), quote).line_items
    keep = items[:1]
    new = {"remote_id": None, "position": 9, "sku": "S10", "name": "Samsung S10",
           "quantity": 2, "unit_price": "15.00", "tax_rate": "23.00", "raw": {}}
    (put,) = harness.conn.plan_update(Entity.PROPOSALS, quote["uuid"], {}, {},
                                      quote, [*keep, new])
    harness.send(put)
    after = harness.get(quote["uuid"])
    assert len(after["items"]) == 2
    assert after["items"][0]["uuid"] == keep[0]["remote_id"]
    assert after["items"][1]["offer"]["mpn"] == "S10"
    assert after["items"][1]["total_price"]["final"]["nett_amount"] == "30.00"
    # a partial item list really is destructive: what the body omits is gone
    assert not {i["remote_id"] for i in items[1:]} & {i["uuid"] for i in after["items"]}


def test_automa_send_then_decline(harness: Harness) -> None:
    quote = harness.quote("draft")
    (send,) = harness.conn.plan_update(Entity.PROPOSALS, quote["uuid"], {"status": "sent"}, {},
                                       quote, [])
    assert harness.send(send).status_code == 201
    assert harness.get(quote["uuid"])["status"]["name"] == "sent"
    with pytest.raises(VendorRefused, match="Only draft quotes can be sent"):
        harness.send(send)
    (decline,) = harness.conn.plan_update(Entity.PROPOSALS, quote["uuid"],
                                          {"status": "rejected"}, {}, {"status": {"name": "sent"}},
                                          [])
    harness.send(decline)
    status = harness.get(quote["uuid"])["status"]
    assert (status["name"], status["reason"]) == ("declined", "Declined in syncd")


# ---- create, find, fetch ---------------------------------------------------------------------
def test_automa_create_is_found_again_by_its_marker(harness: Harness) -> None:
    company = harness.quote()["buyer"]["company"]
    row = {"title": "New pumps", "company_remote_id": company["uuid"],
           "company": {"remote_id": company["uuid"], "raw": company}}
    item = {"sku": "1746-IA16", "name": "Allen Bradley 1746-IA16", "quantity": 3, "raw": None}
    (create,) = harness.conn.plan_create(Entity.PROPOSALS, row, [item], "syncd-m-1")
    answer = harness.send(create)
    assert answer.status_code == 201 and set(answer.json()["data"]) == {"uuid", "dealUuid"}
    uuid = harness.conn.created_id(Entity.PROPOSALS, answer.json())
    made = harness.get(uuid)
    assert (made["status"]["name"], made["note"], made["items"][0]["offer"]["mpn"]) == (
        "draft", "New pumps", "1746-IA16")
    harness.sandbox.reset_log()
    assert harness.conn.find_by_marker(harness.client, Entity.PROPOSALS, "syncd-m-1") == uuid
    assert harness.conn.find_by_marker(harness.client, Entity.PROPOSALS, "syncd-other") is None
    assert len(harness.sandbox.requests) <= 3


def test_automa_create_for_an_unknown_contractor_is_refused(harness: Harness) -> None:
    row = {"company": {"raw": {"contractor_uuid": "nobody"}}}
    (create,) = harness.conn.plan_create(Entity.PROPOSALS, row, [], "m")
    with pytest.raises(VendorRefused, match="Contractor nobody not found"):
        harness.send(create)


def test_automa_fetch_one(harness: Harness) -> None:
    quote = harness.quote()
    bundle = harness.conn.fetch_one(harness.client, Entity.PROPOSALS, quote["uuid"])
    assert bundle is not None and bundle.proposals[0]["remote_id"] == quote["uuid"]
    assert len(bundle.line_items) == len(quote["items"])
    assert harness.conn.fetch_one(harness.client, Entity.PROPOSALS, "gone") is None


# ---- the call log ------------------------------------------------------------------------------
def read_log(h: Harness, paginator: LastPagePaginator) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    while paginator.has_next:
        body = h.client.get_json("/webhooks/calls", params={
            "order": "asc", "orderBy": "createdAt", **paginator.request_params()})
        page = body["data"]["items"]
        paginator.update(body, page)
        entries += page
    return entries


def test_automa_call_log_cursor_continues_where_it_ended(harness: Harness) -> None:
    first = LastPagePaginator(8)
    seen = read_log(harness, first)
    assert len(seen) == 30 and first.state == {"page": 4}  # the last page is kept
    quote = harness.quote("draft")
    harness.sandbox.remote_edit_title(quote["uuid"], "Edited in Automa")
    harness.sandbox.reset_log()
    again = LastPagePaginator(8, first.state)
    new = read_log(harness, again)
    assert [r.query for r in harness.sandbox.requests] == [
        "order=asc&orderBy=createdAt&page=4&perPage=8"]
    assert new[:-1] == seen[24:]  # the re-read tail, then the new entry
    entry = new[-1]
    assert entry["eventObjectUuid"] == quote["uuid"]
    assert entry["result"]["requestBody"]["eventType"] == "QUOTE_RECEIVED"
    assert entry["eventObject"]["note"] == "Edited in Automa"


def test_automa_call_log_is_ordered_by_created_at_both_ways(harness: Harness) -> None:
    asc = harness.client.get_json("/webhooks/calls", params={"perPage": 100})["data"]["items"]
    desc = harness.client.get_json("/webhooks/calls", params={
        "perPage": 100, "order": "desc"})["data"]["items"]
    assert [e["createdAt"] for e in asc] == sorted(e["createdAt"] for e in asc)
    assert desc == asc[::-1]


def test_automa_incremental_pull_writes_the_snapshot_of_the_quote_with_a_new_entry(
    sqlite_url: str, make_runtime: Any, served: Any
) -> None:
    """The new entry carries the edited quote: written from it, no quote fetch."""
    from syncd.engine.pull import Puller

    clock = FakeClock()
    sandbox = AutomaSandbox(requests_per_minute=10_000, clock=clock)
    sandbox.seed_data(companies=3, proposals=12, max_items=3)
    served(sandbox)
    runtime = make_runtime(sqlite_url, [sandbox.account_entry("am")], clock)
    first = Puller(runtime, runtime.account("am")).run(sweep=True)
    assert first.ok and len(sandbox.requests) == sandbox.lower_bound_requests()
    with runtime.db.begin() as conn:
        kinds = conn.execute(vendor_records.select()).mappings().all()
    assert {k["kind"] for k in kinds} == {"rfqs"}
    quote = sorted(sandbox.collection("quotes").values(), key=lambda q: q["number"])[0]
    sandbox.remote_edit_title(quote["uuid"], "Edited remotely")
    sandbox.reset_log()
    again = Puller(runtime, runtime.account("am")).run(sweep=False)
    assert again.ok, again.errors
    assert [(r.method, r.path) for r in sandbox.requests] == [
        ("GET", "/webhooks/calls"), ("GET", "/rfqs/received"), ("GET", "/rfqs/sent")]
    with runtime.db.begin() as conn:
        title = conn.execute(proposals.select().where(
            proposals.c.remote_id == quote["uuid"])).mappings().one()["title"]
    assert title == "Edited remotely"


def test_automa_a_quote_logged_twice_is_fetched_once_per_change(
    sqlite_url: str, make_runtime: Any, served: Any
) -> None:
    """The last page is re-read every run; superseded entries must not flip fingerprints."""
    from syncd.engine.pull import Puller

    clock = FakeClock()
    sandbox = AutomaSandbox(requests_per_minute=10_000, clock=clock)
    sandbox.seed_data(companies=2, proposals=3, max_items=2)
    served(sandbox)
    runtime = make_runtime(sqlite_url, [sandbox.account_entry("am")], clock)
    assert Puller(runtime, runtime.account("am")).run(sweep=True).ok
    uuid = next(iter(sandbox.collection("quotes")))
    sandbox.remote_edit_title(uuid, "one")
    sandbox.remote_edit_title(uuid, "two")
    sandbox.drop_event_objects(uuid)  # no snapshot: the new entries mean a fetch
    fetched = []
    for _ in range(3):
        sandbox.reset_log()
        assert Puller(runtime, runtime.account("am")).run(sweep=False).ok
        fetched.append(sandbox.count("GET", r"^/quotes/"))
    assert fetched == [1, 0, 0]
    sandbox.add_fault("GET", "/webhooks/calls", "status", status=502)  # a retried page
    sandbox.reset_log()
    assert Puller(runtime, runtime.account("am")).run(sweep=False).ok
    assert sandbox.count("GET", r"^/quotes/") == 0


# ---- webhooks ----------------------------------------------------------------------------------
class Receiver:
    """A tiny webhook endpoint that records what Automa (the sandbox) posts."""

    def __init__(self, status: int = 200) -> None:
        self.calls: list[tuple[dict[str, str], bytes]] = []

        async def hook(request: Request) -> JSONResponse:
            self.calls.append((dict(request.headers), await request.body()))
            return JSONResponse({"ok": True}, status_code=status)

        self.app = ServedApp(Starlette(routes=[Route("/hook", hook, methods=["POST"])])).start()
        self.url = self.app.url + "/hook"


def test_automa_webhooks_send_the_subscription_authorization(harness: Harness) -> None:
    receiver = Receiver()
    try:
        for request in harness.conn.webhook_subscriptions(receiver.url, "s3cret-value"):
            answer = harness.send(request)
            assert answer.status_code == 201
            assert harness.conn.created_id(Entity.PROPOSALS, answer.json())
        listed = harness.client.get_json("/webhooks", params={"eventTypes": "QUOTE_DECLINED"})
        assert {s["eventType"] for s in listed["data"]["items"]} == {"QUOTE_DECLINED"}
        quote = harness.quote("sent")
        assert harness.sandbox.emit_webhook("QUOTE_DECLINED", quote["uuid"]) == [0, 200]
        (headers, raw), = receiver.calls  # the seeded subscription's URL is unreachable
        assert headers["authorization"] == "s3cret-value"
        payload = json.loads(raw)
        assert set(payload) == {"timestamp", "webhookUuid", "objectUuid", "eventType", "object"}
        assert isinstance(payload["timestamp"], int) and payload["objectUuid"] == quote["uuid"]
        assert harness.conn.authenticate_webhook(headers, raw, None, "s3cret-value")
        assert not harness.conn.authenticate_webhook(headers, raw, None, "sandbox-webhook-secret")
        (hint,) = harness.conn.webhook_hints(payload)
        assert hint.remote_id == quote["uuid"] and hint.event == "QUOTE_DECLINED"
        log = harness.client.get_json("/webhooks/calls", params={
            "perPage": 2, "order": "desc"})["data"]["items"]
        assert log[0]["result"]["status"] == "200" and log[0]["status"] == "SUCCESS"
        assert log[0]["result"]["url"] == receiver.url
        assert log[1]["status"] == "FAILED"
    finally:
        receiver.app.stop()


def test_automa_webhook_subscription_validation(harness: Harness) -> None:
    for body in ({"eventType": "QUOTE_UPDATED", "url": "https://x", "authorization": "a"},
                 {"eventType": "QUOTE_ACCEPTED", "url": "https://x", "authorization": "a" * 129},
                 {"eventType": "QUOTE_ACCEPTED", "authorization": "a"}):
        answer = harness.raw.post("/webhooks", json=body, headers=auth(harness))
        assert answer.status_code == 400 and answer.json()["error"] == "Bad Request"


def test_automa_line_item_change_travels_in_a_refreshed_full_put(db_url, make_runtime, served):
    """A quantity edit of one quote item becomes one re-read plus one complete Put, and the
    vendor then holds the new quantity (the item change is not lost in the refresh)."""
    from sqlalchemy import select, text

    from syncd.db.tables import line_items, outbox, proposals
    from syncd.engine.push import Pusher
    from tests.connectors.standard import make_case

    case = make_case("automa", db_url, make_runtime, served)
    assert case.pull().ok
    with case.runtime.db.begin() as conn:
        quote = conn.execute(select(proposals).where(proposals.c.vendor_status == "draft")
                             .order_by(proposals.c.id)).mappings().first()
        item = conn.execute(select(line_items).where(line_items.c.proposal_id == quote["id"])
                            .order_by(line_items.c.position)).mappings().first()
        conn.execute(text("UPDATE line_items SET quantity = 77 WHERE id = :i"), {"i": item["id"]})
    case.sandbox.reset_log()
    result = Pusher(case.runtime, case.runtime.account(case.account)).run()
    assert result.ok, result.refused
    assert [r.method for r in case.sandbox.requests] == ["GET", "PUT"]
    stored = case.sandbox._quote(quote["remote_id"])
    assert [i["quantity"] for i in stored["items"] if i["uuid"] == item["remote_id"]] == [77]
    with case.runtime.db.begin() as conn:
        assert {r.status for r in conn.execute(select(outbox.c.status))} == {"done"}
