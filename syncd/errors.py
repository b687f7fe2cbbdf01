"""The one exception hierarchy of syncd, each branch named for what the caller does next.

    SyncdError                      exit code 1 unless stated; outbox entry: failed
    ├── SettingsError               bad settings or usage: exit 2, message names the key
    ├── VendorError                 something the vendor said
    │   ├── VendorRefused           4xx: the vendor will not take this; outbox: refused
    │   ├── VendorUnsupported       no way to do this (capability matrix); outbox: unsupported
    │   ├── TransientVendorError    5xx, timeout, reset, 429: outbox: retry with backoff
    │   └── AuthError               credentials rejected even after one refresh
    ├── BadRecord                   one record failed validation: quarantine it, go on
    └── LeaseError                  another worker / process holds what we need

Each class also says what becomes of an outbox entry whose planning or sending raised it
(`outbox_outcome`); `outcome_of` is the one place that reads it, for reconcile and push.

Errors carry context as attributes; none of them ever holds a secret (messages are built
from redacted URLs and vendor messages only).
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class Outcome(StrEnum):
    """What becomes of an outbox entry whose planning or sending raised an error."""

    DONE = "done"  # the vendor already holds what the entry asked for
    RETRY = "retry"  # sent again after a backoff (`failed` after the last attempt)
    REFUSED = "refused"  # the vendor will not take it: reported, never retried
    UNSUPPORTED = "unsupported"  # the vendor has no way to take it: reported, never retried
    FAILED = "failed"  # it cannot be sent as planned: reported, never retried


class SyncdError(Exception):
    """Root of every error syncd raises on purpose."""

    exit_code = 1
    outbox_outcome: ClassVar[Outcome] = Outcome.FAILED


class SettingsError(SyncdError):
    """Settings or command-line usage are wrong; the message names the offending key."""

    exit_code = 2

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"settings: {key}: {message}")
        self.key = key


class VendorError(SyncdError):
    """A vendor answered with something other than success."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body[:2000]


class VendorRefused(VendorError):
    """The vendor refused the request (4xx other than 401/429): report it, do not retry."""

    outbox_outcome = Outcome.REFUSED


class VendorUnsupported(VendorError):
    """The vendor's API offers no way to perform this change."""

    outbox_outcome = Outcome.UNSUPPORTED


class TransientVendorError(VendorError):
    """A failure that may go away: 5xx, timeouts, connection resets, 429."""

    outbox_outcome = Outcome.RETRY

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: str = "",
        retry_after: float | None = None,
        unanswered: bool = False,
    ) -> None:
        super().__init__(message, status=status, body=body)
        self.retry_after = retry_after
        # the request may have reached the vendor, which then did what it asked (a reset
        # or a read timeout after it was sent); a refused connection or a 5xx is no such
        self.unanswered = unanswered


class AuthError(VendorError):
    """Credentials were rejected, even after a token refresh."""


class BadRecord(SyncdError):
    """One vendor record could not be validated or mapped; it is quarantined."""

    def __init__(self, message: str, raw: object = None) -> None:
        super().__init__(message)
        self.raw = raw


class LeaseError(SyncdError):
    """Another process holds the lease this process needs."""


GONE = (404, 410)


def outcome_of(error: SyncdError, kind: str) -> Outcome:
    """What becomes of an outbox entry of `kind` whose planning or sending raised `error`:
    the class's `outbox_outcome`, except that a delete whose record is already gone at the
    vendor (404/410) is done, not refused.
    """
    if kind == "delete" and isinstance(error, VendorRefused) and error.status in GONE:
        return Outcome.DONE
    return error.outbox_outcome
