"""A vendor sandbox served from its own process, on a clock shared with syncd's process.

The benchmark measures syncd, so the sandbox must not share syncd's interpreter: its serving
time would count as syncd's, its records as syncd's peak RSS, and both would fight for one
GIL on a two-core machine. `RemoteSandbox` starts the sandbox in a child process (spawned,
so no thread state is inherited), serves it over real HTTP on 127.0.0.1, and forwards
method calls (`lower_bound_requests()`, `remote_edit_title(...)`, ...) over a pipe.

Both processes read `SharedClock`: real elapsed time plus a shared virtual offset that
`sleep` advances. So the vendor's real 30-requests-per-minute limit holds, a budget wait
costs no real time, and the time syncd spends working between requests is still counted.
"""

from __future__ import annotations

import multiprocessing as mp
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from syncd.clock import Clock


class SharedClock(Clock):
    """Wall time at start + real elapsed time + the virtual seconds slept (by anyone)."""

    def __init__(self, offset: Any = None, origin: tuple[float, float] | None = None,
                 live: bool = True) -> None:
        self.offset = offset if offset is not None else mp.get_context("spawn").Value("d", 0.0)
        self.origin = origin or (1_790_000_000.0, time.monotonic())
        self.live = live  # False: only the slept seconds move it, like the tests' FakeClock

    def time(self) -> float:
        start, mono = self.origin
        elapsed = time.monotonic() - mono if self.live else 0.0
        return start + elapsed + self.offset.value

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            with self.offset.get_lock():
                self.offset.value += seconds

    def virtual_seconds(self) -> float:
        """Seconds skipped by sleeping (what the bench did not wait for in real time)."""
        return float(self.offset.value)


@dataclass
class SeenRow:
    """A request as the sandbox saw it, without headers and body (cheap to ship back)."""

    method: str
    path: str
    query: str
    status: int


def _serve(vendor: str, sizes: dict[str, int], rpm: int, offset: Any,
           origin: tuple[float, float], live: bool, options: dict[str, Any],
           conn: Connection) -> None:
    """Child process: build, seed and serve the sandbox, then answer calls until "stop"."""
    from syncd.sandbox import sandbox_class
    from syncd.sandbox.base import serve

    clock = SharedClock(offset, origin, live)
    sandbox = sandbox_class(vendor)(requests_per_minute=rpm, clock=clock, **options)
    started = time.perf_counter()
    sandbox.seed_data(**sizes)
    seeded = time.perf_counter() - started
    served = serve(sandbox)
    conn.send(("ready", {"entry": sandbox.account_entry("acct"), "seed_seconds": seeded}))
    try:
        while True:
            name, args, kwargs = conn.recv()
            if name == "stop":
                break
            try:
                if name == "requests":
                    with sandbox.lock:
                        value: Any = [SeenRow(r.method, r.path, r.query, r.status)
                                      for r in sandbox.requests]
                else:
                    value = getattr(sandbox, name)(*args, **kwargs)
                conn.send(("ok", value))
            except Exception as exc:
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        served.stop()
        conn.send(("stopped", None))


class RemoteSandbox:
    """A seeded sandbox in a child process; call its methods as if it were local."""

    def __init__(self, vendor: str, sizes: dict[str, int], *, rpm: int = 30,
                 clock: SharedClock | None = None, options: dict[str, Any] | None = None) -> None:
        ctx = mp.get_context("spawn")
        self.vendor = vendor
        self.options: dict[str, Any] = dict(options or {})  # sandbox constructor options
        self.clock = clock or SharedClock()
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_serve,
            args=(vendor, sizes, rpm, self.clock.offset, self.clock.origin, self.clock.live,
                  self.options, child),
            daemon=True)
        self.process.start()
        kind, info = self._conn.recv()
        if kind != "ready":  # pragma: no cover - the child died while seeding
            raise RuntimeError(f"{vendor} sandbox did not start: {info}")
        self.entry: dict[str, Any] = info["entry"]
        self.seed_seconds: float = info["seed_seconds"]

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self._conn.send((name, args, kwargs))
        kind, value = self._conn.recv()
        if kind == "error":
            raise RuntimeError(f"{self.vendor} sandbox {name}: {value}")
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *args, **kwargs: self.call(name, *args, **kwargs)

    @property
    def requests(self) -> list[SeenRow]:
        return list(self.call("requests"))

    def close(self) -> None:
        if self.process.is_alive():
            self._conn.send(("stop", (), {}))
            if self._conn.poll(10):
                self._conn.recv()
        self.process.join(timeout=10)
        if self.process.is_alive():  # pragma: no cover - a hung server
            self.process.terminate()

    def __enter__(self) -> RemoteSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
