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
        """Seconds since the epoch, as the rate budget counts them."""
        raise NotImplementedError

    def sleep(self, seconds: float) -> None:  # pragma: no cover - interface
        """Wait, the only way syncd waits, so a fake clock can skip the time."""
        raise NotImplementedError

    def now(self) -> datetime:
        """Aware UTC datetime of `time()`."""
        return datetime.fromtimestamp(self.time(), tz=UTC)


class SystemClock(Clock):
    """Real time; `sleep` may be interrupted by `stop_event` for prompt shutdown."""

    def __init__(self, stop_event: threading.Event | None = None) -> None:
        self.stop_event = stop_event

    def time(self) -> float:
        """The wall clock's time, in seconds since the epoch."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Sleep, cut short when the daemon is told to stop."""
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
        """The fake time, moved only by `sleep` and `advance`."""
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        """Record the wait and move the fake time on instead of blocking the test."""
        with self._lock:
            self.slept.append(seconds)
            if seconds > 0:
                self._now += seconds

    def advance(self, seconds: float) -> None:
        """Let time pass in a test without anyone sleeping."""
        with self._lock:
            self._now += seconds


SYSTEM_CLOCK = SystemClock()
