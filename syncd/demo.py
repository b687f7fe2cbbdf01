"""`syncd demo` / `make demo`: the product in one minute, against the bundled sandboxes.

Starts every vendor sandbox on loopback with seeded data, writes `syncd-demo.toml`, backfills
into an embedded SQLite file, then shows two-way sync for real: a local SQL edit pushed and
visible in the sandbox, a remote edit arriving, and a conflict detected and listed. The
sandboxes and the accounts share a raised rate limit (600/min) so the demo takes seconds;
`syncd sandbox` serves them at the vendors' real 30/min.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, text

from syncd.clock import SYSTEM_CLOCK
from syncd.db.session import Database
from syncd.db.tables import CANONICAL_TABLES, conflicts, proposals
from syncd.engine.accounts import record_vendors
from syncd.engine.pull import Puller
from syncd.engine.push import Pusher
from syncd.engine.reconcile import Reconciler
from syncd.engine.runtime import Runtime
from syncd.report_html import amount, render
from syncd.reporting import By, pipeline_rows, report_data
from syncd.sandbox import sandbox_class
from syncd.sandbox.base import Sandbox, ServedApp, serve
from syncd.settings import settings_from_dict
from syncd.vendors import connector_class, registered_vendors
from syncd.vendors.base import Op

DEMO_RPM = 600


def serve_sandboxes(
    *, port: int | None = None, proposals: int = 60, rpm: int = DEMO_RPM
) -> dict[str, tuple[Sandbox, ServedApp]]:
    """Every registered vendor's sandbox, seeded and served on 127.0.0.1."""
    served: dict[str, tuple[Sandbox, ServedApp]] = {}
    for offset, vendor in enumerate(registered_vendors()):
        box = sandbox_class(vendor)(requests_per_minute=rpm)
        box.seed_data(companies=max(5, proposals // 6), proposals=proposals, max_items=8, seed=42)
        served[vendor] = (box, serve(box, port=(port + offset) if port else None))
    return served


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_settings(path: Path, db_url: str, accounts: list[dict[str, Any]]) -> None:
    """A settings file a user can reuse with the other commands while the demo runs."""
    lines = ["[database]", f"url = {_toml_value(db_url)}", "", "[sync]",
             'conflict_policy = "manual"', ""]
    for account in accounts:
        lines.append("[[accounts]]")
        for key, value in account.items():
            if not isinstance(value, dict):
                lines.append(f"{key} = {_toml_value(value)}")
        for table in ("auth", "paths"):
            if account.get(table):
                lines.append(f"[accounts.{table}]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in account[table].items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def run_demo(console: Console, *, db_path: str = "syncd-demo.db", proposals: int = 60,
             html_path: str = "syncd-demo-report.html") -> int:
    """Serve the sandboxes, sync them into a fresh database and write the report: syncd in a minute."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db_path + suffix):
            os.remove(db_path + suffix)
    console.rule("syncd demo")
    served = serve_sandboxes(proposals=proposals)
    accounts = []
    for vendor, (box, _app) in served.items():
        entry = box.account_entry(f"demo-{vendor}")
        entry["requests_per_minute"] = DEMO_RPM
        if box.demo_currency:  # this vendor's API carries no currency
            entry["currency"] = box.demo_currency
        accounts.append(entry)
        console.print(f"sandbox [bold]{vendor}[/] at {box.base_url()}")
    db_url = f"sqlite:///{db_path}"
    write_settings(Path("syncd-demo.toml"), db_url, accounts)
    settings = settings_from_dict({"database": {"url": db_url}, "accounts": accounts})
    db = Database(db_url)
    db.upgrade()
    with db.begin() as conn:
        record_vendors(conn, settings, SYSTEM_CLOCK.now())
    rt = Runtime(settings=settings, db=db, clock=SYSTEM_CLOCK)
    failed = 0
    console.rule("1. backfill every account")
    for account in settings.accounts:
        result = Puller(rt, rt.account(account.name)).run(sweep=True, kind="backfill")
        spent = rt.account(account.name).client.transport
        console.print(f"{account.name}: {result.total('records')} records, "
                      f"{spent.requests_sent} requests, {spent.too_many} × 429"
                      + ("" if result.ok else f"  [red]{result.errors}[/]"))
        failed += 0 if result.ok else 1
    _counts(console, db)
    console.rule("2. two-way sync")
    failed += _two_way(console, rt, served)
    _sample(console, db)
    console.rule("3. pipeline report (from the reporting views, per currency)")
    console.print(f"mirror: [bold]{db_path}[/]  settings: syncd-demo.toml "
                  "(try: .venv/bin/syncd --config syncd-demo.toml status, "
                  "or ... report --by month)")
    _report(console, db, Path(html_path))
    rt.close()
    for _box, app in served.values():
        app.stop()
    return 0 if failed == 0 else 1


def _report(console: Console, db: Database, html_path: Path) -> None:
    """`syncd report` by account, one row per account and currency, and the HTML page."""
    with db.begin() as conn:
        rows = pipeline_rows(conn, By.account)
        page = report_data(conn)
    table = Table("account", "currency", "proposals", "total", "basis")
    for r in rows:
        table.add_row(r["account"], r["currency"] or "-", str(r["proposals"]),
                      amount(r["total"]), r["total_basis"] or "-")
    console.print(table)
    html_path.write_text(render(page, SYSTEM_CLOCK.now()), encoding="utf-8")
    console.print(f"HTML report with charts: [bold]{html_path}[/] (open it in a browser; "
                  "the views behind it are described in docs/reporting.md)")


def _counts(console: Console, db: Database) -> None:
    table = Table("account", *CANONICAL_TABLES)
    with db.begin() as conn:
        names = [r[0] for r in conn.execute(select(proposals.c.account).distinct())]
        for name in sorted(names):
            cells = []
            for t in CANONICAL_TABLES.values():
                cells.append(str(conn.execute(select(func.count()).select_from(t).where(
                    t.c.account == name, t.c.deleted_at.is_(None))).scalar_one()))
            table.add_row(name, *cells)
    console.print(table)


def _sample(console: Console, db: Database) -> None:
    table = Table("account", "number", "title", "status", "currency", "total")
    with db.begin() as conn:
        for account_name in [r[0] for r in conn.execute(select(proposals.c.account).distinct())]:
            for row in conn.execute(
                select(proposals).where(proposals.c.account == account_name,
                                        proposals.c.deleted_at.is_(None))
                .order_by(proposals.c.id).limit(2)
            ).mappings():
                table.add_row(account_name, str(row["number"] or "-"), str(row["title"])[:40],
                              str(row["status"]), str(row["currency"] or "-"),
                              _total(row))
    console.print(table)


def _total(row: Any) -> str:
    """Gross where the vendor gives it, else net, saying so (Happyoffer has one net total)."""
    if row["total_gross"] is not None:
        return amount(row["total_gross"])
    return f"{amount(row['total_net'])} (net)" if row["total_net"] is not None else "-"


def _editable(rt: Runtime, account: str) -> dict[str, Any] | None:
    """A proposal whose title change the vendor takes: planned for real, then rolled back."""
    connector = rt.account(account).connector
    if connector.capability(connector_entity(), Op.UPDATE) is not None:
        return None
    with rt.db.begin() as conn:
        rows = conn.execute(
            select(proposals).where(proposals.c.account == account,
                                    proposals.c.deleted_at.is_(None),
                                    proposals.c.status.in_(("draft", "sent")))
            .order_by(proposals.c.id).limit(20)).mappings().all()
    for row in rows:
        conn = rt.db.engine.connect()
        trans = conn.begin()
        try:
            conn.execute(text("UPDATE proposals SET title = 'probe' WHERE id = :i"),
                         {"i": row["id"]})
            plans = Reconciler(rt.account(account), SYSTEM_CLOCK.now()).preview(conn)
        finally:
            trans.rollback()
            conn.close()
        if plans and all(p.status == "pending" for p in plans):
            return dict(row)
    return None


def connector_entity() -> Any:
    """The entity the demo pushes, imported late so the demo module stays light."""
    from syncd.canonical import Entity

    return Entity.PROPOSALS


def _two_way(console: Console, rt: Runtime, served: dict[str, tuple[Sandbox, ServedApp]]) -> int:
    failures = 0
    for vendor, (box, _app) in served.items():
        name = f"demo-{vendor}"
        row = _editable(rt, name)
        if row is None:
            reason = connector_class(vendor)(rt.settings.account(name)).capability(
                connector_entity(), Op.UPDATE)
            console.print(f"{name}: proposals are not editable through this vendor's API "
                          f"({reason or 'no open proposal'}); skipping the push demo")
            continue
        pusher = Pusher(rt, rt.account(name))
        title = f"Edited in the mirror #{row['id']}"
        with rt.db.begin() as conn:  # what a user does in their SQL client
            conn.execute(text("UPDATE proposals SET title = :t WHERE id = :i"),
                         {"t": title, "i": row["id"]})
        before = rt.account(name).client.transport.requests_sent
        pushed = pusher.run()
        spent = rt.account(name).client.transport.requests_sent - before
        at_vendor = box.proposal_title(row["remote_id"])
        ok = at_vendor == title
        failures += 0 if ok else 1
        console.print(f"{name}: SQL UPDATE of proposal {row['remote_id']} pushed with "
                      f"{spent} request(s); vendor now has title {at_vendor!r} "
                      + ("[green]✓[/]" if ok else f"[red]✗ {pushed.refused}[/]"))
        box.remote_edit_title(row["remote_id"], "Changed at the vendor")
        Puller(rt, rt.account(name)).run(sweep=False)
        with rt.db.begin() as conn:
            arrived = conn.execute(select(proposals.c.title).where(
                proposals.c.id == row["id"])).scalar()
        console.print(f"{name}: remote edit arrived in the mirror: {arrived!r}")
        with rt.db.begin() as conn:
            conn.execute(text("UPDATE proposals SET title = 'Local wording' WHERE id = :i"),
                         {"i": row["id"]})
        box.remote_edit_title(row["remote_id"], "Vendor wording")
        Puller(rt, rt.account(name)).run(sweep=False)
        with rt.db.begin() as conn:
            found = conn.execute(select(conflicts).where(
                conflicts.c.account == name, conflicts.c.status == "open")).mappings().all()
        for c in found:
            console.print(f"{name}: conflict #{c['id']} on {c['entity']}.{c['field']}: "
                          f"local {c['local_value']!r} vs remote {c['remote_value']!r} "
                          "(syncd conflicts resolve ID --keep local|remote)")
        failures += 0 if found else 1
    return failures
