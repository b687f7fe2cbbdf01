"""What `syncd report` (and the demo's report) reads: the reporting views, never the tables.

The views (migration 0005, docs/reporting.md) do the grouping in SQL, so a user's own query
and this report agree. They are declared here as lightweight `table()` constructs, outside
the tables' MetaData so `create_all` never makes them tables, with the column types that
turn SQLite's REAL sums back into exact 4-decimal `Decimal`s.

Every money figure stays next to its currency: a `--by` roll-up groups by the chosen
dimension *and* currency, so totals of different currencies are never added.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Integer, Numeric, String, case, cast, column, func, select, table
from sqlalchemy.sql.elements import ColumnElement

from syncd.db.tables import Money
from syncd.engine.values import norm

Text = String()

pipeline = table(
    "pipeline",
    column("account", Text), column("vendor", Text), column("month", Text),
    column("status", Text), column("currency", Text), column("proposals", Integer),
    column("total_net", Money), column("total_gross", Money), column("total", Money),
    column("total_basis", Text), column("without_total", Integer),
)
win_rate = table(
    "win_rate",
    column("account", Text), column("vendor", Text), column("month", Text),
    column("decided", Integer), column("accepted", Integer), column("lost", Integer),
    column("rate", Numeric(9, 4)),
)
open_proposals_ageing = table(
    "open_proposals_ageing",
    column("account", Text), column("vendor", Text), column("currency", Text),
    column("bucket", Text), column("bucket_from", Integer), column("proposals", Integer),
    column("total_net", Money), column("total_gross", Money), column("total", Money),
    column("total_basis", Text), column("without_total", Integer),
    column("oldest_days", Integer),
)
line_item_revenue = table(
    "line_item_revenue",
    column("currency", Text), column("sku", Text), column("name", Text),
    column("proposals", Integer), column("quantity", Money), column("quoted_net", Money),
    column("revenue_net", Money), column("revenue_rank", Integer),
)


class By(StrEnum):
    """The one dimension a `syncd report --by` roll-up keeps (with currency)."""

    month = "month"
    status = "status"
    account = "account"


def _basis_case(basis: ColumnElement[Any]) -> ColumnElement[Any]:
    """The `total_basis` of several view rows: theirs when they agree, else 'mixed'."""
    kinds = func.count(basis.distinct())
    return case((kinds == 0, None), (kinds == 1, func.min(basis)), else_="mixed")


def pipeline_rows(conn: Connection, *by: By, currency: str | None = None) -> list[dict[str, Any]]:
    """The `pipeline` view, whole (account, vendor, month, status, currency) or rolled up
    to the `by` dimensions and currency; optionally one currency only. JSON-ready values.
    """
    v = pipeline.c
    if not by:
        keys: list[Any] = [v.account, v.vendor, v.month, v.status, v.currency]
        query = select(*keys, v.proposals, v.total_net, v.total_gross, v.total,
                       v.total_basis, v.without_total)
    else:
        keys = [*(v[str(b)] for b in by), v.currency]
        query = select(
            *keys, cast(func.sum(v.proposals), Integer).label("proposals"),
            func.sum(v.total_net).label("total_net"),
            func.sum(v.total_gross).label("total_gross"), func.sum(v.total).label("total"),
            _basis_case(v.total_basis).label("total_basis"),
            cast(func.sum(v.without_total), Integer).label("without_total"),
        ).group_by(*keys)
    if currency is not None:
        query = query.where(v.currency == currency)
    rows = conn.execute(query.order_by(*(k.asc().nulls_last() for k in keys))).mappings().all()
    return [_json_row(r) for r in rows]


def win_rate_rows(conn: Connection) -> list[dict[str, Any]]:
    """`win_rate` per account and month."""
    v = win_rate.c
    rows = conn.execute(select(win_rate).order_by(v.account, v.month)).mappings().all()
    return [_json_row(r) for r in rows]


def monthly_win_rate(conn: Connection) -> list[dict[str, Any]]:
    """All accounts together, per month (what the HTML chart draws)."""
    v = win_rate.c
    rows = conn.execute(
        select(v.month, func.sum(v.decided).label("decided"),
               func.sum(v.accepted).label("accepted"))
        .group_by(v.month).order_by(v.month)).mappings().all()
    return [{"month": r["month"], "decided": int(r["decided"]), "accepted": int(r["accepted"]),
             "rate": norm((Decimal(int(r["accepted"])) / int(r["decided"])).quantize(
                 Decimal("0.0001")))} for r in rows]


def ageing_rows(conn: Connection, currency: str | None = None) -> list[dict[str, Any]]:
    """`open_proposals_ageing`, youngest bucket first."""
    v = open_proposals_ageing.c
    query = select(open_proposals_ageing).order_by(v.account, v.currency, v.bucket_from)
    if currency is not None:
        query = query.where(v.currency == currency)
    return [_json_row(r) for r in conn.execute(query).mappings().all()]


def top_products(conn: Connection, limit: int = 5,
                 currency: str | None = None) -> list[dict[str, Any]]:
    """`line_item_revenue`: the first `limit` ranks of each currency."""
    v = line_item_revenue.c
    query = (select(line_item_revenue).where(v.revenue_rank <= limit)
             .order_by(v.currency, v.revenue_rank, v.name))
    if currency is not None:
        query = query.where(v.currency == currency)
    return [_json_row(r) for r in conn.execute(query).mappings().all()]


def report_data(conn: Connection, currency: str | None = None) -> dict[str, Any]:
    """Everything the HTML report shows, read from the views in one go."""
    return {
        "by_month_status": pipeline_rows(conn, By.month, By.status, currency=currency),
        "by_status": pipeline_rows(conn, By.status, currency=currency),
        "by_account": pipeline_rows(conn, By.account, currency=currency),
        "win_rate": monthly_win_rate(conn),
        "win_rate_accounts": win_rate_rows(conn),
        "ageing": ageing_rows(conn, currency),
        "top_products": top_products(conn, currency=currency),
    }


def _json_row(row: Any) -> dict[str, Any]:
    return {k: (v if isinstance(v, int) and not isinstance(v, bool) else norm(v))
            for k, v in dict(row).items()}

