"""What every vendor sandbox shares: a record store, request log, rate limit, faults, serving.

A sandbox must be no kinder than the real vendor: it enforces its requests-per-minute with
429s (sliding 60 s window, like the vendors' own limiters), checks auth on every call, and
lets tests inject faults (5xx, malformed JSON, a dropped connection *after* processing a
request, slow responses). Tests read `sandbox.requests` to assert what syncd really sent.

Subclasses add routes with `self.route(path, handler, methods)`; handlers are ordinary
Starlette endpoints and use `self.store` (a dict of ordered collections) under `self.lock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from syncd.clock import SYSTEM_CLOCK, Clock
from syncd.sandbox.drift import DriftPlan, find_records

Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class SeenRequest:
    """One request as the sandbox saw it (after auth, before or after a fault)."""

    method: str
    path: str
    query: str
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # wall-clock arrival (not the sandbox's clock): latency benchmarks compare it with the
    # moment the mirror was edited in another process
    at: float = field(default_factory=time.time)

    def json(self) -> Any:
        """The request's JSON body, for tests that check what syncd sent."""
        return json.loads(self.body) if self.body else None


@dataclass
class Fault:
    """An injected failure for requests matching `method` and the `path` regex.

    action: "status" (answer `status` with `body`), "drop" (process the request, then close
    the connection without answering), "reset" (close before processing), "malformed"
    (200 with a body that is not JSON), "delay" (process, but answer after `seconds`).
    """

    method: str
    path: str
    action: str
    status: int = 500
    body: Any = None
    seconds: float = 0.0
    times: int = 1
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to the request (`*` matches any method)."""
        return (self.method in ("*", method)) and re.search(self.path, path) is not None


class Sandbox:
    """Base of every vendor sandbox. Subclasses set `vendor` and register routes."""

    vendor = "base"
    retry_after_header = True  # whether the vendor's 429 carries Retry-After
    # keys a `DriftPlan` never perturbs: words the vendor's own protocol fixes
    drift_exempt: ClassVar[frozenset[str]] = frozenset()
    # the `currency` setting the demo gives this vendor's account when its API sends none
    demo_currency: ClassVar[str | None] = None

    def __init__(self, *, requests_per_minute: int = 30, clock: Clock = SYSTEM_CLOCK) -> None:
        self.requests_per_minute = requests_per_minute
        self.clock = clock
        self.lock = threading.RLock()
        self.store: dict[str, dict[str, dict[str, Any]]] = {}
        self.requests: list[SeenRequest] = []
        self.faults: list[Fault] = []
        self.webhook_deliveries: list[dict[str, Any]] = []
        self._window: dict[str, deque[float]] = {}
        self._routes: list[Route] = []
        self._next_id = 1000
        self.drift: DriftPlan | None = None  # set by the drift suite: answers in other words
        self.app = self._build()

    # ---- building -------------------------------------------------------------------------
    def routes(self) -> None:  # pragma: no cover - subclasses register their routes
        """Register the vendor's endpoints with `self.route`."""

    def route(self, path: str, handler: Handler, methods: list[str]) -> None:
        """Add a route, in the order the vendor's router would try it."""
        self._routes.append(Route(path, handler, methods=methods))

    def _build(self) -> Any:
        self.routes()
        starlette = Starlette(routes=self._routes)
        return _SandboxMiddleware(starlette, self)

    # ---- hooks subclasses override --------------------------------------------------------
    def authenticate(self, request: Request) -> Response | None:
        """Return an error response for a request without valid credentials, else None."""
        return None

    def rate_key(self, request: Request) -> str:
        """Which budget a request spends (per account / token)."""
        return request.headers.get("authorization") or request.headers.get("x-api-key") or "-"

    def too_many(self, retry_after: int) -> Response:
        """The vendor's 429, with Retry-After only where the real API sends one."""
        headers = {"Retry-After": str(retry_after)} if self.retry_after_header else {}
        return JSONResponse({"message": "Too Many Attempts."}, status_code=429, headers=headers)

    def error(self, status: int, message: str, **extra: Any) -> Response:
        """The vendor's error body shape (subclasses override for their dialect)."""
        return JSONResponse({"message": message, **extra}, status_code=status)

    # ---- the standard-suite contract (every vendor sandbox implements these) ---------------
    def seed_data(
        self, *, companies: int = 20, proposals: int = 120, max_items: int = 20, seed: int = 7
    ) -> None:
        """Fill the store deterministically (same seed, same data) at the given sizes."""
        raise NotImplementedError

    def account_entry(self, name: str) -> dict[str, Any]:
        """The `[[accounts]]` settings table that points syncd at this sandbox."""
        raise NotImplementedError

    def expected_counts(self) -> dict[str, int]:
        """Live (not deleted) canonical rows a complete backfill must produce, per table."""
        raise NotImplementedError

    def lower_bound_requests(self) -> int:
        """Fewest requests a backfill of the current data can make (pages at the maximum
        page size, an empty page only for exact multiples, unavoidable detail calls).
        """
        raise NotImplementedError

    def drift_records(self, body: Any) -> list[dict[str, Any]]:
        """The records of a GET answer that a `DriftPlan` perturbs (override for odd
        envelopes).
        """
        return find_records(body)

    def corrupt_one_record(self) -> str:
        """Make one listed record unusable for syncd while its id stays readable (an
        unusable structure: a list that must be a list is something else) and the others
        stay valid; returns that record's remote id (it must be quarantined). Unknown words
        and types are not enough: syncd keeps such records (see syncd/drift.py).
        """
        raise NotImplementedError

    def remote_edit_title(self, remote_id: str, title: str) -> None:
        """Change a proposal's title the way a user in the vendor's UI would (bumps its
        updated/modified time and version).
        """
        raise NotImplementedError

    def proposal_title(self, remote_id: str) -> str | None:
        """The proposal's title as the vendor now stores it (for push tests)."""
        raise NotImplementedError

    # the two-way suite (tests/connectors/test_two_way_suite.py) also uses these:
    def remote_edit_other(self, remote_id: str) -> tuple[str, Any]:
        """Change one proposal field other than the title, the way a user in the vendor's
        UI would (bumping its modified time, logging it where the vendor logs changes);
        returns the canonical field name and the value a pull must then put in the mirror.
        """
        raise NotImplementedError

    def proposal_fields(self, remote_id: str) -> dict[str, Any]:
        """Everything the vendor stores about the proposal, as a plain comparable dict with
        the title under "title" and without modification times/versions: a push that
        changed only the title leaves all other keys equal (Automa's full Put included).
        """
        raise NotImplementedError

    def new_proposal_refs(self) -> dict[str, str | None]:
        """Remote ids of an existing company and contact (`{"company_id": ..., "contact_id":
        ...}`) that a backfill mirrors and a proposal created through the API may name;
        a test's plain-SQL INSERT uses their mirror ids.
        """
        raise NotImplementedError

    def count_proposals(self) -> int:
        """Live proposals the vendor holds (a create must add exactly one)."""
        raise NotImplementedError

    # ---- helpers --------------------------------------------------------------------------
    def collection(self, name: str) -> dict[str, dict[str, Any]]:
        """One kind of record the sandbox keeps, by id, created on first use."""
        return self.store.setdefault(name, {})

    def new_id(self) -> int:
        """A fresh id, unique across the sandbox's collections as the vendors' ids are."""
        with self.lock:
            self._next_id += 1
            return self._next_id

    def add_fault(self, method: str, path: str, action: str, **kwargs: Any) -> Fault:
        """Make matching requests fail, so a test can watch syncd recover."""
        fault = Fault(method=method, path=path, action=action, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def seen(self, method: str | None = None, path: str | None = None) -> list[SeenRequest]:
        """Requests seen, filtered by method and a path regex."""
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method)
                and (path is None or re.search(path, r.path))
            ]

    def count(self, method: str | None = None, path: str | None = None, status: int | None = None) -> int:
        """How many requests matched, for tests that count the calls syncd made."""
        return sum(1 for r in self.seen(method, path) if status is None or r.status == status)

    def reset_log(self) -> None:
        """Forget the requests seen so far, so a test counts only what follows."""
        with self.lock:
            self.requests.clear()

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The next fault for the request, used up by one match."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def check_rate(self, key: str) -> int | None:
        """Sliding 60-second window; returns seconds to wait when the budget is spent."""
        now = self.clock.time()
        with self.lock:
            window = self._window.setdefault(key, deque())
            while window and window[0] <= now - 60:
                window.popleft()
            if len(window) >= self.requests_per_minute:
                return max(1, int(window[0] + 60 - now + 0.999))
            window.append(now)
        return None

    def base_url(self) -> str:
        """Set by `serve`; the URL prefix tests put in settings."""
        return getattr(self, "_base_url", "")


class _SandboxMiddleware:
    """ASGI wrapper: auth, rate limit, faults and the request log around the vendor app."""

    def __init__(self, app: Any, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)

        async def replay() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        sandbox = self.sandbox
        request = Request(scope, replay)
        method, path = scope["method"], scope["path"]
        record = SeenRequest(
            method=method,
            path=path,
            query=scope.get("query_string", b"").decode(),
            status=0,
            body=body,
            headers={k.decode().lower(): v.decode() for k, v in scope["headers"]},
        )
        with sandbox.lock:
            sandbox.requests.append(record)

        early: Response | None = sandbox.authenticate(request)
        if early is None:
            wait = sandbox.check_rate(sandbox.rate_key(request))
            if wait is not None:
                early = sandbox.too_many(wait)
        fault = sandbox.take_fault(method, path) if early is None else None
        if fault is not None and fault.action == "reset":
            record.status = -1
            _close_connection(receive)
            return
        if fault is not None and fault.action == "status":
            early = JSONResponse(
                fault.body if fault.body is not None else {"message": "Server Error"},
                status_code=fault.status,
                headers=fault.headers,
            )
        if fault is not None and fault.action == "malformed":
            early = Response(b'{"id": 1, "name": "trunc', status_code=200,
                             media_type="application/json")
        if early is not None:
            record.status = early.status_code
            await early(scope, replay, send)
            return

        captured: list[dict[str, Any]] = []

        async def capture(message: dict[str, Any]) -> None:
            captured.append(message)

        await self.app(scope, replay, capture)
        start = next((m for m in captured if m["type"] == "http.response.start"), None)
        record.status = start["status"] if start else 500
        if fault is not None and fault.action == "drop":
            record.status = -1
            _close_connection(receive)
            return
        if fault is not None and fault.action == "delay":
            await asyncio.sleep(fault.seconds)
        if sandbox.drift is not None and method == "GET" and record.status == 200:
            captured = _drifted(sandbox, captured)
        for message in captured:
            await send(message)


def _drifted(sandbox: Sandbox, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The answer with its records perturbed by the sandbox's drift plan."""
    start = next(m for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    try:
        decoded = json.loads(body)
    except ValueError:
        return messages
    assert sandbox.drift is not None
    with sandbox.lock:
        sandbox.drift.apply(sandbox.drift_records(decoded), sandbox.drift_exempt)
    encoded = json.dumps(decoded).encode()
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(encoded)).encode()))
    return [{**start, "headers": headers},
            {"type": "http.response.body", "body": encoded, "more_body": False}]


def _close_connection(receive: Any) -> None:
    """Close the client's TCP connection without an answer (uvicorn keeps it on the cycle)."""
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:  # pragma: no cover - other servers
        raise ConnectionResetError("sandbox dropped the connection")
    transport.close()




def free_port() -> int:
    """A port nothing listens on, for a sandbox served in a test."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServedApp:
    """An ASGI app served by uvicorn on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        """The served sandbox's base URL, for an account's settings."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServedApp:
        """Serve the app in a thread and return once it answers."""
        self.thread.start()
        deadline = time.time() + 10
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"sandbox server did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=5)


def serve(sandbox: Sandbox, port: int | None = None, prefix: str = "") -> ServedApp:
    """Serve a sandbox on loopback; `sandbox.base_url()` then gives its URL (+ prefix)."""
    served = ServedApp(sandbox.app, port).start()
    sandbox._base_url = served.url + prefix  # type: ignore[attr-defined]
    return served
