"""`AccountClient.get_one` and `AccountClient.paginate` against an in-process vendor.

Outcomes asserted: what comes back (a record, None for a gone one, pages and their
records), the requests the vendor saw (how many, with which query), and where paging
stops (end of list, the caller's `stop()`, the stop event), all through the budgeted
transport like every request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from syncd.clock import FakeClock
from syncd.errors import TransientVendorError
from syncd.http.budget import RateBudget
from syncd.http.client import AccountClient, MalformedResponse
from syncd.http.paginators import LastPagePaginator, PageNumberPaginator, laravel_paginator

T0 = 1_790_000_000.0


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
