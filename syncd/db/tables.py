"""Every table of the mirror, as SQLAlchemy Core `Table`s on one naming-conventioned MetaData.

The four canonical tables are the product's surface (interface.md); each also carries
bookkeeping columns the engine needs for two-way sync:

* `raw`       the vendor's JSON for the row, keyed by stream name (nothing the vendor said is lost)
* `base`      JSON of the canonical values as last synced: the base of the three-way merge
* `sync_rev`  bumped by every engine write; a write that leaves it unchanged is a *local* edit,
              which the change-log triggers record (see `syncd.db.triggers`)
* `synced_at` when the engine last wrote the row

The other tables are the engine's own: stream checkpoints, fingerprints, the request log
(which is also the persisted rate budget), tokens, outbox, conflicts, quarantine, runs,
leases, webhook de-duplication and targeted-fetch queue.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    func,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

Money = Numeric(18, 4)
Quantity = Numeric(18, 4)
Rate = Numeric(9, 4)


def _ts(name: str, **kw: object) -> Column[Any]:
    return Column(name, DateTime(timezone=True), **kw)  # type: ignore[arg-type]


def _bookkeeping() -> list[Column[Any]]:
    return [
        Column("raw", JSON),
        Column("base", JSON),
        Column("sync_rev", Integer, nullable=False, server_default="0"),
        _ts("synced_at"),
    ]


companies = Table(
    "companies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(100), nullable=False),
    Column("remote_id", String(200)),
    Column("name", Text),
    Column("email", Text),
    Column("phone", Text),
    Column("website", Text),
    Column("vat_number", Text),
    Column("registration_number", Text),
    Column("street", Text),
    Column("postal_code", Text),
    Column("city", Text),
    Column("state", Text),
    Column("country", Text),
    _ts("created_at"),
    _ts("updated_at"),
    _ts("deleted_at"),
    *_bookkeeping(),
    UniqueConstraint("account", "remote_id", name="uq_companies_account_remote_id"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(100), nullable=False),
    Column("remote_id", String(200)),
    Column("company_id", Integer, ForeignKey("companies.id", ondelete="SET NULL")),
    Column("first_name", Text),
    Column("last_name", Text),
    Column("full_name", Text),
    Column("email", Text),
    Column("phone", Text),
    Column("mobile", Text),
    Column("title", Text),
    _ts("created_at"),
    _ts("updated_at"),
    _ts("deleted_at"),
    *_bookkeeping(),
    UniqueConstraint("account", "remote_id", name="uq_contacts_account_remote_id"),
)

proposals = Table(
    "proposals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(100), nullable=False),
    Column("remote_id", String(200)),
    Column("number", Text),
    Column("title", Text),
    Column("status", String(20)),
    Column("vendor_status", Text),
    Column("company_id", Integer, ForeignKey("companies.id", ondelete="SET NULL")),
    Column("contact_id", Integer, ForeignKey("contacts.id", ondelete="SET NULL")),
    Column("currency", String(8)),
    Column("total_net", Money),
    Column("total_tax", Money),
    Column("total_gross", Money),
    _ts("created_at"),
    _ts("updated_at"),
    _ts("sent_at"),
    _ts("decided_at"),
    _ts("expires_at"),
    Column("url", Text),
    _ts("deleted_at"),
    *_bookkeeping(),
    UniqueConstraint("account", "remote_id", name="uq_proposals_account_remote_id"),
)

line_items = Table(
    "line_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("proposal_id", Integer, ForeignKey("proposals.id", ondelete="CASCADE")),
    Column("account", String(100), nullable=False),
    Column("remote_id", String(200)),
    Column("position", Integer),
    Column("sku", Text),
    Column("name", Text),
    Column("description", Text),
    Column("quantity", Quantity),
    Column("unit_price", Money),
    Column("discount", Money),
    Column("tax_rate", Rate),
    Column("total_net", Money),
    Column("optional", Boolean),
    _ts("deleted_at"),
    *_bookkeeping(),
    UniqueConstraint("account", "remote_id", name="uq_line_items_account_remote_id"),
    Index("ix_line_items_proposal_id", "proposal_id"),
)

CANONICAL_TABLES = {t.name: t for t in (companies, contacts, proposals, line_items)}

change_log = Table(
    "change_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("table_name", String(20), nullable=False),
    Column("row_id", Integer, nullable=False),
    Column("op", String(10), nullable=False),
    Column("changed_at", DateTime(timezone=True), server_default=func.current_timestamp()),
    # SQLite: ids are never reused (migration 0008), so the daemon's poll of the newest id
    # sees every edit, also one made after a push consumed the newest row
    sqlite_autoincrement=True,
)

stream_state = Table(
    "stream_state",
    metadata,
    Column("account", String(100), primary_key=True),
    Column("stream", String(100), primary_key=True),
    Column("state", JSON, nullable=False),
    _ts("updated_at"),
    _ts("last_complete_at"),
    _ts("last_sweep_at"),
)

scan_seen = Table(
    "scan_seen",
    metadata,
    Column("account", String(100), primary_key=True),
    Column("stream", String(100), primary_key=True),
    Column("remote_id", String(200), primary_key=True),
)

fingerprints = Table(
    "fingerprints",
    metadata,
    Column("account", String(100), primary_key=True),
    Column("stream", String(100), primary_key=True),
    Column("remote_id", String(200), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
)

request_log = Table(
    "request_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("account", String(100), nullable=False),
    Column("sent_at", Float, nullable=False),
    Column("method", String(10), nullable=False),
    Column("endpoint", String(200), nullable=False),
    Column("status", Integer),
    Column("duration_ms", Integer),
    Column("kind", String(20)),
    Index("ix_request_log_account_sent_at", "account", "sent_at"),
)

oauth_tokens = Table(
    "oauth_tokens",
    metadata,
    Column("account", String(100), primary_key=True),
    Column("tokens", JSON, nullable=False),
    _ts("updated_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(100), nullable=False),
    Column("entity", String(20), nullable=False),
    Column("row_id", Integer),
    Column("kind", String(20), nullable=False),
    Column("method", String(10), nullable=False),
    Column("path", Text, nullable=False),
    Column("body", JSON),
    Column("params", JSON),
    Column("fields", JSON),
    Column("values", JSON),
    Column("idempotency_key", String(100), nullable=False),
    Column("status", String(20), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("result_remote_id", String(200)),
    Column("claimed_by", String(100)),
    Column("claimed_until", Float),
    Column("next_attempt_at", Float),
    # an attempt went unanswered (timeout, reset): it may have arrived (migration 0009)
    Column("unanswered", Boolean, nullable=False, server_default=false()),
    _ts("created_at"),
    _ts("updated_at"),
    UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
    Index("ix_outbox_account_status", "account", "status"),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(100), nullable=False),
    Column("entity", String(20), nullable=False),
    Column("row_id", Integer, nullable=False),
    Column("remote_id", String(200)),
    Column("field", String(50), nullable=False),
    Column("base_value", JSON),
    Column("local_value", JSON),
    Column("remote_value", JSON),
    Column("status", String(20), nullable=False, server_default="open"),
    Column("resolution", String(20)),
    _ts("created_at"),
    _ts("resolved_at"),
    Index("ix_conflicts_row", "entity", "row_id", "status"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(100), nullable=False),
    Column("stream", String(100), nullable=False),
    Column("remote_id", String(200)),
    Column("error", Text, nullable=False),
    Column("raw", Text),
    _ts("created_at"),
    _ts("resolved_at"),
    Index("ix_quarantine_account", "account", "stream", "remote_id"),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(40), nullable=False),
    Column("account", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
    _ts("started_at"),
    _ts("finished_at"),
    Column("status", String(20), nullable=False, server_default="running"),
    Column("records", Integer, nullable=False, server_default="0"),
    Column("requests", Integer, nullable=False, server_default="0"),
    Column("error", Text),
    Index("ix_runs_account_kind", "account", "kind"),
)

vendor_records = Table(
    "vendor_records",
    metadata,
    Column("account", String(100), primary_key=True),
    Column("kind", String(50), primary_key=True),
    Column("remote_id", String(200), primary_key=True),
    Column("raw", JSON),
    _ts("updated_at"),
)

leases = Table(
    "leases",
    metadata,
    Column("account", String(100), primary_key=True),
    Column("owner", String(100), nullable=False),
    Column("expires_at", Float, nullable=False),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    Column("account", String(100), primary_key=True),
    Column("event_id", String(300), primary_key=True),
    _ts("received_at"),
)

pending_fetches = Table(
    "pending_fetches",
    metadata,
    Column("account", String(100), primary_key=True),
    Column("entity", String(20), primary_key=True),
    Column("remote_id", String(200), primary_key=True),
    Column("deleted", Boolean, nullable=False, server_default="0"),
    Column("reason", String(100)),
    _ts("created_at"),
)

# Rows written from a snapshot the vendor's own API listed (a call-log entry carrying the
# whole record) rather than from a read of the record itself: still to verify by a fetch,
# with spare budget only (syncd/engine/verify.py). One row per record; gone once verified.
unverified = Table(
    "unverified",
    metadata,
    Column("account", String(100), primary_key=True),
    Column("entity", String(20), primary_key=True),
    Column("remote_id", String(200), primary_key=True),
    Column("stream", String(100), nullable=False),
    _ts("marked_at", nullable=False),
)

drift = Table(
    "drift",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account", String(100), nullable=False),
    Column("stream", String(100), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("path", String(300), nullable=False),
    # the normalised word for unmapped words (one row per word), "" for the other kinds
    Column("word", String(200), nullable=False, server_default=""),
    Column("example_value", Text),
    Column("example_remote_id", String(200)),
    Column("count", BigInteger, nullable=False, server_default="0"),
    _ts("first_seen"),
    _ts("last_seen"),
    UniqueConstraint("account", "stream", "kind", "path", "word",
                     name="uq_drift_account_stream_kind_path_word"),
)

# Deletions a complete scan found but held back: more than `max_delete_fraction` of an
# entity's live rows went missing at once (a vendor answering an empty or truncated list
# with 200). `syncd deletes confirm` applies them; a later complete scan that lists the
# records again clears them.
pending_deletes = Table(
    "pending_deletes",
    metadata,
    Column("account", String(100), primary_key=True),
    Column("entity", String(20), primary_key=True),
    Column("remote_id", String(200), primary_key=True),
    Column("stream", String(100), nullable=False),
    Column("row_id", Integer),
    _ts("first_missing_at"),
    _ts("last_missing_at"),
    Column("sweeps", Integer, nullable=False, server_default="1"),
)

# Which vendor each configured account talks to, so the reporting views (migration 0005,
# docs/reporting.md) can show it: the canonical rows carry only the account name. Kept in
# step with the settings by every `syncd` command (syncd/engine/accounts.py).
accounts = Table(
    "accounts",
    metadata,
    Column("account", String(100), primary_key=True),
    Column("vendor", String(50), nullable=False),
    _ts("updated_at"),
)
