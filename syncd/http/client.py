"""One budgeted, retrying, authenticated HTTP client per vendor account.

Every request passes `BudgetTransport`, which takes a slot from the account's `RateBudget`
and reserves the request in the injected `RequestLedger` (the engine's `request_log`)
*before* sending (so a restart never bursts, other processes see the slot taken, and
`syncd status` / the benchmarks can count what was spent), then records the status. No code
path can bypass it: auth refreshes and connector lookups use the same transport.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from syncd import jsontext
from syncd.clock import Clock
from syncd.errors import AuthError, TransientVendorError, VendorError, VendorRefused
from syncd.http import lazy_records
from syncd.http.budget import Priority, RateBudget, RequestLedger
from syncd.http.paginators import Page, Paginator, dig
from syncd.http.redaction import endpoint_of, redact_url
from syncd.http.retry import DEFAULT_429_WAIT, parse_retry_after, retrying

log = logging.getLogger("syncd.http")
_priority = threading.local()
_ssl_lock = threading.Lock()
_ssl: list[ssl.SSLContext] = []


def shared_ssl_context() -> ssl.SSLContext:
    """The process's one TLS context (system CA bundle, verification on).

    httpx builds a new context for every transport, loading the CA bundle each time: about
    0.8 MB and 0.1 s CPU per account, most of what an idle account costs a worker serving
    hundreds. The context only holds trust settings, and is safe to share between threads.
    """
    with _ssl_lock:
        if not _ssl:
            _ssl.append(httpx.create_ssl_context())
        return _ssl[0]


# transport failures that happen before the request is written: it cannot have arrived
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class NotFound(VendorRefused):
    """404 or 410: the record is gone at the vendor (an explicit deletion signal)."""


class MalformedResponse(TransientVendorError):
    """The vendor answered 2xx with a body that is not JSON."""


class BudgetTransport(httpx.BaseTransport):
    """Spends the account budget and logs each request around the real transport.

    `ledger` None records nothing and checks no other process's spending (unit tests, and
    sandbox clients that own no database). `timeout`: the client's per-phase timeout; a
    request reaches the vendor at most a pool wait, a connect and a write after its grant,
    which is how late the ledger counts one whose process died before the answer.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        account: str,
        budget: RateBudget,
        ledger: RequestLedger | None,
        stop: threading.Event | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.inner = inner
        self.account = account
        self.budget = budget
        self.ledger = ledger
        self.stop = stop
        self.unanswered_seconds = 3 * timeout
        self.counts: Counter[tuple[str, str, int]] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send the request within the account's budget, waiting out and logging each 429."""
        priority = getattr(_priority, "value", Priority.PULL)
        endpoint = endpoint_of(request.url.path)
        while True:
            sent_at = self.budget.acquire(priority, self.stop)
            row_id, wait = self._reserve(sent_at, request.method, endpoint, priority)
            if wait <= 0:
                break
            # another process (a cron `syncd sync`, a worker that just lost the lease)
            # spent this account's minute: the shared request log says when a slot frees
            self.budget.block(wait)
        started = time.perf_counter()
        try:
            response = self.inner.handle_request(request)
        except httpx.TransportError:
            self._finish(row_id, -1, started, self.budget.settle(sent_at))
            self.counts[(request.method, endpoint, -1)] += 1
            raise
        self._finish(row_id, response.status_code, started, self.budget.settle(sent_at))
        self.counts[(request.method, endpoint, response.status_code)] += 1
        return response

    def _reserve(
        self, sent_at: float, method: str, endpoint: str, priority: Priority
    ) -> tuple[int | None, float]:
        """Reserve the request in the shared ledger; returns (row id, seconds to wait),
        the wait being non-zero when other processes already spent the account's minute.
        """
        if self.ledger is None:
            return None, 0.0
        return self.ledger.reserve(self.account, sent_at, method, endpoint,
                                   priority.name.lower(), self.budget.per_minute,
                                   self.unanswered_seconds)

    def _finish(self, row_id: int | None, status: int, started: float, done_at: float) -> None:
        """Record the answer; the slot counts from when the answer came back (see settle)."""
        if self.ledger is None or row_id is None:
            return
        self.ledger.finish(row_id, status, int((time.perf_counter() - started) * 1000), done_at)

    def close(self) -> None:
        """Close the wrapped transport: the budget holds no connection of its own."""
        self.inner.close()

    @property
    def requests_sent(self) -> int:
        """Requests sent through this transport, for the run's summary."""
        return sum(self.counts.values())

    @property
    def too_many(self) -> int:
        """How many answers were 429, a sign the budget is set too high."""
        return sum(n for (_, _, status), n in self.counts.items() if status == 429)


class priority:
    """`with priority(Priority.PUSH): ...` — requests inside take the budget at that rank."""

    def __init__(self, value: Priority) -> None:
        self.value = value

    def __enter__(self) -> None:
        self.previous = getattr(_priority, "value", Priority.PULL)
        _priority.value = self.value

    def __exit__(self, *exc: object) -> None:
        _priority.value = self.previous


class AccountClient:
    """The HTTP client of one account: base URL, auth, headers, budget, retries, errors."""

    def __init__(
        self,
        *,
        account: str,
        base_url: str,
        budget: RateBudget,
        clock: Clock,
        ledger: RequestLedger | None,
        auth: httpx.Auth | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        refusal_message: Any = None,
        stop: threading.Event | None = None,
        inner_transport: httpx.BaseTransport | None = None,
        attempts: int = 5,
    ) -> None:
        self.account = account
        self.clock = clock
        self.budget = budget
        self.attempts = attempts
        self.transport = BudgetTransport(
            inner_transport or httpx.HTTPTransport(verify=shared_ssl_context(), retries=0),
            account, budget, ledger, stop, timeout
        )
        self.http = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            auth=auth,
            headers=dict(headers or {}),
            timeout=timeout,
            transport=self.transport,
            follow_redirects=False,
        )
        self._refusal_message = refusal_message or (lambda r: r.text[:300])

    # ---- the one request path --------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        endpoint: str | None = None,
        retry: bool = True,
    ) -> httpx.Response:
        """Send one request; transient failures are retried, refusals raised."""
        if not retry:
            return self._once(method, path, params, json)
        unanswered = False  # any attempt's: the last one may have failed otherwise
        try:
            for attempt in retrying(self.clock, self.attempts, self._log_retry):
                with attempt:
                    try:
                        return self._once(method, path, params, json)
                    except TransientVendorError as exc:
                        unanswered = unanswered or exc.unanswered
                        raise
        except TransientVendorError as exc:
            exc.unanswered = exc.unanswered or unanswered
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def get_json(
        self, path: str, *, params: Mapping[str, Any] | None = None, endpoint: str | None = None,
        records_path: tuple[str, ...] | None = None,
    ) -> Any:
        """GET and decode JSON; transient errors are retried like any request, a malformed
        body is fetched once more (a truncated answer), then raised. With `records_path`,
        the records array of a large answer is decoded a record at a time when read
        (`lazy_records`).
        """
        for again in (True, False):
            response = self.request("GET", path, params=params)
            try:
                return self.decode(response, records_path)
            except MalformedResponse as exc:
                if not again:
                    raise
                log.warning("account=%s retrying after: %s", self.account, exc)
        raise AssertionError("unreachable")  # pragma: no cover

    def get_one(
        self, path: str, *, params: Mapping[str, Any] | None = None,
        endpoint: str | None = None, records_path: tuple[str, ...] = (),
    ) -> Any | None:
        """GET one record, decoded (the value at `records_path` of the answer); None only
        when the vendor answers 404 or 410: the record is gone, and callers need no status
        check of their own. An answer that holds no record (an empty body, nothing at
        `records_path`) is malformed, never "gone".
        """
        try:
            body = self.get_json(path, params=params, endpoint=endpoint)
        except NotFound:
            return None
        record = dig(body, records_path)
        if record is None:
            raise MalformedResponse(
                f"GET {endpoint_of(path)}: the answer holds no record", status=200, body="")
        return record

    def paginate(
        self, path: str, paginator: Paginator, *, records_path: tuple[str, ...] = (),
        params: Mapping[str, Any] | None = None, endpoint: str | None = None,
        until: threading.Event | None = None, label: str | None = None,
    ) -> Iterator[Page]:
        """Every page of a list, one budgeted request each, while `paginator.has_next`:
        the answer is decoded once and its records found once (at `records_path`), then
        the paginator advances before the page is yielded. The caller may end the walk by
        `paginator.stop()` (or by leaving the loop); `until` set stops before the next
        request (the caller tells that from `paginator.has_next` still being True). `label`
        names the list in errors (default: its endpoint).
        """
        while paginator.has_next and not (until is not None and until.is_set()):
            body = self.get_json(path, params={**(params or {}), **paginator.request_params()},
                                 endpoint=endpoint, records_path=records_path)
            records = dig(body, records_path)
            if not isinstance(records, list | lazy_records.LazyRecords):
                raise TransientVendorError(
                    f"{label or endpoint_of(path)}: expected a list of records, got "
                    f"{type(records).__name__}")
            paginator.update(body, records)
            yield Page(body, records)

    @staticmethod
    def decode(response: httpx.Response, records_path: tuple[str, ...] | None = None) -> Any:
        """The response body as JSON, records parsed lazily when the caller names where they are."""
        if not response.content:
            return None
        try:
            if records_path is not None:
                return lazy_records.loads(response.content, records_path)
            return jsontext.loads(response.content)
        except ValueError as exc:
            raise MalformedResponse(
                f"malformed JSON from {redact_url(str(response.request.url))}: {exc}",
                status=response.status_code,
                body=response.text,
            ) from None

    def _once(
        self, method: str, path: str, params: Mapping[str, Any] | None, json: Any
    ) -> httpx.Response:
        url = path.lstrip("/") if not path.startswith("http") else path
        try:
            response = self.http.request(method, url, params=params, json=json)
        except httpx.TimeoutException as exc:
            raise TransientVendorError(
                f"{method} {endpoint_of(path)}: timeout ({type(exc).__name__})",
                unanswered=not isinstance(exc, NOT_SENT)) from None
        except httpx.TransportError as exc:
            raise TransientVendorError(
                f"{method} {endpoint_of(path)}: {type(exc).__name__}: {exc}",
                unanswered=not isinstance(exc, NOT_SENT)) from None
        self.raise_for(response)
        return response

    def raise_for(self, response: httpx.Response) -> None:
        """Map a status to the error tree (meltano's `validate_response`)."""
        status = response.status_code
        if status < 300:
            return
        where = f"{response.request.method} {redact_url(str(response.request.url))}"
        if status == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"), self.clock.time())
            wait = DEFAULT_429_WAIT if wait is None else wait
            self.budget.block(wait)
            raise TransientVendorError(f"{where}: 429, retry after {wait:.0f}s", status=429,
                                       retry_after=wait)
        if status >= 500:
            raise TransientVendorError(f"{where}: HTTP {status}", status=status, body=response.text)
        message = self._refusal_message(response)
        if status == 401:
            raise AuthError(f"{where}: credentials rejected: {message}", status=status)
        if status in (404, 410):
            raise NotFound(f"{where}: HTTP {status}: {message}", status=status, body=response.text)
        if 300 <= status < 400:
            raise VendorError(f"{where}: unexpected redirect HTTP {status}", status=status)
        raise VendorRefused(f"{where}: HTTP {status}: {message}", status=status, body=response.text)

    def _log_retry(self, state: Any) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("account=%s retrying after: %s", self.account, exc)

    def close(self) -> None:
        """Close the pooled connections once the account's work is done."""
        self.http.close()
