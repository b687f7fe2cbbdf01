"""One paginator class per pagination style, each a few lines on a three-verb contract.

A paginator's position is a small JSON-able dict (`state`), committed with the page's rows
so a killed backfill resumes at the next page. Unlike dlt's page-number paginator, ours
stops on a *short* page and never asks for an empty page unless the list length is an
exact multiple of the page size.

Contract:
    params = paginator.request_params()        # query params for the next request
    paginator.update(body, records)            # after a page: advance or finish
    paginator.has_next                         # False once the list has ended (read-only)
    paginator.stop()                           # the caller needs no further page
    paginator.state / factory(size, state)     # checkpoint, and resuming from it

`AccountClient.paginate` runs this loop (a request per page, within the budget) and yields
each `Page`: the decoded answer and its records, found once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from syncd.errors import TransientVendorError


def dig(body: Any, path: tuple[str, ...]) -> Any:
    """Follow `path` keys into a decoded body."""
    for key in path:
        if not isinstance(body, dict):
            raise TypeError(f"expected an object holding {key!r}, got {type(body).__name__}")
        body = body.get(key)
    return body


@dataclass(frozen=True)
class Page:
    """One answer of a paged list: the decoded body and the records in it (found once,
    at the stream's `records_path`; a list, or `LazyRecords` for a large answer).
    """

    body: Any
    records: Sequence[Any]


class Paginator:
    """Base class: holds `state` and `has_next`; subclasses implement the three verbs."""

    def __init__(self, page_size: int, state: dict[str, Any] | None = None) -> None:
        self.page_size = page_size
        self.state: dict[str, Any] = dict(state or self.initial_state())
        self._has_next = True
        # pages still to fetch, when the vendor says (Laravel meta, totals); None = unknown
        self.remaining: int | None = None

    @property
    def has_next(self) -> bool:
        """False once the list has ended or the caller stopped it."""
        return self._has_next

    def stop(self) -> None:
        """No further page: the list ended, or the caller needs no more (a high-water
        mark was reached); `state` stays at the page just read.
        """
        self._has_next = False

    def initial_state(self) -> dict[str, Any]:
        """Where a stream starts when no checkpoint says otherwise."""
        return {}

    def request_params(self) -> dict[str, Any]:  # pragma: no cover - interface
        """The query parameters that ask for the current page."""
        raise NotImplementedError

    def update(self, body: Any, records: Sequence[Any]) -> None:  # pragma: no cover - interface
        """Move to the next page, or stop, from the page just received."""
        raise NotImplementedError

    def restore(self, state: dict[str, Any]) -> None:
        """Resume from a checkpoint, so an interrupted pull does not start over."""
        self.state = dict(state)
        self._has_next = True


class PageNumberPaginator(Paginator):
    """`?page=N` over bare arrays; a page shorter than `page_size` is the last one.

    Example (Offorte v1, 50 per page): `GET /companies?page=3` → `[{...}, ... 12 items]`
    ends the list after page 3 without asking for page 4.
    """

    def __init__(
        self,
        page_size: int,
        state: dict[str, Any] | None = None,
        *,
        page_param: str = "page",
        size_param: str | None = None,
        first_page: int = 1,
    ) -> None:
        self.page_param = page_param
        self.size_param = size_param
        self.first_page = first_page
        super().__init__(page_size, state)

    def initial_state(self) -> dict[str, Any]:
        """Start at the vendor's first page number (0 or 1)."""
        return {"page": self.first_page}

    def request_params(self) -> dict[str, Any]:
        """The page number, and the page size when the vendor takes one."""
        params: dict[str, Any] = {self.page_param: self.state["page"]}
        if self.size_param:
            params[self.size_param] = self.page_size
        return params

    def update(self, body: Any, records: Sequence[Any]) -> None:
        """A short page is the last one; otherwise ask for the next number."""
        if len(records) < self.page_size:
            self.stop()
        else:
            self.state = {"page": self.state["page"] + 1}


class LastPagePaginator(PageNumberPaginator):
    """Page numbers with `current/last page` counters in an envelope of the body: the list
    continues while the current page is before the last one. One algorithm for every
    vendor that says so; only the key names differ (`laravel_paginator` for Laravel's).

    Example (Automa.Net, the defaults): `{"data": {"items": [...], "currentPage": 2,
    "lastPage": 2, "perPage": 100}}`. `envelope` names the dict holding the counters; an
    answer without them falls back to "a short page is the last one".
    """

    def __init__(
        self,
        page_size: int,
        state: dict[str, Any] | None = None,
        *,
        size_param: str = "perPage",
        envelope: str = "data",
        current_key: str = "currentPage",
        last_key: str = "lastPage",
    ) -> None:
        self.envelope = envelope
        self.current_key = current_key
        self.last_key = last_key
        super().__init__(page_size, state, size_param=size_param)

    def update(self, body: Any, records: Sequence[Any]) -> None:
        """Stop at the last page the envelope names, falling back to a short page when it names none."""
        holder = body.get(self.envelope) if isinstance(body, dict) else None
        if not isinstance(holder, dict) or self.last_key not in holder:
            super().update(body, records)
            return
        current = int(holder.get(self.current_key, self.state["page"]))
        last = int(holder[self.last_key])
        self.remaining = max(0, last - current)
        if current >= last or not records:
            self.stop()
        else:
            self.state = {"page": current + 1}


def laravel_paginator(page_size: int, state: dict[str, Any] | None = None) -> LastPagePaginator:
    """Laravel `{data, links, meta}` pages: `meta.current_page < meta.last_page` continues.

    Example (StrawBlond): `{"data": [...], "links": {"next": "...?page=2"},
    "meta": {"current_page": 1, "last_page": 7, "per_page": 50}}`.
    """
    return LastPagePaginator(page_size, state, size_param="per_page", envelope="meta",
                             current_key="current_page", last_key="last_page")


class CursorPaginator(Paginator):
    """An opaque cursor from the body, sent back as a query parameter; null ends the list.

    Example (Quick Quote): `{"total_records": 250, "next_page": "abc", "data": [...]}` →
    next request `?page=abc&page_size=100`. A cursor that repeats raises, so a buggy API
    cannot loop forever.
    """

    def __init__(
        self,
        page_size: int,
        state: dict[str, Any] | None = None,
        *,
        cursor_param: str = "page",
        size_param: str | None = "page_size",
        next_key: str = "next_page",
    ) -> None:
        self.cursor_param = cursor_param
        self.size_param = size_param
        self.next_key = next_key
        super().__init__(page_size, state)

    def initial_state(self) -> dict[str, Any]:
        """Start without a cursor: the first page."""
        return {"cursor": None}

    def request_params(self) -> dict[str, Any]:
        """The cursor the last page handed out, and the page size when the vendor takes one."""
        params: dict[str, Any] = {}
        if self.state.get("cursor") is not None:
            params[self.cursor_param] = self.state["cursor"]
        if self.size_param:
            params[self.size_param] = self.page_size
        return params

    def update(self, body: Any, records: Sequence[Any]) -> None:
        """Follow the next cursor, and count the pages remaining when the vendor gives a total."""
        nxt = body.get(self.next_key) if isinstance(body, dict) else None
        total = body.get("total_records") if isinstance(body, dict) else None
        if isinstance(total, int) and self.page_size:
            self.seen = getattr(self, "seen", 0) + len(records)
            self.remaining = max(0, -(-(total - self.seen) // self.page_size))
        if nxt in (None, "", False):
            self.stop()
            return
        if nxt == self.state.get("cursor"):
            raise TransientVendorError(f"pagination cursor repeated: {nxt!r}")
        self.state = {"cursor": nxt}


class SinglePage(Paginator):
    """An endpoint that returns everything at once (Happyoffer `GET /offers`)."""

    def __init__(self, page_size: int = 0, state: dict[str, Any] | None = None) -> None:
        super().__init__(page_size, state)

    def request_params(self) -> dict[str, Any]:
        """An endpoint that answers everything at once takes no paging parameters."""
        return {}

    def update(self, body: Any, records: Sequence[Any]) -> None:
        """The one page is the whole list."""
        self.stop()
