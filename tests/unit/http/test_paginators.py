"""syncd.http.paginators: one class per style, driven over fake APIs that slice a record list.

The budget forbids wasted requests, so each style is checked for the exact number of requests
it needs: a short page ends the list, an exact multiple of the page size costs one more
request only where the API cannot say "no more" itself.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from typing import Any

import pytest

from syncd.errors import TransientVendorError
from syncd.http.paginators import (
    CursorPaginator,
    LastPagePaginator,
    PageNumberPaginator,
    Paginator,
    SinglePage,
    laravel_paginator,
)

Api = Callable[[dict[str, Any]], tuple[Any, list[Any]]]


def drive(paginator: Paginator, api: Api, limit: int = 1000) -> tuple[list[Any], list[dict[str, Any]]]:
    """Run the three-verb loop like the puller; returns records and the params sent."""
    records: list[Any] = []
    sent: list[dict[str, Any]] = []
    while paginator.has_next:
        params = paginator.request_params()
        sent.append(params)
        body, page = api(params)
        paginator.update(body, page)
        records.extend(page)
        assert len(sent) <= limit, "paginator never ended"
    return records, sent


def bare_pages(items: list[int], size: int, first: int = 1) -> Api:
    """`GET /x?page=N` answering a bare array (Offorte style)."""

    def api(params: dict[str, Any]) -> tuple[Any, list[Any]]:
        start = (params["page"] - first) * size
        page = items[start : start + size]
        return page, page

    return api


def laravel_pages(items: list[int], size: int) -> Api:
    def api(params: dict[str, Any]) -> tuple[Any, list[Any]]:
        page_no = params["page"]
        assert params["per_page"] == size
        page = items[(page_no - 1) * size : page_no * size]
        last = max(1, math.ceil(len(items) / size))
        body = {"data": page, "links": {"next": None if page_no >= last else f"?page={page_no + 1}"},
                "meta": {"current_page": page_no, "last_page": last, "per_page": size}}
        return body, page

    return api


def last_page_pages(items: list[int], size: int) -> Api:
    def api(params: dict[str, Any]) -> tuple[Any, list[Any]]:
        page_no = params["page"]
        assert params["perPage"] == size
        page = items[(page_no - 1) * size : page_no * size]
        last = max(1, math.ceil(len(items) / size))
        body = {"data": {"items": page, "currentPage": page_no, "lastPage": last, "perPage": size}}
        return body, page

    return api


def cursor_pages(items: list[int], size: int) -> Api:
    """Quick Quote style keyset cursor: base64 of the last id, null when nothing follows."""

    def api(params: dict[str, Any]) -> tuple[Any, list[Any]]:
        assert params["page_size"] == size
        after = int(base64.b64decode(params["page"]).decode()) if "page" in params else -1
        rest = [i for i in items if i > after]
        page = rest[:size]
        more = len(rest) > size
        nxt = base64.b64encode(str(page[-1]).encode()).decode() if more else None
        return {"total_records": len(items), "next_page": nxt, "data": page}, page

    return api


class TestPageNumberPaginator:
    @pytest.mark.parametrize(
        ("total", "size", "requests"),
        [
            (0, 10, 1),  # an empty list still needs its one answer
            (7, 10, 1),  # short first page ends it
            (25, 10, 3),  # short last page ends it: no empty-page request
            (20, 10, 3),  # exact multiple: only an empty page can tell
            (10, 10, 2),
            (1, 1, 2),
        ],
    )
    def test_requests_needed(self, total: int, size: int, requests: int) -> None:
        items = list(range(total))
        records, sent = drive(PageNumberPaginator(size), bare_pages(items, size))
        assert records == items
        assert len(sent) == requests
        assert [p["page"] for p in sent] == list(range(1, requests + 1))

    def test_size_param_and_first_page(self) -> None:
        pag = PageNumberPaginator(5, size_param="limit", page_param="p", first_page=0)
        assert pag.request_params() == {"p": 0, "limit": 5}

    def test_resumes_from_checkpointed_state(self) -> None:
        items = list(range(35))
        first = PageNumberPaginator(10)
        first.update(items[:10], items[:10])
        checkpoint = dict(first.state)
        resumed = PageNumberPaginator(10, checkpoint)
        records, sent = drive(resumed, bare_pages(items, 10))
        assert records == items[10:]
        assert sent[0] == {"page": 2}


class TestLaravelPaginator:
    @pytest.mark.parametrize(
        ("total", "size", "requests"),
        [(0, 10, 1), (7, 10, 1), (25, 10, 3), (20, 10, 2), (100, 50, 2)],
    )
    def test_meta_last_page_ends_without_an_extra_request(
        self, total: int, size: int, requests: int
    ) -> None:
        items = list(range(total))
        records, sent = drive(laravel_paginator(size), laravel_pages(items, size))
        assert records == items
        assert len(sent) == requests

    def test_follows_current_page_from_meta(self) -> None:
        pag = laravel_paginator(10)
        pag.update({"data": [1] * 10, "meta": {"current_page": 4, "last_page": 9}}, [1] * 10)
        assert pag.has_next and pag.request_params() == {"page": 5, "per_page": 10}

    def test_without_meta_falls_back_to_short_page(self) -> None:
        items = list(range(15))

        def api(params: dict[str, Any]) -> tuple[Any, list[Any]]:
            page = items[(params["page"] - 1) * 10 : params["page"] * 10]
            return {"data": page}, page

        _, sent = drive(laravel_paginator(10), api)
        assert len(sent) == 2


class TestLastPagePaginator:
    @pytest.mark.parametrize(
        ("total", "size", "requests"),
        [(0, 100, 1), (99, 100, 1), (100, 100, 1), (250, 100, 3), (300, 100, 3)],
    )
    def test_last_page_ends(self, total: int, size: int, requests: int) -> None:
        items = list(range(total))
        records, sent = drive(LastPagePaginator(size), last_page_pages(items, size))
        assert records == items
        assert len(sent) == requests

    def test_other_envelope(self) -> None:
        pag = LastPagePaginator(2, envelope="result")
        pag.update({"result": {"currentPage": 1, "lastPage": 2}}, [1, 2])
        assert pag.has_next and pag.state == {"page": 2}
        pag.update({"result": {"currentPage": 2, "lastPage": 2}}, [3, 4])
        assert not pag.has_next


class TestCursorPaginator:
    @pytest.mark.parametrize(
        ("total", "size", "requests"),
        [(0, 100, 1), (5, 100, 1), (100, 100, 1), (250, 100, 3), (300, 100, 3)],
    )
    def test_null_cursor_ends(self, total: int, size: int, requests: int) -> None:
        items = list(range(total))
        records, sent = drive(CursorPaginator(size), cursor_pages(items, size))
        assert records == items
        assert len(sent) == requests
        assert "page" not in sent[0]

    @pytest.mark.parametrize("end", [None, "", False])
    def test_every_empty_cursor_spelling_ends(self, end: Any) -> None:
        pag = CursorPaginator(10)
        pag.update({"next_page": end, "data": []}, [])
        assert not pag.has_next

    def test_repeated_cursor_raises(self) -> None:
        pag = CursorPaginator(10)
        pag.update({"next_page": "abc"}, [1])
        assert pag.request_params() == {"page": "abc", "page_size": 10}
        with pytest.raises(TransientVendorError, match="repeated"):
            pag.update({"next_page": "abc"}, [1])

    def test_state_round_trip(self) -> None:
        pag = CursorPaginator(10, cursor_param="cursor", size_param=None, next_key="next")
        pag.update({"next": "xyz"}, [1])
        again = CursorPaginator(10, dict(pag.state), cursor_param="cursor", size_param=None,
                                next_key="next")
        assert again.request_params() == {"cursor": "xyz"}


class TestSinglePage:
    def test_one_request(self) -> None:
        items = list(range(500))
        records, sent = drive(SinglePage(), lambda params: (items, items))
        assert records == items and sent == [{}]


class TestStop:
    def test_stop_is_the_paginators_own_verb(self) -> None:
        pag = PageNumberPaginator(10)
        pag.update(list(range(10)), list(range(10)))
        assert pag.has_next and pag.state == {"page": 2}
        pag.stop()
        assert not pag.has_next and pag.state == {"page": 2}  # the position is kept
        with pytest.raises(AttributeError):
            pag.has_next = True  # type: ignore[misc]  # only the paginator ends a list
        pag.restore({"page": 5})
        assert pag.has_next and pag.request_params() == {"page": 5}

    def test_laravel_is_last_page_paging_with_laravels_key_names(self) -> None:
        pag = laravel_paginator(10, {"page": 3})
        assert isinstance(pag, LastPagePaginator)
        pag.update({"meta": {"current_page": 3, "last_page": 3}}, [1])
        assert not pag.has_next and pag.remaining == 0
