"""syncd.http.client.AccountClient: budget, retries, the error tree, request log, no secrets.

Most tests drive the client through an `httpx.MockTransport` handler (fast, deterministic);
the transport-failure tests talk real HTTP to a tiny sandbox on 127.0.0.1.

`AccountClient.get_one` and `AccountClient.paginate` against an in-process vendor.

Outcomes asserted: what comes back (a record, None for a gone one, pages and their
records), the requests the vendor saw (how many, with which query), and where paging
stops (end of list, the caller's `stop()`, the stop event), all through the budgeted
transport like every request.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from syncd.clock import FakeClock
from syncd.db.ledger import RequestLog
from syncd.db.session import Database
from syncd.db.tables import request_log
from syncd.errors import AuthError, TransientVendorError, VendorError, VendorRefused
from syncd.http import lazy_records
from syncd.http.budget import RateBudget
from syncd.http.client import AccountClient, MalformedResponse, NotFound, shared_ssl_context
from syncd.http.paginators import LastPagePaginator, PageNumberPaginator, laravel_paginator
from syncd.sandbox.base import Sandbox, ServedApp, serve

T0 = 1_790_000_000.0
SECRET = "sk_live_9f8e7d6c5b4a"
Handler = Callable[[httpx.Request], httpx.Response]


class Script:
    """A MockTransport handler answering from a list, recording (virtual time, request)."""

    def __init__(self, clock: FakeClock, answers: list[Any]) -> None:
        self.clock = clock
        self.answers = list(answers)
        self.calls: list[tuple[float, httpx.Request]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((self.clock.time(), request))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def make_client(
    handler: Handler | None, clock: FakeClock, *, db: Database | None = None, rpm: int = 30,
    base_url: str = "https://vendor.example.com/api", **kw: Any,
) -> AccountClient:
    ledger = RequestLog(db) if db else None
    budget = RateBudget("acct", rpm, clock, ledger)
    return AccountClient(
        account="acct", base_url=base_url, budget=budget, clock=clock, ledger=ledger,
        headers={"Authorization": f"Bearer {SECRET}"},
        inner_transport=httpx.MockTransport(handler) if handler else None, **kw,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def ok(body: Any = None) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {"ok": True})


class TestRateLimited:
    def test_retry_after_blocks_the_budget_then_succeeds(self, clock: FakeClock) -> None:
        script = Script(clock, [httpx.Response(429, headers={"Retry-After": "7"}), ok()])
        client = make_client(script, clock)
        assert client.get_json("things") == {"ok": True}
        times = [t for t, _ in script.calls]
        assert times == [T0, T0 + 7]
        assert 7 in clock.slept
        assert client.budget.blocked_until == T0 + 7

    def test_429_without_retry_after_waits_a_minute(self, clock: FakeClock) -> None:
        script = Script(clock, [httpx.Response(429), ok()])
        client = make_client(script, clock)
        client.request("GET", "things")
        assert [t for t, _ in script.calls] == [T0, T0 + 60]
        assert 60 in clock.slept

    def test_retry_after_as_http_date(self, clock: FakeClock) -> None:
        when = format_datetime(datetime.fromtimestamp(T0 + 30, tz=UTC), usegmt=True)
        script = Script(clock, [httpx.Response(429, headers={"Retry-After": when}), ok()])
        make_client(script, clock).request("GET", "things")
        assert script.calls[1][0] == pytest.approx(T0 + 30)

    def test_a_429_holds_other_requests_of_the_account_too(self, clock: FakeClock) -> None:
        script = Script(clock, [httpx.Response(429, headers={"Retry-After": "20"})])
        client = make_client(script, clock, attempts=1)
        with pytest.raises(TransientVendorError) as info:
            client.request("GET", "things")
        assert info.value.status == 429 and info.value.retry_after == 20
        script.answers = [ok()]
        client.request("GET", "other")
        assert script.calls[-1][0] == T0 + 20


class TestServerErrors:
    def test_5xx_retried_with_backoff_then_success(self, clock: FakeClock) -> None:
        script = Script(clock, [httpx.Response(503), httpx.Response(502), ok()])
        client = make_client(script, clock)
        assert client.request("GET", "things").status_code == 200
        assert len(script.calls) == 3
        backoff = [s for s in clock.slept if s > 0]
        assert len(backoff) == 2 and all(0 < s <= 31 for s in backoff)
        assert script.calls[2][0] > script.calls[1][0] > script.calls[0][0]

    def test_5xx_forever_gives_up_after_attempts(self, clock: FakeClock) -> None:
        script = Script(clock, [httpx.Response(500, text="boom")])
        client = make_client(script, clock, attempts=4)
        with pytest.raises(TransientVendorError) as info:
            client.request("GET", "things")
        assert len(script.calls) == 4
        assert info.value.status == 500
        assert "HTTP 500" in str(info.value)

    @pytest.mark.parametrize(
        "failure",
        [httpx.ReadTimeout("timed out"), httpx.ConnectError("connection reset by peer"),
         httpx.RemoteProtocolError("Server disconnected without sending a response.")],
    )
    def test_transport_errors_retried(self, clock: FakeClock, failure: Exception) -> None:
        script = Script(clock, [failure, failure, ok()])
        assert make_client(script, clock).request("GET", "things").json() == {"ok": True}
        assert len(script.calls) == 3

    @pytest.mark.parametrize(
        "failure",
        [httpx.Response(503), httpx.Response(429, headers={"Retry-After": "3"}),
         httpx.ReadTimeout("timed out")],
    )
    def test_get_json_retries_transient_errors_as_often_as_request(
        self, clock: FakeClock, failure: Any
    ) -> None:
        # The pull path uses get_json: a vendor hiccup twice in a row must not fail the page
        # while `attempts` (5) allows more; only malformed bodies are limited to two tries.
        script = Script(clock, [failure, failure, ok()])
        assert make_client(script, clock).get_json("things") == {"ok": True}
        assert len(script.calls) == 3

    def test_non_idempotent_request_without_retry_is_sent_once(self, clock: FakeClock) -> None:
        script = Script(clock, [httpx.Response(503)])
        with pytest.raises(TransientVendorError):
            make_client(script, clock).request("POST", "things", json={}, retry=False)
        assert len(script.calls) == 1


class TestRefusals:
    @pytest.mark.parametrize("status", [400, 403, 409, 415, 422])
    def test_4xx_is_refused_with_the_vendor_message_and_not_retried(
        self, clock: FakeClock, status: int
    ) -> None:
        script = Script(clock, [httpx.Response(status, json={"message": "Title is required"})])
        with pytest.raises(VendorRefused) as info:
            make_client(script, clock).request("PUT", "quotes/12", json={"title": ""})
        assert not isinstance(info.value, NotFound)
        assert "Title is required" in str(info.value)
        assert info.value.status == status
        assert len(script.calls) == 1

    def test_connector_refusal_message_is_used(self, clock: FakeClock) -> None:
        script = Script(clock, [httpx.Response(400, json={"error": {"text": "locked"}})])
        client = make_client(script, clock,
                             refusal_message=lambda r: r.json()["error"]["text"])
        with pytest.raises(VendorRefused, match="locked"):
            client.request("PUT", "quotes/12", json={})

    @pytest.mark.parametrize("status", [404, 410])
    def test_gone_is_not_found(self, clock: FakeClock, status: int) -> None:
        script = Script(clock, [httpx.Response(status, json={"message": "Quote 12 not found"})])
        with pytest.raises(NotFound) as info:
            make_client(script, clock).get_json("quotes/12")
        assert info.value.status == status
        assert len(script.calls) == 1

    def test_401_is_an_auth_error(self, clock: FakeClock) -> None:
        script = Script(clock, [httpx.Response(401, json={"message": "bad key"})])
        with pytest.raises(AuthError):
            make_client(script, clock).get_json("things")
        assert len(script.calls) == 1

    def test_malformed_json_is_retried_then_raised(self, clock: FakeClock) -> None:
        script = Script(clock, [httpx.Response(200, content=b'{"id": 1, "name": "trunc')])
        with pytest.raises(MalformedResponse) as info:
            make_client(script, clock).get_json("things")
        assert isinstance(info.value, TransientVendorError)
        assert len(script.calls) == 2
        assert "trunc" in info.value.body

    @pytest.mark.parametrize("records_path", [None, ("data",)])
    def test_nesting_too_deep_is_a_malformed_answer(
        self, clock: FakeClock, records_path: tuple[str, ...] | None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(lazy_records, "LAZY_FROM_BYTES", 0)
        deep = b'{"data": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}"
        script = Script(clock, [httpx.Response(200, content=deep)] * 2)
        with pytest.raises(MalformedResponse, match="nested too deeply"):
            make_client(script, clock).get_json("things", records_path=records_path)
        assert len(script.calls) == 2

    def test_malformed_then_good(self, clock: FakeClock) -> None:
        script = Script(clock, [httpx.Response(200, content=b"<html>"), ok([1, 2])])
        assert make_client(script, clock).get_json("things") == [1, 2]

    def test_empty_body_decodes_to_none(self, clock: FakeClock) -> None:
        script = Script(clock, [httpx.Response(200)])
        assert make_client(script, clock).get_json("things") is None


class TestSecrets:
    @pytest.mark.parametrize(
        "answer",
        [httpx.Response(400, json={"message": "nope"}), httpx.Response(404),
         httpx.Response(500), httpx.Response(429, headers={"Retry-After": "1"}),
         httpx.Response(401), httpx.Response(200, content=b"not json"),
         httpx.ReadTimeout("timed out"), httpx.ConnectError("connection refused")],
    )
    def test_never_in_exception_messages(self, clock: FakeClock, answer: Any) -> None:
        script = Script(clock, [answer])
        client = make_client(script, clock, attempts=1)
        with pytest.raises(Exception) as info:
            client.get_json("quotes/12", params={"api_key": SECRET, "page": 2})
        sent = script.calls[0][1]
        assert SECRET in str(sent.url) and SECRET in sent.headers["authorization"]
        text = f"{info.value!s} {info.value!r} {getattr(info.value, 'body', '')}"
        assert SECRET not in text
        assert isinstance(info.value, VendorError)


class TestRequestLog:
    def test_rows_written_with_method_endpoint_status(self, clock: FakeClock, db_url: str) -> None:
        db = Database(db_url)
        try:
            script = Script(clock, [httpx.Response(503), ok(), httpx.Response(404),
                                    httpx.ConnectError("reset"), ok()])
            client = make_client(script, clock, db=db)
            client.get_json("quotes", params={"api_key": SECRET})
            with pytest.raises(NotFound):
                client.request("PUT", "quotes/2453", json={})
            client.request("DELETE", "quotes/2453/line_items/9007199254740993")
            with db.begin() as conn:
                rows = conn.execute(select(request_log).order_by(request_log.c.id)).mappings().all()
            got = [(r["account"], r["method"], r["endpoint"], r["status"]) for r in rows]
            assert got == [
                ("acct", "GET", "/api/quotes", 503),
                ("acct", "GET", "/api/quotes", 200),
                ("acct", "PUT", "/api/quotes/{id}", 404),
                ("acct", "DELETE", "/api/quotes/{id}/line_items/{id}", -1),
                ("acct", "DELETE", "/api/quotes/{id}/line_items/{id}", 200),
            ]
            assert all(r["sent_at"] >= T0 for r in rows)
            assert all(SECRET not in str(dict(r)) for r in rows)
            assert client.transport.requests_sent == 5
        finally:
            client.close()
            db.dispose()


# ---- real HTTP on loopback ------------------------------------------------------------------
class Tiny(Sandbox):
    """A one-route sandbox: its middleware gives us resets, drops and delays for free."""

    vendor = "tiny"

    def routes(self) -> None:
        async def things(request: Request) -> Response:
            return JSONResponse({"things": [1, 2, 3]})

        async def create(request: Request) -> Response:
            return JSONResponse({"id": 7}, status_code=201)

        self.route("/things", things, ["GET"])
        self.route("/things", create, ["POST"])


@pytest.fixture
def tiny() -> Iterator[tuple[Tiny, ServedApp]]:
    box = Tiny(requests_per_minute=10_000)
    app = serve(box)
    yield box, app
    app.stop()


class TestOverLoopback:
    def test_connection_reset_retried(self, clock: FakeClock, tiny: tuple[Tiny, ServedApp]) -> None:
        box, app = tiny
        box.add_fault("GET", r"^/things$", "reset", times=2)
        client = make_client(None, clock, base_url=app.url)
        try:
            assert client.request("GET", "things").json() == {"things": [1, 2, 3]}
        finally:
            client.close()
        assert [r.status for r in box.seen("GET")] == [-1, -1, 200]

    def test_timeout_retried(self, clock: FakeClock, tiny: tuple[Tiny, ServedApp]) -> None:
        box, app = tiny
        box.add_fault("GET", r"^/things$", "delay", seconds=0.6, times=1)
        client = make_client(None, clock, base_url=app.url, timeout=0.2)
        try:
            assert client.get_json("things") == {"things": [1, 2, 3]}
        finally:
            client.close()
        assert box.count("GET") == 2

    def test_server_error_then_success(self, clock: FakeClock, tiny: tuple[Tiny, ServedApp]) -> None:
        box, app = tiny
        box.add_fault("GET", r"^/things$", "status", status=502, times=1)
        client = make_client(None, clock, base_url=app.url)
        try:
            assert client.get_json("things") == {"things": [1, 2, 3]}
        finally:
            client.close()
        assert [r.status for r in box.seen("GET")] == [502, 200]

    def test_dropped_create_is_not_resent_blindly(
        self, clock: FakeClock, tiny: tuple[Tiny, ServedApp]
    ) -> None:
        box, app = tiny
        box.add_fault("POST", r"^/things$", "drop", times=1)
        client = make_client(None, clock, base_url=app.url)
        try:
            with pytest.raises(TransientVendorError) as info:
                client.request("POST", "things", json={"name": "x"}, retry=False)
        finally:
            client.close()
        assert box.count("POST") == 1
        assert SECRET not in str(info.value)


class Vendor:
    """Pages of `items` (`?page=N&per_page=K`, Laravel style), one record at `/items/{id}`;
    `gone` answer 404 or 410, `empty` an empty 200."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.gone: dict[str, int] = {}
        self.empty: set[str] = set()
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        parts = request.url.path.strip("/").split("/")
        if len(parts) == 3:  # /api/items/{id}
            rid = parts[2]
            if rid in self.gone:
                return httpx.Response(self.gone[rid], json={"message": "gone"})
            if rid in self.empty:
                return httpx.Response(200, content=b"")
            found = [i for i in self.items if i["id"] == rid]
            if not found:
                return httpx.Response(404, json={"message": "no such item"})
            return httpx.Response(200, json={"data": found[0]})
        if parts[-1] == "bare":
            return httpx.Response(200, json={"data": "not a list"})
        size = int(request.url.params.get("per_page", 2))
        page = int(request.url.params.get("page", 1))
        last = max(1, -(-len(self.items) // size))
        chunk = self.items[(page - 1) * size: page * size]
        return httpx.Response(200, json={"data": chunk, "meta": {
            "current_page": page, "last_page": last, "per_page": size}})

    def queries(self) -> list[dict[str, str]]:
        return [dict(r.url.params) for r in self.seen]


@pytest.fixture
def vendor() -> Vendor:
    return Vendor([{"id": str(n), "name": f"item {n}"} for n in range(1, 6)])


@pytest.fixture
def client(vendor: Vendor) -> Iterator[AccountClient]:
    clock = FakeClock(T0)
    made = AccountClient(account="acct", base_url="https://vendor.example.com/api",
                         budget=RateBudget("acct", 1000, clock), clock=clock, ledger=None,
                         inner_transport=httpx.MockTransport(vendor))
    yield made
    made.close()


class TestGetOne:
    def test_the_record_at_records_path(self, client: AccountClient, vendor: Vendor) -> None:
        assert client.get_one("items/3", records_path=("data",)) == {"id": "3",
                                                                     "name": "item 3"}
        assert client.get_one("items/3") == {"data": {"id": "3", "name": "item 3"}}
        assert len(vendor.seen) == 2

    @pytest.mark.parametrize("status", [404, 410])
    def test_a_gone_record_is_none_after_one_request(
        self, client: AccountClient, vendor: Vendor, status: int
    ) -> None:
        vendor.gone["2"] = status
        assert client.get_one("items/2", records_path=("data",)) is None
        assert len(vendor.seen) == 1
        assert client.transport.requests_sent == 1

    def test_an_empty_answer_is_malformed_not_gone(
        self, client: AccountClient, vendor: Vendor
    ) -> None:
        vendor.empty.add("4")
        with pytest.raises(MalformedResponse, match="holds no record"):
            client.get_one("items/4")

    def test_nothing_at_records_path_is_malformed(self, client: AccountClient) -> None:
        with pytest.raises(MalformedResponse):
            client.get_one("items/1", records_path=("record",))


class TestPaginate:
    def test_every_page_once_with_its_records(self, client: AccountClient,
                                              vendor: Vendor) -> None:
        pages = list(client.paginate("items", laravel_paginator(2), records_path=("data",),
                                     params={"sort": "id"}))
        assert [[r["id"] for r in p.records] for p in pages] == [["1", "2"], ["3", "4"], ["5"]]
        assert pages[0].body["meta"]["last_page"] == 3  # the decoded answer, kept whole
        assert vendor.queries() == [{"sort": "id", "page": str(n), "per_page": "2"}
                                    for n in (1, 2, 3)]
        assert client.transport.requests_sent == 3  # each through the budgeted transport

    def test_the_paginator_has_advanced_when_a_page_is_yielded(
        self, client: AccountClient
    ) -> None:
        paginator = laravel_paginator(2)
        seen = [(dict(paginator.state), paginator.has_next)
                for _ in client.paginate("items", paginator, records_path=("data",))]
        assert seen == [({"page": 2}, True), ({"page": 3}, True), ({"page": 3}, False)]

    def test_stop_ends_the_walk_without_another_request(
        self, client: AccountClient, vendor: Vendor
    ) -> None:
        paginator = laravel_paginator(2)
        for page in client.paginate("items", paginator, records_path=("data",)):
            if any(r["id"] == "2" for r in page.records):
                paginator.stop()
        assert len(vendor.seen) == 1 and not paginator.has_next
        assert paginator.state == {"page": 2}  # the position after the page read

    def test_leaving_the_loop_sends_nothing_more(self, client: AccountClient,
                                                 vendor: Vendor) -> None:
        pages = client.paginate("items", laravel_paginator(2), records_path=("data",))
        assert next(iter(pages)).records[0]["id"] == "1"
        assert len(vendor.seen) == 1

    def test_a_set_event_stops_before_the_next_request(
        self, client: AccountClient, vendor: Vendor
    ) -> None:
        stop, paginator = threading.Event(), laravel_paginator(2)
        for _ in client.paginate("items", paginator, records_path=("data",), until=stop):
            stop.set()
        assert len(vendor.seen) == 1
        assert paginator.has_next  # not ended: the caller knows it was stopped

    def test_a_short_page_ends_a_page_number_list(self, client: AccountClient,
                                                  vendor: Vendor) -> None:
        pages = list(client.paginate("items", PageNumberPaginator(2, size_param="per_page"),
                                     records_path=("data",)))
        assert sum(len(p.records) for p in pages) == 5 and len(vendor.seen) == 3

    def test_an_answer_without_a_record_list_names_the_list(
        self, client: AccountClient
    ) -> None:
        with pytest.raises(TransientVendorError, match="things: expected a list of records"):
            list(client.paginate("bare", LastPagePaginator(2), records_path=("data",),
                                 label="things"))


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


class TestManyAccounts:
    """A worker serving hundreds of accounts holds one client each: a client must be cheap."""

    def test_clients_share_one_verifying_tls_context(
        self, clock: FakeClock, tiny: tuple[Tiny, ServedApp]
    ) -> None:
        box, app = tiny
        shared_ssl_context()  # built once per process, before the baseline
        before = _rss_mb()
        clients = [make_client(None, clock, base_url=app.url) for _ in range(40)]
        try:
            grown = _rss_mb() - before
            assert all(c.get_json("things") == {"things": [1, 2, 3]} for c in clients)
        finally:
            for c in clients:
                c.close()
        # a context per client (httpx's default) loads the CA bundle each time: ~0.8 MB
        # apiece, 30+ MB for these 40
        assert grown < 8, f"40 clients grew RSS by {grown:.1f} MB"
        assert box.count("GET", status=200) == 40
        context = shared_ssl_context()
        assert context is shared_ssl_context()
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
