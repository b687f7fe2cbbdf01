"""The outbox entry: one vendor request on its way, as reconcile plans it and push sends it.

The connector plans a `WriteRequest`; reconcile wraps it in an `OutboxEntry` (which row it
writes, its idempotency key, the values it carries, its status), stores it as one outbox
row (`to_row`), and push reads that row back as the same type (`from_row`) before it sends
`entry.request`: the request has one name from the planner to the vendor, and the outbox
row is converted at that boundary only. `push --dry-run` prints these entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from syncd.canonical import Entity
from syncd.vendors.base import ITEMS, WriteRequest

NO_REQUEST = "-"  # method and path of an entry that reports instead of sending


@dataclass(frozen=True)
class OutboxEntry:
    """One outbox entry: the vendor request and what the engine keeps about it.

    `status` is `pending` for a request to send; a report of what cannot be sent
    (`unsupported`, `refused`, `skipped`) carries no request (method and path `-`) and its
    `reason`. `id`, `attempts` and `uncertain` (claimed while `sending`: a process died
    mid-send) are known once the entry is stored; `touched_at` is when the stored entry was
    last claimed or settled (an in-doubt write's previous attempt: a record the vendor
    changed in or after that second may hold this write set back); `unanswered`: an
    earlier attempt's connection failed after the request may have been written.
    """

    request: WriteRequest
    row_id: int | None
    key: str
    values: dict[str, Any] = field(default_factory=dict)
    status: str = "pending"
    reason: str | None = None
    id: int | None = None
    attempts: int = 0
    uncertain: bool = False
    touched_at: Any = field(default=None, compare=False)
    unanswered: bool = False

    @property
    def may_have_arrived(self) -> bool:
        """An earlier attempt may have reached the vendor: a process died while sending
        it, or its answer was lost on the way back (a 5xx or 429 is an answer: not done).
        """
        return self.uncertain or self.unanswered

    # ---- what the request is (read through, for printing and tests) -----------------------
    @property
    def entity(self) -> Entity:
        """The table the request writes."""
        return self.request.entity

    @property
    def kind(self) -> str:
        """What a success means: create, update, delete, status or send."""
        return self.request.kind

    @property
    def method(self) -> str:
        """The HTTP method (`-` for a report)."""
        return self.request.method

    @property
    def path(self) -> str:
        """The request path (`-` for a report)."""
        return self.request.path

    @property
    def body(self) -> Any:
        """The JSON body sent."""
        return self.request.json

    @property
    def fields(self) -> list[str]:
        """The canonical fields the request carries (their base moves on success)."""
        return list(self.request.fields)

    @property
    def carries_items(self) -> bool:
        """Whether the request carries its proposal's line items (see `ITEMS`)."""
        return ITEMS in self.request.fields

    # ---- the boundary with the outbox table ------------------------------------------------
    @classmethod
    def report(cls, entity: Entity, row_id: int, kind: str, status: str, reason: str,
               fields: list[str], values: dict[str, Any], key: str) -> OutboxEntry:
        """An entry that records why a local change is not sent."""
        request = WriteRequest(NO_REQUEST, NO_REQUEST, kind, entity, fields=tuple(fields))
        return cls(request, row_id, key, values, status=status, reason=reason)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> OutboxEntry:
        """The entry an outbox row stores (`uncertain`: it was left `sending`)."""
        request = WriteRequest(
            row["method"], row["path"], row["kind"], Entity(row["entity"]), json=row["body"],
            params=row.get("params"), fields=tuple(row.get("fields") or ()))
        return cls(request, row["row_id"], row["idempotency_key"], dict(row.get("values") or {}),
                   status=row["status"], reason=row.get("last_error"), id=row["id"],
                   attempts=row.get("attempts") or 0, uncertain=row["status"] == "sending",
                   touched_at=row.get("updated_at"), unanswered=bool(row.get("unanswered")))

    def to_row(self) -> dict[str, Any]:
        """The outbox columns this entry fills when it is written."""
        return {"entity": str(self.entity), "row_id": self.row_id, "kind": self.kind,
                "method": self.method, "path": self.path, "body": self.body,
                "params": dict(self.request.params) if self.request.params else None,
                "fields": self.fields, "values": self.values, "idempotency_key": self.key,
                "status": self.status, "last_error": self.reason}

    def replanned(self, request: WriteRequest, values: dict[str, Any]) -> OutboxEntry:
        """The same entry sending `request` (planned from a fresh read) instead."""
        return replace(self, request=request, values=values)


__all__ = ["ITEMS", "NO_REQUEST", "OutboxEntry"]
