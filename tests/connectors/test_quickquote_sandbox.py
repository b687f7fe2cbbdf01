"""Quick Quote quirks over real HTTP: the served sandbox, syncd's AccountClient, the connector.

Each test arranges the sandbox, sends what syncd would send (the connector's plans through
the same budgeted client the engine uses), and asserts the vendor's state and answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from syncd.canonical import Entity
from syncd.clock import FakeClock
from syncd.errors import BadRecord, TransientVendorError, VendorRefused
from syncd.http.budget import RateBudget
from syncd.http.client import AccountClient
from syncd.sandbox.base import Sandbox, ServedApp
from syncd.sandbox.quickquote import LOCKED_MESSAGE, QuickQuoteSandbox
from syncd.settings import AccountSettings
from syncd.vendors.base import WriteRequest
from syncd.vendors.quickquote import QQQuote, QuickQuoteConnector


@dataclass
class QQ:
    sandbox: QuickQuoteSandbox
    connector: QuickQuoteConnector
    client: AccountClient
    raw: httpx.Client  # no syncd headers: to show what the vendor does to others

    def send(self, request: WriteRequest) -> httpx.Response:
        return self.client.request(request.method, request.path, json=request.json,
                                   params=request.params)

    def quote_in(self, status: str) -> dict[str, Any]:
        with self.sandbox.lock:
            quote = next(q for q in self.sandbox.quotes.values() if q["status"] == status)
        return dict(self.client.get_json(f"/quotes/{quote['id']}"))


def _make(served: Callable[[Sandbox], ServedApp], *, rpm: int = 10_000, proposals: int = 40,
          ) -> QQ:
    clock = FakeClock()
    sandbox = QuickQuoteSandbox(requests_per_minute=rpm, clock=clock)
    sandbox.seed_data(companies=6, proposals=proposals, max_items=5, seed=3)
    served(sandbox)
    account = AccountSettings(**sandbox.account_entry("qq"))
    connector = QuickQuoteConnector(account)
    client = AccountClient(
        account="qq", base_url=account.base_url,
        budget=RateBudget("qq", account.requests_per_minute, clock), clock=clock, ledger=None,
        auth=connector.auth(None), headers=connector.headers(),  # type: ignore[arg-type]
        refusal_message=connector.refusal_message, attempts=2)
    raw = httpx.Client(base_url=account.base_url + "/", headers={"x-api-key": sandbox.api_key})
    return QQ(sandbox, connector, client, raw)


@pytest.fixture
def qq(served: Callable[[Sandbox], ServedApp]) -> Iterator[QQ]:
    case = _make(served)
    yield case
    case.client.close()
    case.raw.close()


def test_quickquote_status_is_capitalised_in_responses(qq: QQ) -> None:
    quote = qq.quote_in("Created")
    [plan] = qq.connector.plan_update(Entity.PROPOSALS, str(quote["id"]), {"status": "accepted"},
                                      {"vendor_status": "Created"}, quote, [])
    assert plan.json == {"status": "accepted"}
    assert qq.send(plan).json()["status"] == "Accepted"
    assert qq.client.get_json(f"/quotes/{quote['id']}")["status"] == "Accepted"
    other = qq.quote_in("Sent")
    answer = qq.raw.put(f"quotes/{other['id']}", json={"status": "Accepted"})
    assert answer.status_code == 400 and "Invalid status" in answer.json()["message"]


@pytest.mark.parametrize(("method", "path"), [("POST", "quotes"), ("PUT", "quotes/{id}"),
                                              ("POST", "quotes/email")])
def test_quickquote_write_without_json_content_type_is_415(qq: QQ, method: str,
                                                           path: str) -> None:
    quote = qq.quote_in("Created")
    answer = qq.raw.request(method, path.format(id=quote["id"]),
                            content=b'{"internal_notes": "x"}',
                            headers={"Content-Type": "text/plain"})
    assert answer.status_code == 415
    assert answer.json() == {"error": "unsupported_media_type",
                             "message": "Content-Type must be application/json"}
    assert qq.client.get_json(f"/quotes/{quote['id']}") == quote
    assert qq.connector.headers()["Content-Type"].startswith("application/json")


def test_quickquote_400_outside_editable_statuses_is_a_refusal(qq: QQ) -> None:
    quote = qq.quote_in("Accepted")
    # The mirror still believes the quote is Sent: the plan goes out, the vendor says no.
    [plan] = qq.connector.plan_update(Entity.PROPOSALS, str(quote["id"]), {"title": "late"},
                                      {"vendor_status": "Sent"}, quote, [])
    with pytest.raises(VendorRefused) as refused:
        qq.send(plan)
    assert refused.value.status == 400 and LOCKED_MESSAGE in str(refused.value)
    assert qq.sandbox.count("PUT", status=400) == 1  # refused once, never retried
    assert qq.client.get_json(f"/quotes/{quote['id']}") == quote
    item = quote["line_items"][0]
    for method, body in (("PUT", {"quantity": 2}), ("DELETE", None)):
        answer = qq.raw.request(method, f"quotes/{quote['id']}/line_items/{item['id']}",
                                json=body)
        assert answer.status_code == 400 and answer.json()["message"] == LOCKED_MESSAGE


def test_quickquote_invalid_custom_field_silently_dropped(qq: QQ) -> None:
    quote = qq.quote_in("Viewed")
    answer = qq.client.request("PUT", f"/quotes/{quote['id']}", json={"custom_fields": [
        {"id": 7790, "value": "2025/01/31"},      # date in neither accepted format
        {"id": 7791, "value": "a lot"},           # number field
        {"id": 7781, "value": "option1"},         # not one of the dropdown's options
        {"id": 12121, "value": "Harbor Hotels"},  # valid text
    ]})
    assert answer.status_code == 200
    values = {f["id"]: f["value"] for f in answer.json()["custom_fields"]}
    assert (values[7790], values[7791], values[7781]) == (None, None, None)
    assert values[12121] == "Harbor Hotels"
    for good in ("2025-01-31", "01-31-2025"):
        kept = qq.client.request("PUT", f"/quotes/{quote['id']}",
                                 json={"custom_fields": [{"id": 7790, "value": good}]}).json()
        assert {f["id"]: f["value"] for f in kept["custom_fields"]}[7790] == good


def test_quickquote_cursor_pagination_at_page_size_100_ends_on_null(
    served: Callable[[Sandbox], ServedApp],
) -> None:
    case = _make(served, proposals=200)
    spec = case.connector.streams[0]
    paginator = spec.paginator(spec.page_size, None)
    seen: list[str] = []
    bodies = []
    while paginator.has_next:
        body = case.client.get_json(spec.path, params=paginator.request_params())
        bodies.append(body)
        seen += [str(r["id"]) for r in body["data"]]
        paginator.update(body, body["data"])
    assert [len(b["data"]) for b in bodies] == [100, 100]
    assert bodies[-1]["next_page"] is None and isinstance(bodies[0]["next_page"], str)
    assert len(set(seen)) == 200 == bodies[0]["total_records"]
    assert case.sandbox.lower_bound_requests() == 2 == len(case.sandbox.requests)
    assert case.raw.get("quotes").json()["next_page"] is not None  # default page_size 25
    assert len(case.raw.get("quotes").json()["data"]) == 25
    for bad in ({"page_size": 101}, {"page_size": 0}, {"page": "not-a-cursor"}):
        assert case.raw.get("quotes", params=bad).status_code == 400


def test_quickquote_ids_beyond_2_53_survive_http(qq: QQ) -> None:
    body = qq.client.get_json("/quotes", params={"page_size": 1})
    raw = body["data"][0]
    assert raw["line_items"][0]["id"] > 2**53
    bundle = qq.connector.fetch_one(qq.client, Entity.PROPOSALS, str(raw["id"]))
    assert bundle is not None
    assert bundle.line_items[0]["remote_id"] == str(raw["line_items"][0]["id"])
    assert int(bundle.line_items[0]["remote_id"]) % 2 == 1  # odd: no float could hold it


def test_quickquote_shopify_product_items_take_only_quantity(qq: QQ) -> None:
    quote = qq.quote_in("Created")
    added = qq.raw.post(f"quotes/{quote['id']}/line_items",
                        json=[{"variant_id": 123123123123, "custom_product": False}])
    item = added.json()[0]
    assert item["product_id"] == 234523452345 and item["title"] == "Antique Drawers"
    path = f"quotes/{quote['id']}/line_items/{item['id']}"
    refused = qq.raw.put(path, json={"title": "Renamed"})
    assert refused.status_code == 400 and "quantity" in refused.json()["message"]
    [plan] = qq.connector.plan_update(Entity.LINE_ITEMS, str(item["id"]),
                                      {"quantity": Decimal(4)},
                                      {"proposal_remote_id": str(quote["id"])}, item, [])
    assert qq.send(plan).json()["quantity"] == 4


def test_quickquote_rate_limit_429_with_retry_after_and_error_body(
    served: Callable[[Sandbox], ServedApp],
) -> None:
    case = _make(served, rpm=2)
    assert case.raw.get("quotes").status_code == 200
    assert case.raw.get("quotes").status_code == 200
    limited = case.raw.get("quotes")
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"] == "too_many_requests"
    with pytest.raises(TransientVendorError):
        case.client.request("GET", "/quotes", retry=False)


def test_quickquote_bad_key_is_401_in_the_error_dialect(qq: QQ) -> None:
    answer = httpx.get(qq.sandbox.base_url() + "/quotes", headers={"x-api-key": "nope"})
    assert answer.status_code == 401
    assert answer.json() == {"error": "unauthorized", "message": "Missing or invalid API key"}


def test_create_then_find_by_marker_with_and_without_hint(qq: QQ) -> None:
    row = {"title": "Lobby refit", "contact_remote_id": "6901000000037",
           "contact": {"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"},
           "company": {"name": "Zenith Hotels", "raw": {"id": 12121}}}
    children = [{"name": "Fitting", "unit_price": Decimal("40.00"), "quantity": Decimal(2)}]
    [plan] = qq.connector.plan_create(Entity.PROPOSALS, row, children, "mk-77")
    created = qq.send(plan).json()
    new_id = qq.connector.created_id(Entity.PROPOSALS, created)
    assert created["status"] == "Created" and created["tags"] == "syncd:mk-77"
    assert created["line_items"][0]["total"] == 80.0
    qq.sandbox.reset_log()
    assert qq.connector.find_by_marker(qq.client, Entity.PROPOSALS, "mk-77") == new_id
    assert [r.path for r in qq.sandbox.requests] == ["/api/v1/customers/6901000000037/quotes"]
    qq.sandbox.reset_log()
    fresh = QuickQuoteConnector(qq.connector.account)  # after a crash: no hint, a list scan
    assert fresh.find_by_marker(qq.client, Entity.PROPOSALS, "mk-77") == new_id
    assert fresh.find_by_marker(qq.client, Entity.PROPOSALS, "never-sent") is None
    bundle = qq.connector.fetch_one(qq.client, Entity.PROPOSALS, new_id)
    assert bundle is not None
    assert bundle.proposals[0]["company_id"] == "name:zenith hotels"
    assert bundle.proposals[0]["title"] == "Lobby refit"


def test_line_item_create_update_delete_round_trip(qq: QQ) -> None:
    quote = qq.quote_in("Sent")
    qid = str(quote["id"])
    [create] = qq.connector.plan_create(
        Entity.LINE_ITEMS, {"proposal_remote_id": qid, "name": "Fitting",
                            "unit_price": Decimal("12.50"), "quantity": Decimal(2)}, [], "li-1")
    item_id = qq.connector.created_id(Entity.LINE_ITEMS, qq.send(create).json())
    assert qq.connector.find_by_marker(qq.client, Entity.LINE_ITEMS, "li-1") == item_id
    [update] = qq.connector.plan_update(Entity.LINE_ITEMS, item_id,
                                        {"unit_price": Decimal("15.00"), "name": "Fit"},
                                        {"proposal_remote_id": qid}, {"custom_product": True},
                                        [])
    qq.send(update)
    bundle = qq.connector.fetch_one(qq.client, Entity.PROPOSALS, qid)
    assert bundle is not None
    mine = next(i for i in bundle.line_items if i["remote_id"] == item_id)
    assert (mine["name"], mine["unit_price"], mine["total_net"]) == (
        "Fit", Decimal("15.0"), Decimal("30.0"))
    [delete] = qq.connector.plan_delete(Entity.LINE_ITEMS, item_id, {"proposal_remote_id": qid})
    assert qq.send(delete).status_code == 200
    after = qq.connector.fetch_one(qq.client, Entity.PROPOSALS, qid)
    assert after is not None and item_id not in {i["remote_id"] for i in after.line_items}


def test_send_email_marks_a_created_quote_sent_and_delete_makes_fetch_none(qq: QQ) -> None:
    quote = qq.quote_in("Created")
    qid = str(quote["id"])
    [send] = qq.connector.plan_send(qid)
    assert qq.send(send).status_code == 200
    assert qq.sandbox.emails[-1]["quote_id"] == quote["id"]
    assert qq.client.get_json(f"/quotes/{qid}")["status"] == "Sent"
    [delete] = qq.connector.plan_delete(Entity.PROPOSALS, qid, {})
    qq.send(delete)
    assert qq.connector.fetch_one(qq.client, Entity.PROPOSALS, qid) is None


def test_seed_create_and_update_examples_are_accepted(qq: QQ) -> None:
    from tests.connectors.test_quickquote import SEED_CREATE_REQUEST, SEED_UPDATE_REQUESTS

    created = qq.client.request("POST", "/quotes", json=SEED_CREATE_REQUEST).json()
    assert created["discount_type"] == "fixed_amount"  # "fixed" is taken on create only
    assert created["line_items"][0]["discount_total"] == 10.0
    QQQuote.model_validate(created)
    qid = created["id"]
    for body in SEED_UPDATE_REQUESTS:
        if body.get("status"):
            continue
        assert qq.client.request("PUT", f"/quotes/{qid}", json=body).status_code == 200
    final = qq.client.get_json(f"/quotes/{qid}")
    assert final["customer_id"] is None and final["first_name"] == "Susan"
    assert final["discount_type"] == "percentage" and final["shipping"]["shipping_total"] == 25.5
    with pytest.raises(VendorRefused, match="discount types"):
        qq.client.request("PUT", f"/quotes/{qid}", json={"discount": {
            "discount_type": "fixed", "discount_amount": 1}})


def test_corrupted_record_fails_validation_and_others_pass(qq: QQ) -> None:
    """`corrupt_one_record` breaks the structure (line items as text), not a word: only
    that quote fails, with its id still readable; a targeted fetch says BadRecord."""
    bad = qq.sandbox.corrupt_one_record()
    with pytest.raises(BadRecord, match=bad):
        qq.connector.fetch_one(qq.client, Entity.PROPOSALS, bad)
    body = qq.client.get_json("/quotes", params={"page_size": 100})
    failures = []
    for record in body["data"]:
        try:
            QQQuote.model_validate(record)
        except ValueError:
            failures.append(str(record["id"]))
    assert failures == [bad]


def test_quickquote_fetch_one_keeps_a_quote_in_other_words(qq: QQ) -> None:
    """A webhook-style fetch maps a drifted quote like a pull does (never BadRecord)."""
    quote = qq.quote_in("Sent")
    qid = str(quote["id"])
    qq.sandbox.override(qid, status="SENT-PENDING", total=str(quote["total"]))
    qq.sandbox.override(qid, 0, quantity=str(quote["line_items"][0]["quantity"]))
    bundle = qq.connector.fetch_one(qq.client, Entity.PROPOSALS, qid)
    assert bundle is not None
    [proposal] = bundle.proposals
    assert (proposal["status"], proposal["vendor_status"]) == (None, "SENT-PENDING")
    assert proposal["total_gross"] == Decimal(repr(quote["total"]))
    assert bundle.line_items[0]["quantity"] == quote["line_items"][0]["quantity"]
