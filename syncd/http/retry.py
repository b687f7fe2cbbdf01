"""Retry policy composed from tenacity parts: transient errors only, Retry-After first.

A 429 blocks the account's budget for Retry-After (else 60 s, vendors.md) so every job of
the account waits, not only the one that was refused; 5xx, timeouts and resets back off
exponentially with jitter. After `attempts` the error propagates (reraise=True) and the
caller fails that page or record with a clear message; the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from syncd.clock import Clock
from syncd.errors import TransientVendorError

DEFAULT_429_WAIT = 60.0


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


class _WaitRetryAfterOrBackoff:
    """tenacity wait: the 429's Retry-After was already applied to the budget; else backoff."""

    def __init__(self) -> None:
        self.backoff = wait_exponential_jitter(initial=1, max=30, jitter=1)

    def __call__(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientVendorError) and exc.status == 429:
            return 0.0  # the budget itself holds every request until Retry-After has passed
        return float(self.backoff(state))


def retrying(clock: Clock, attempts: int = 5, on_retry: Callable[[Any], None] | None = None) -> Retrying:
    """A tenacity `Retrying` for transient vendor errors, sleeping on the injected clock."""
    return Retrying(
        retry=retry_if_exception_type(TransientVendorError),
        stop=stop_after_attempt(attempts),
        wait=_WaitRetryAfterOrBackoff(),
        sleep=clock.sleep,
        reraise=True,
        before_sleep=on_retry,
    )
