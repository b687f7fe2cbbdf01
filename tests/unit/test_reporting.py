"""The reporting views (migration 0006) on SQLite and PostgreSQL, against known rows.

Every figure below is worked out by hand from the rows `known` inserts: a deleted proposal
and a deleted line item that would change each sum if they were counted, two currencies in
one account, a Happyoffer-style proposal with only a net total, and one with no total or
currency at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import insert, inspect, select, text

from syncd.db.session import MIGRATIONS, Database
from syncd.db.tables import accounts, line_items, outbox, proposals
from syncd.engine.accounts import record_vendors
from syncd.reporting import By, ageing_rows, pipeline_rows, top_products, win_rate_rows
from syncd.settings import settings_from_dict

NOW = datetime.now(UTC)
VIEWS = {"pipeline", "win_rate", "open_proposals_ageing", "line_item_revenue", "recent_changes"}


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T12:00:00+00:00")


def proposal(pid: int, account: str, status: str, currency: str | None, created: str,
             net: str | None, gross: str | None, **extra: Any) -> dict[str, Any]:
    return {"id": pid, "account": account, "remote_id": f"r{pid}", "title": f"P{pid}",
            "status": status, "currency": currency, "created_at": at(created),
            "total_net": Decimal(net) if net else None,
            "total_gross": Decimal(gross) if gross else None,
            "sync_rev": 1, "synced_at": NOW - timedelta(hours=pid), "sent_at": None,
            "decided_at": None, "deleted_at": None, **extra}


def item(iid: int, pid: int, sku: str, name: str, qty: str, net: str,
         **extra: Any) -> dict[str, Any]:
    return {"id": iid, "proposal_id": pid, "account": "a", "remote_id": f"i{iid}", "sku": sku,
            "name": name, "quantity": Decimal(qty), "total_net": Decimal(net),
            "optional": False, "deleted_at": None, "sync_rev": 1, **extra}


@pytest.fixture
def known(db_url: str) -> Iterator[Database]:
    db = Database(db_url)
    settings = settings_from_dict({"accounts": [
        {"name": "a", "vendor": "strawblond", "base_url": "http://127.0.0.1:1"},
        {"name": "b", "vendor": "happyoffer", "base_url": "http://127.0.0.1:2"}]})
    with db.begin() as conn:
        assert record_vendors(conn, settings, NOW) == 2
        assert record_vendors(conn, settings, NOW) == 0  # steady state: nothing written
        conn.execute(insert(proposals), [
            proposal(1, "a", "sent", "EUR", "2026-10-05", "100", "121",
                     sent_at=NOW - timedelta(days=3)),
            proposal(2, "a", "sent", "USD", "2026-10-20", "50", "60",
                     sent_at=NOW - timedelta(days=40)),
            proposal(3, "a", "accepted", "EUR", "2026-10-10", "200", "242",
                     decided_at=at("2026-11-02")),
            proposal(4, "a", "rejected", "EUR", "2026-10-11", "10", "12.1",
                     decided_at=at("2026-11-03")),
            proposal(5, "b", "accepted", "EUR", "2026-11-01", "300", None,
                     decided_at=at("2026-11-05")),
            proposal(6, "a", "sent", "EUR", "2026-10-05", "999", "999",
                     sent_at=NOW - timedelta(days=3), deleted_at=NOW),
            proposal(7, "b", "viewed", None, "2026-09-01", None, None,
                     sent_at=NOW - timedelta(days=100)),
        ])
        conn.execute(insert(line_items), [
            item(1, 3, "W", "Widget", "2", "150"),
            item(2, 3, "S", "Service", "1", "50"),
            item(3, 1, "W", "Widget", "1", "100"),
            item(4, 5, "S", "Service", "3", "300"),
            item(5, 3, "W", "Widget", "9", "1000", deleted_at=NOW),
            item(6, 3, "X", "Extra", "1", "40", optional=True),
            item(7, 6, "W", "Widget", "5", "500"),  # on the deleted proposal
        ])
        # a local create (remote_id NULL: the trigger logs it) and a planned push
        conn.execute(insert(proposals).values(id=8, account="a", title="Drafted in SQL",
                                              status="draft"))
        conn.execute(insert(outbox).values(
            account="a", entity="proposals", row_id=3, kind="update", method="PUT",
            path="/offers/r3", idempotency_key="k1", status="done", created_at=NOW,
            updated_at=NOW))
    yield db
    db.dispose()


def test_pipeline_groups_by_currency_and_says_which_total(known: Database) -> None:
    with known.begin() as conn:
        rows = pipeline_rows(conn)
    got = {(r["account"], r["vendor"], r["month"], r["status"], r["currency"]):
           (r["proposals"], r["total_net"], r["total_gross"], r["total"], r["total_basis"],
            r["without_total"]) for r in rows}
    assert got == {
        ("a", "strawblond", "2026-10", "sent", "EUR"): (1, "100", "121", "121", "gross", 0),
        ("a", "strawblond", "2026-10", "sent", "USD"): (1, "50", "60", "60", "gross", 0),
        ("a", "strawblond", "2026-10", "accepted", "EUR"): (1, "200", "242", "242", "gross", 0),
        ("a", "strawblond", "2026-10", "rejected", "EUR"): (1, "10", "12.1", "12.1", "gross", 0),
        ("a", "strawblond", None, "draft", None): (1, None, None, None, None, 1),
        # Happyoffer's one total is net: shown as the total, and said so
        ("b", "happyoffer", "2026-11", "accepted", "EUR"): (1, "300", None, "300", "net", 0),
        ("b", "happyoffer", "2026-09", "viewed", None): (1, None, None, None, None, 1),
    }


def test_roll_ups_never_add_two_currencies(known: Database) -> None:
    with known.begin() as conn:
        by_account = {(r["account"], r["currency"]): (r["proposals"], r["total"],
                                                      r["total_basis"])
                      for r in pipeline_rows(conn, By.account)}
        by_status = {(r["status"], r["currency"]): (r["total"], r["total_basis"])
                     for r in pipeline_rows(conn, By.status, currency="EUR")}
    assert by_account == {("a", "EUR"): (3, "375.1", "gross"), ("a", "USD"): (1, "60", "gross"),
                          ("a", None): (1, None, None),
                          ("b", "EUR"): (1, "300", "net"), ("b", None): (1, None, None)}
    assert by_status == {("accepted", "EUR"): ("542", "mixed"), ("rejected", "EUR"):
                         ("12.1", "gross"), ("sent", "EUR"): ("121", "gross")}


def test_win_rate_per_account_and_month_of_decision(known: Database) -> None:
    with known.begin() as conn:
        rows = win_rate_rows(conn)
    assert [(r["account"], r["month"], r["decided"], r["accepted"], r["lost"],
             Decimal(r["rate"])) for r in rows] == [
        ("a", "2026-11", 2, 1, 1, Decimal("0.5")), ("b", "2026-11", 1, 1, 0, Decimal("1"))]


def test_open_proposals_age_in_buckets_of_days_since_sent(known: Database) -> None:
    with known.begin() as conn:
        rows = ageing_rows(conn)
    assert [(r["account"], r["currency"], r["bucket"], r["proposals"], r["total"],
             r["oldest_days"]) for r in rows] == [
        ("a", "EUR", "0-7", 1, "121", 3), ("a", "USD", "31-90", 1, "60", 40),
        ("b", None, "91+", 1, None, 100)]


def test_line_item_revenue_ranks_products_per_currency(known: Database) -> None:
    with known.begin() as conn:
        rows = top_products(conn)
    assert [(r["currency"], r["revenue_rank"], r["sku"], r["proposals"], r["quantity"],
             r["quoted_net"], r["revenue_net"]) for r in rows] == [
        ("EUR", 1, "S", 2, "4", "350", "350"), ("EUR", 2, "W", 2, "3", "250", "150")]


def test_recent_changes_shows_vendor_writes_local_edits_and_pushes(known: Database) -> None:
    with known.begin() as conn:
        rows = conn.execute(text(
            "SELECT entity, row_id, side, change, label FROM recent_changes "
            "WHERE entity = 'proposals' ORDER BY side, change, row_id")).all()
    assert [tuple(r) for r in rows] == [
        ("proposals", 8, "local", "created", "Drafted in SQL"),
        ("proposals", 3, "local", "update done", "P3"),
        ("proposals", 6, "vendor", "deleted", "P6"),
        *[("proposals", i, "vendor", "synced", f"P{i}") for i in (1, 2, 3, 4, 5, 7)],
    ]
    with known.begin() as conn:
        newest = conn.execute(text(
            "SELECT row_id FROM recent_changes WHERE side = 'vendor' "
            "ORDER BY changed_at DESC LIMIT 1")).scalar()
    assert newest == 1  # synced an hour ago: the most recent vendor-side write


def test_downgrade_drops_the_views_and_upgrade_restores_them(known: Database) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with known.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")
    assert not VIEWS & set(inspect(known.engine).get_view_names())
    assert "accounts" not in inspect(known.engine).get_table_names()
    known.upgrade()
    assert set(inspect(known.engine).get_view_names()) >= VIEWS
    with known.begin() as conn:
        assert conn.execute(select(accounts)).all() == []


def doc_queries(dialect: str) -> list[str]:
    """The SQL of docs/reporting.md a user would paste: the statements of every ```sql
    block, those under a `-- SQLite` / `-- PostgreSQL` line only for that database."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "reporting.md").read_text()
    found: list[str] = []
    for block in re.findall(r"```sql\n(.*?)```", doc, flags=re.S):
        only: str | None = None
        lines: list[str] = []
        for line in block.splitlines():
            marker = line.strip().lower()
            if marker in ("-- sqlite", "-- postgresql"):
                only = marker[3:]
                continue
            if marker.startswith("--"):
                continue
            lines.append(line)
            if line.rstrip().endswith(";"):
                if only in (None, dialect):
                    found.append("\n".join(lines))
                lines = []
    return found


def test_every_query_in_the_docs_runs(known: Database) -> None:
    queries = doc_queries(known.dialect)
    assert len(queries) >= 9
    with known.begin() as conn:
        for query in queries:
            conn.execute(text(query)).all()
