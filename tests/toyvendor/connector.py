"""Toy (tests only): proposals with embedded line items, one paginated list, CRUD.

`GET /proposals?page=N` answers `{"data": [...]}`, 25 per page (a short page ends the
list); `POST /proposals`, `PATCH /proposals/{id}` (only the keys sent change), `DELETE
/proposals/{id}`, `GET /proposals/{id}`. A record: `{"id", "number", "title", "state",
"currency", "total", "updated_at", "marker", "items": [{"id", "name", "qty", "price"}]}`.
Auth is `x-api-key`. A create carries syncd's marker in `marker`, so a lost answer is
found again by scanning the list.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx
from pydantic import ValidationError

from syncd.canonical import Bundle, Entity, ProposalStatus
from syncd.drift import Date, Key, Money, Number, Record, RefId, Text, Word
from syncd.errors import BadRecord, VendorUnsupported
from syncd.http.auth import HeaderKeyAuth, TokenStore
from syncd.http.client import NotFound
from syncd.http.paginators import PageNumberPaginator
from syncd.parsing import parse_decimal
from syncd.vendors.base import Connector, Op, StreamSpec, VendorClient, WriteRequest

PAGE_SIZE = 25
NO_ITEM_API = "Toy writes line items only inside a new proposal"
NO_PARTY_API = "Toy has no companies or contacts"


class ToyItem(Record):
    """One embedded line item."""

    id: Key
    name: Text = None
    qty: Number = None
    price: Money = None


class ToyProposal(Record):
    """One proposal as the list and the single fetch return it."""

    id: Key
    number: RefId = None
    title: Text = None
    state: Word = None
    currency: Text = None
    total: Money = None
    updated_at: Date = None
    marker: Text = None
    items: list[ToyItem]


def map_proposal(connector: Connector, record: ToyProposal, raw: dict[str, Any]) -> Bundle:
    """A proposal and the complete set of its line items."""
    bundle = Bundle(complete_line_items={record.id})
    bundle.proposals.append({
        "remote_id": record.id, "number": record.number, "title": record.title,
        "status": connector.map_status(record.state), "vendor_status": record.state,
        "currency": record.currency, "total_net": record.total,
        "updated_at": record.updated_at, "raw": raw,
    })
    for position, item in enumerate(record.items, start=1):
        qty = Decimal(str(item.qty)) if item.qty is not None else None
        bundle.line_items.append({
            "remote_id": item.id, "proposal_remote_id": record.id, "position": position,
            "name": item.name, "quantity": qty, "unit_price": item.price,
            "total_net": qty * item.price if qty is not None and item.price is not None
            else None,
            "raw": raw["items"][position - 1],
        })
    return bundle


class ToyConnector(Connector):
    """The toy vendor: declarations first, then the few write plans."""

    vendor = "toy"
    display_name = "Toy"
    reads_summary = "proposals with line items, pages of 25"
    auth_summary = "`api_key` (`x-api-key`)"
    streams = (StreamSpec(
        name="proposals", path="/proposals", model=ToyProposal, map=map_proposal,
        paginator=lambda size, state: PageNumberPaginator(size, state),
        entity=Entity.PROPOSALS, page_size=PAGE_SIZE, records_path=("data",)),)
    status_map = {"draft": ProposalStatus.DRAFT, "sent": ProposalStatus.SENT,
                  "won": ProposalStatus.ACCEPTED, "lost": ProposalStatus.REJECTED}
    status_out = {ProposalStatus.DRAFT: "draft", ProposalStatus.SENT: "sent",
                  ProposalStatus.ACCEPTED: "won", ProposalStatus.REJECTED: "lost"}
    capabilities = {
        **{(Entity.PROPOSALS, op): None for op in (Op.CREATE, Op.UPDATE, Op.DELETE, Op.STATUS)},
        **{(Entity.LINE_ITEMS, op): NO_ITEM_API for op in (Op.CREATE, Op.UPDATE, Op.DELETE)},
        **{(e, op): NO_PARTY_API for e in (Entity.COMPANIES, Entity.CONTACTS)
           for op in (Op.CREATE, Op.UPDATE, Op.DELETE)},
    }
    writable_fields = {Entity.PROPOSALS: frozenset({"title", "status", "currency"})}

    def auth(self, tokens: TokenStore) -> httpx.Auth | None:
        """The account's `api_key` in the `x-api-key` header."""
        return HeaderKeyAuth("x-api-key", self.account.secret("api_key") or "")

    def _body(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for field, value in changes.items():
            if field not in self.writable_fields[Entity.PROPOSALS]:
                raise VendorUnsupported(f"Toy cannot change a proposal's {field}")
            if field == "status":
                word = self.status_out.get(ProposalStatus(value)) if value else None
                if word is None:
                    raise VendorUnsupported(f"Toy cannot set status {value!r}")
                body["state"] = word
            else:
                body[field] = value
        return body

    def plan_create(self, entity: Entity, row: dict[str, Any], children: list[dict[str, Any]],
                    marker: str) -> list[WriteRequest]:
        """`POST /proposals` with the items and the marker."""
        if entity != Entity.PROPOSALS:
            raise VendorUnsupported(self.capability(entity, Op.CREATE) or NO_ITEM_API)
        given = {k: row[k] for k in ("title", "currency") if row.get(k) is not None}
        body = {**self._body(given), "marker": marker, "items": [
            {"name": c.get("name"), "qty": float(parse_decimal(c.get("quantity")) or 1),
             "price": float(parse_decimal(c.get("unit_price")) or 0)} for c in children]}
        return [WriteRequest("POST", "/proposals", "create", Entity.PROPOSALS, json=body,
                             fields=tuple(given))]

    def created_id(self, entity: Entity, body: Any) -> str:
        """The `id` of the created proposal."""
        return str(body["id"])

    def plan_update(self, entity: Entity, remote_id: str, changes: dict[str, Any],
                    row: dict[str, Any], raw: dict[str, Any],
                    children: list[dict[str, Any]]) -> list[WriteRequest]:
        """`PATCH /proposals/{id}` with exactly the changed keys."""
        if entity != Entity.PROPOSALS:
            raise VendorUnsupported(self.capability(entity, Op.UPDATE) or NO_ITEM_API)
        kind = "status" if set(changes) == {"status"} else "update"
        return [WriteRequest("PATCH", f"/proposals/{remote_id}", kind, entity,
                             json=self._body(changes), fields=tuple(changes))]

    def plan_delete(self, entity: Entity, remote_id: str,
                    row: dict[str, Any]) -> list[WriteRequest]:
        """`DELETE /proposals/{id}`."""
        if entity != Entity.PROPOSALS:
            raise VendorUnsupported(self.capability(entity, Op.DELETE) or NO_ITEM_API)
        return [WriteRequest("DELETE", f"/proposals/{remote_id}", "delete", entity)]

    def marker_of(self, entity: Entity, raw: Any) -> str | None:
        """The marker a created proposal keeps in `marker`."""
        found = raw.get("marker") if isinstance(raw, Mapping) else None
        return str(found) if entity == Entity.PROPOSALS and found else None

    def find_by_marker(self, client: VendorClient, entity: Entity, marker: str) -> str | None:
        """Scan the list for the proposal carrying `marker`."""
        page = 1
        while True:
            records = client.get_json("/proposals", params={"page": page})["data"]
            for record in records:
                if record.get("marker") == marker:
                    return str(record["id"])
            if len(records) < PAGE_SIZE:
                return None
            page += 1

    def fetch_one(self, client: VendorClient, entity: Entity, remote_id: str) -> Bundle | None:
        """`GET /proposals/{id}`, mapped as a pull maps it; None when gone."""
        if entity != Entity.PROPOSALS:
            raise VendorUnsupported(f"Toy cannot fetch one {entity}")
        try:
            raw = client.get_json(f"/proposals/{remote_id}")
        except NotFound:
            return None
        try:
            return map_proposal(self, ToyProposal.model_validate(raw), raw)
        except (ValidationError, ValueError) as exc:
            raise BadRecord(f"toy proposal {remote_id}: {exc}", raw) from exc
