"""Injectable time, so rate limits and schedules are tested without sleeping real minutes.

`SystemClock` is the real one. `FakeClock.sleep` advances virtual time instantly, which
lets a test run a whole minute of 30-requests-per-minute budget in milliseconds.
freezegun also works with `SystemClock` because it patches `datetime` and `time`.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    """Interface: monotonic-enough wall time in seconds, and sleeping."""

    def time(self) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def now(self) -> datetime:
        """Aware UTC datetime of `time()`."""
        return datetime.fromtimestamp(self.time(), tz=UTC)


class SystemClock(Clock):
    """Real time; `sleep` may be interrupted by `stop_event` for prompt shutdown."""

    def __init__(self, stop_event: threading.Event | None = None) -> None:
        self.stop_event = stop_event

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self.stop_event is not None:
            self.stop_event.wait(seconds)
        else:
            time.sleep(seconds)


class FakeClock(Clock):
    """Virtual time for tests: `sleep` advances time and returns at once."""

    def __init__(self, start: float = 1_790_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def time(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            if seconds > 0:
                self._now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


SYSTEM_CLOCK = SystemClock()
