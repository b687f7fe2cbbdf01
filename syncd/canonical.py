"""The canonical vocabulary every connector maps to: tables, fields, statuses, bundles.

A connector never writes SQL. It turns one vendor record into a `Bundle` of canonical rows
(plain dicts keyed by the canonical column names), referencing each other by *remote* id.
The engine resolves those references to local ids when it upserts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast


class ProposalStatus(StrEnum):
    """The eight canonical proposal statuses (interface.md)."""

    DRAFT = "draft"
    SENT = "sent"
    VIEWED = "viewed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELED = "canceled"
    ORDERED = "ordered"


class Entity(StrEnum):
    """Canonical tables, which are also the entity names used by streams and writes."""

    COMPANIES = "companies"
    CONTACTS = "contacts"
    PROPOSALS = "proposals"
    LINE_ITEMS = "line_items"


# Data columns per table that syncd syncs both ways (bookkeeping columns excluded).
COMPANY_FIELDS: tuple[str, ...] = (
    "name", "email", "phone", "website", "vat_number", "registration_number", "street",
    "postal_code", "city", "state", "country", "created_at", "updated_at",
)
CONTACT_FIELDS: tuple[str, ...] = (
    "company_id", "first_name", "last_name", "full_name", "email", "phone", "mobile", "title",
    "created_at", "updated_at",
)
PROPOSAL_FIELDS: tuple[str, ...] = (
    "number", "title", "status", "vendor_status", "company_id", "contact_id", "currency",
    "total_net", "total_tax", "total_gross", "created_at", "updated_at", "sent_at",
    "decided_at", "expires_at", "url",
)
LINE_ITEM_FIELDS: tuple[str, ...] = (
    "position", "sku", "name", "description", "quantity", "unit_price", "discount",
    "tax_rate", "total_net", "optional",
)

FIELDS: dict[str, tuple[str, ...]] = {
    Entity.COMPANIES: COMPANY_FIELDS,
    Entity.CONTACTS: CONTACT_FIELDS,
    Entity.PROPOSALS: PROPOSAL_FIELDS,
    Entity.LINE_ITEMS: LINE_ITEM_FIELDS,
}

# Fields only the vendor sets; local edits to them are not pushed (reported as unsupported).
READ_ONLY_FIELDS: frozenset[str] = frozenset(
    {"created_at", "updated_at", "vendor_status", "sent_at", "decided_at", "url"}
)

# Reference columns hold local ids in the mirror and remote ids in a bundle.
REFERENCES: dict[str, dict[str, str]] = {
    Entity.CONTACTS: {"company_id": Entity.COMPANIES},
    Entity.PROPOSALS: {"company_id": Entity.COMPANIES, "contact_id": Entity.CONTACTS},
}

# Rows that exist only through another: (dependant table, column holding the parent's local
# id). Deleting the parent deletes them with it, whichever path saw the deletion (pull,
# sweep, webhook, 404 on a fetch, a pushed delete: `MirrorWriter.delete_rows`). A proposal's
# line items; a company's people (Offorte lists people inside their company, and only
# Offorte has companies of their own to delete: the vendors that show companies and
# contacts only inside proposals never delete them, and a proposal is not their parent).
DEPENDANTS: dict[str, tuple[tuple[str, str], ...]] = {
    Entity.PROPOSALS: ((Entity.LINE_ITEMS, "proposal_id"),),
    Entity.COMPANIES: ((Entity.CONTACTS, "company_id"),),
}


@dataclass
class Bundle:
    """Canonical rows produced from vendor data, ready for one upsert.

    Rows are dicts with `remote_id`, canonical fields and `raw` (the vendor JSON). In a
    bundle, `company_id`/`contact_id` hold *remote* ids; line items carry
    `proposal_remote_id`. `complete_line_items` lists proposals whose line items in this
    bundle are the whole set, so items missing from it are marked deleted.
    """

    companies: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    proposals: list[dict[str, Any]] = field(default_factory=list)
    line_items: list[dict[str, Any]] = field(default_factory=list)
    complete_line_items: set[str] = field(default_factory=set)
    complete_contacts_of: set[str] = field(default_factory=set)
    # Non-canonical vendor records worth keeping (Offorte users...): (kind, remote_id, raw).
    extras: list[tuple[str, str, Any]] = field(default_factory=list)

    def rows(self, entity: str) -> list[dict[str, Any]]:
        """The list of one entity's rows, for code that walks every entity the same way."""
        return cast("list[dict[str, Any]]", getattr(self, str(entity)))

    def extend(self, other: Bundle) -> None:
        """Fold another page's bundle into this one, so a stream writes once per batch."""
        for entity in Entity:
            self.rows(entity).extend(other.rows(entity))
        self.complete_line_items |= other.complete_line_items
        self.complete_contacts_of |= other.complete_contacts_of
        self.extras.extend(other.extras)

    def __len__(self) -> int:
        return sum(len(self.rows(e)) for e in Entity) + len(self.extras)
