"""reporting views over the canonical tables, and the account -> vendor table they name

`pipeline`, `win_rate`, `open_proposals_ageing`, `line_item_revenue` and `recent_changes`
(docs/reporting.md documents every column). The SQL is written out here, not built from
the current code, so this revision creates the same views whatever later code looks like.
Dates differ between the dialects (month of a timestamp, whole days since one), so those
two expressions come in one spelling per dialect; everything else is common SQL.

Rows with `deleted_at` set count nowhere except in `recent_changes`, where a deletion is
itself the change. No sum ever mixes currencies: every money column is grouped by currency.

Revision ID: 0006
Revises: 0005
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

VIEWS = ("pipeline", "win_rate", "open_proposals_ageing", "line_item_revenue", "recent_changes")

WON = "('accepted', 'ordered')"
DECIDED = "('accepted', 'ordered', 'rejected', 'expired')"
OPEN = "('sent', 'viewed')"


def month_of(column: str, dialect: str) -> str:
    """'YYYY-MM' of a UTC timestamp (SQLite keeps timestamps as ISO text)."""
    if dialect == "postgresql":
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM')"
    return f"substr({column}, 1, 7)"


def days_since(column: str, dialect: str) -> str:
    """Whole days from a timestamp until now."""
    if dialect == "postgresql":
        return f"CAST(FLOOR(EXTRACT(EPOCH FROM (CURRENT_TIMESTAMP - {column})) / 86400) AS INTEGER)"
    return f"CAST(julianday('now') - julianday({column}) AS INTEGER)"


def money_columns(prefix: str = "p.") -> str:
    """Sums of one currency's proposals: net, gross, the total of whichever is present
    (gross, else net: Happyoffer gives one total, stored as net) and which that was."""
    gross, net = f"{prefix}total_gross", f"{prefix}total_net"
    priced = f"COUNT(COALESCE({gross}, {net}))"
    return f"""
       ROUND(SUM({net}), 4) AS total_net,
       ROUND(SUM({gross}), 4) AS total_gross,
       ROUND(SUM(COALESCE({gross}, {net})), 4) AS total,
       CASE WHEN {priced} = 0 THEN NULL
            WHEN COUNT({gross}) = {priced} THEN 'gross'
            WHEN COUNT({gross}) = 0 THEN 'net'
            ELSE 'mixed' END AS total_basis,
       COUNT(*) - {priced} AS without_total"""


def pipeline(dialect: str) -> str:
    month = month_of("p.created_at", dialect)
    return f"""
CREATE VIEW pipeline AS
SELECT p.account AS account, a.vendor AS vendor, {month} AS month, p.status AS status,
       p.currency AS currency, COUNT(*) AS proposals,{money_columns()}
FROM proposals p LEFT JOIN accounts a ON a.account = p.account
WHERE p.deleted_at IS NULL
GROUP BY p.account, a.vendor, {month}, p.status, p.currency"""


def win_rate(dialect: str) -> str:
    month = month_of("COALESCE(p.decided_at, p.updated_at, p.created_at)", dialect)
    won = f"SUM(CASE WHEN p.status IN {WON} THEN 1 ELSE 0 END)"
    return f"""
CREATE VIEW win_rate AS
SELECT p.account AS account, a.vendor AS vendor, {month} AS month,
       COUNT(*) AS decided, {won} AS accepted, COUNT(*) - {won} AS lost,
       ROUND(1.0 * {won} / COUNT(*), 4) AS rate
FROM proposals p LEFT JOIN accounts a ON a.account = p.account
WHERE p.deleted_at IS NULL AND p.status IN {DECIDED}
GROUP BY p.account, a.vendor, {month}"""


def open_proposals_ageing(dialect: str) -> str:
    days = days_since("COALESCE(p.sent_at, p.created_at)", dialect)
    return f"""
CREATE VIEW open_proposals_ageing AS
SELECT o.account AS account, o.vendor AS vendor, o.currency AS currency,
       o.bucket AS bucket, o.bucket_from AS bucket_from, COUNT(*) AS proposals,
       {money_columns("o.").strip()},
       MAX(o.days) AS oldest_days
FROM (SELECT d.*,
             CASE WHEN d.days IS NULL THEN 'unknown' WHEN d.days <= 7 THEN '0-7'
                  WHEN d.days <= 30 THEN '8-30' WHEN d.days <= 90 THEN '31-90'
                  ELSE '91+' END AS bucket,
             CASE WHEN d.days IS NULL THEN NULL WHEN d.days <= 7 THEN 0
                  WHEN d.days <= 30 THEN 8 WHEN d.days <= 90 THEN 31 ELSE 91 END AS bucket_from
      FROM (SELECT p.account AS account, a.vendor AS vendor, p.currency AS currency,
                   p.total_net AS total_net, p.total_gross AS total_gross, {days} AS days
            FROM proposals p LEFT JOIN accounts a ON a.account = p.account
            WHERE p.deleted_at IS NULL AND p.status IN {OPEN}) d) o
GROUP BY o.account, o.vendor, o.currency, o.bucket, o.bucket_from"""


def line_item_revenue(dialect: str) -> str:
    return f"""
CREATE VIEW line_item_revenue AS
SELECT r.currency AS currency, r.sku AS sku, r.name AS name, r.proposals AS proposals,
       r.quantity AS quantity, r.quoted_net AS quoted_net, r.revenue_net AS revenue_net,
       RANK() OVER (PARTITION BY r.currency
                    ORDER BY r.revenue_net DESC, COALESCE(r.quoted_net, 0) DESC) AS revenue_rank
FROM (SELECT p.currency AS currency, li.sku AS sku, li.name AS name,
             COUNT(DISTINCT li.proposal_id) AS proposals,
             ROUND(SUM(li.quantity), 4) AS quantity,
             ROUND(SUM(li.total_net), 4) AS quoted_net,
             ROUND(COALESCE(SUM(CASE WHEN p.status IN {WON} THEN li.total_net END), 0), 4)
                 AS revenue_net
      FROM line_items li JOIN proposals p ON p.id = li.proposal_id
      WHERE li.deleted_at IS NULL AND p.deleted_at IS NULL
        AND (li.optional IS NULL OR li.optional = FALSE)
      GROUP BY p.currency, li.sku, li.name) r"""


# canonical table -> (the column that names a row, the vendor's modification time or NULL)
LABELS = {
    "companies": ("name", "updated_at"),
    "contacts": ("full_name", "updated_at"),
    "proposals": ("title", "updated_at"),
    "line_items": ("name", None),
}


def recent_changes(dialect: str) -> str:
    no_time = "CAST(NULL AS TIMESTAMP WITH TIME ZONE)"
    parts: list[str] = []
    for table, (label, modified) in LABELS.items():
        vendor_time = f"t.{modified}" if modified else no_time
        parts.append(f"""
SELECT t.synced_at AS changed_at, t.account AS account, '{table}' AS entity, t.id AS row_id,
       t.remote_id AS remote_id, 'vendor' AS side,
       CASE WHEN t.deleted_at IS NULL THEN 'synced' ELSE 'deleted' END AS change,
       t.{label} AS label, {vendor_time} AS vendor_updated_at
FROM {table} t WHERE t.synced_at IS NOT NULL""")
        parts.append(f"""
SELECT c.changed_at AS changed_at, t.account AS account, '{table}' AS entity, t.id AS row_id,
       t.remote_id AS remote_id, 'local' AS side,
       CASE WHEN c.op = 'insert' THEN 'created' ELSE 'edited' END AS change,
       t.{label} AS label, {vendor_time} AS vendor_updated_at
FROM change_log c JOIN {table} t ON t.id = c.row_id WHERE c.table_name = '{table}'""")
        parts.append(f"""
SELECT COALESCE(o.updated_at, o.created_at) AS changed_at, o.account AS account,
       '{table}' AS entity, o.row_id AS row_id, COALESCE(t.remote_id, o.result_remote_id)
       AS remote_id, 'local' AS side, o.kind || ' ' || o.status AS change,
       t.{label} AS label, {vendor_time} AS vendor_updated_at
FROM outbox o LEFT JOIN {table} t ON t.id = o.row_id WHERE o.entity = '{table}'""")
    return "CREATE VIEW recent_changes AS" + "\nUNION ALL".join(parts)


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("vendor", sa.String(length=50), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("account", name=op.f("pk_accounts")),
    )
    dialect = op.get_bind().dialect.name
    for build in (pipeline, win_rate, open_proposals_ageing, line_item_revenue, recent_changes):
        op.execute(build(dialect))


def downgrade() -> None:
    for view in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {view}")
    op.drop_table("accounts")
