"""`syncd outbox list`: every planned write, what became of it and, when the vendor said no,
its words — the per-record push report users of reverse-ETL tools expect.

The outbox row keeps the reason push recorded (`last_error`): for a 4xx the client's
"METHOD /path: HTTP 422: <what the vendor answered>", for a change the vendor has no API for
the capability's reason. `refusal` is the part a user acts on: the vendor's text after the
status for a refused request, the whole reason for a write that will not be sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, select

from syncd.db.tables import outbox
from syncd.engine.values import norm


class OutboxStatus(StrEnum):
    """The states an outbox entry goes through (push.py and reconcile.py write them)."""

    pending = "pending"          # planned, waiting for its turn or its backoff
    sending = "sending"          # claimed by a push in progress (or one that was killed)
    done = "done"                # the vendor holds it
    held = "held"                # a field under an open conflict: waits for `conflicts resolve`
    superseded = "superseded"    # the vendor's value won; nothing to send any more
    refused = "refused"          # the vendor answered 4xx: never retried
    unsupported = "unsupported"  # the vendor has no way to take this change
    skipped = "skipped"          # a deletion without `allow_delete = true`
    failed = "failed"            # retries exhausted, or an answer syncd could not use


# a write that will not go out as it stands: the reason is the thing to read
NOT_SENT = frozenset({OutboxStatus.refused, OutboxStatus.unsupported, OutboxStatus.skipped,
                      OutboxStatus.failed})
_HTTP_STATUS = re.compile(r"\bHTTP \d{3}: ")


def refusal_text(status: str, last_error: str | None) -> str | None:
    """What the vendor (or the capability matrix) said against this write, else None: the
    text after the last "HTTP 4xx: " (a connector's own message may repeat the status).
    """
    if status not in NOT_SENT or not last_error:
        return None
    found = list(_HTTP_STATUS.finditer(last_error))
    return last_error[found[-1].end():] if found else last_error


def outbox_entries(
    conn: Connection, accounts: Sequence[str] | None = None, status: str | None = None,
    redact: Callable[[str], str] = str,
) -> list[dict[str, Any]]:
    """Outbox rows oldest first, optionally of some accounts and one status; every text
    that may quote a vendor answer goes through `redact` (it could echo a token).
    """
    query = select(outbox.c.id, outbox.c.account, outbox.c.entity, outbox.c.row_id,
                   outbox.c.kind, outbox.c.method, outbox.c.path, outbox.c.fields,
                   outbox.c.status, outbox.c.attempts, outbox.c.last_error,
                   outbox.c.result_remote_id, outbox.c.created_at,
                   outbox.c.updated_at).order_by(outbox.c.id)
    if accounts:
        query = query.where(outbox.c.account.in_(list(accounts)))
    if status:
        query = query.where(outbox.c.status == status)
    entries = []
    for row in conn.execute(query).mappings():
        error = redact(row["last_error"]) if row["last_error"] else None
        entries.append({
            **dict(row), "fields": list(row["fields"] or []), "last_error": error,
            "refusal": refusal_text(row["status"], error),
            "created_at": norm(row["created_at"]), "updated_at": norm(row["updated_at"]),
        })
    return entries
