"""syncd.http.retry: Retry-After read in both forms; transient errors retried on the injected
clock, a 429 without backoff (the budget holds it), anything else raised at once."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from syncd.clock import FakeClock
from syncd.errors import TransientVendorError, VendorRefused
from syncd.http.retry import parse_retry_after, retrying

NOW = 1_790_000_000.0


@pytest.mark.parametrize(("value", "seconds"), [
    (None, None),
    ("", None),
    ("120", 120.0),
    (" 7 ", 7.0),
    (format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True), 30.0),
    (format_datetime(datetime.fromtimestamp(NOW - 30, UTC), usegmt=True), 0.0),  # past: now
    ("soon", None),
    ("-5", None),
])
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


def run(clock: FakeClock, errors: list[Exception], attempts: int = 5) -> tuple[str, int]:
    calls = 0

    def call() -> str:
        nonlocal calls
        calls += 1
        if errors:
            raise errors.pop(0)
        return "ok"

    return retrying(clock, attempts=attempts)(call), calls


def test_transient_errors_are_retried_with_backoff_on_the_clock() -> None:
    clock = FakeClock(NOW)
    errors: list[Exception] = [TransientVendorError("503", status=503),
                               TransientVendorError("reset")]
    assert run(clock, errors) == ("ok", 3)
    assert len(clock.slept) == 2 and all(0 < s <= 31 for s in clock.slept)
    assert clock.time() > NOW


def test_a_429_is_retried_without_a_backoff_of_its_own() -> None:
    clock = FakeClock(NOW)
    assert run(clock, [TransientVendorError("429", status=429, retry_after=60)]) == ("ok", 2)
    assert clock.slept == [0.0]


def test_the_last_attempts_error_propagates() -> None:
    clock = FakeClock(NOW)
    errors: list[Exception] = [TransientVendorError(f"503 #{i}", status=503) for i in range(3)]
    with pytest.raises(TransientVendorError, match="503 #2"):
        run(clock, errors, attempts=3)
    assert len(clock.slept) == 2


def test_a_refusal_is_not_retried() -> None:
    clock = FakeClock(NOW)
    with pytest.raises(VendorRefused):
        run(clock, [VendorRefused("422", status=422)])
    assert clock.slept == []
