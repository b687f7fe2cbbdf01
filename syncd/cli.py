"""The `syncd` command line: parse, call the engine, print, exit with the documented code.

Exit codes: 0 success, 1 some account or record failed (the summary says which and why),
2 bad usage or bad settings (the message names the key).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select, update

from syncd import logs, report_html, reporting
from syncd.clock import SYSTEM_CLOCK
from syncd.db.session import Database
from syncd.db.tables import CANONICAL_TABLES, conflicts, outbox
from syncd.engine import deletes as held_deletes
from syncd.engine import quarantine_ops
from syncd.engine.accounts import record_vendors
from syncd.engine.drift_log import not_interpreted
from syncd.engine.outbox_list import OutboxStatus, outbox_entries
from syncd.engine.pull import Puller, PullResult
from syncd.engine.push import Pusher, PushResult, resolve_before_pull
from syncd.engine.remap import RemapResult, remap_accounts, retry_quarantined
from syncd.engine.runtime import Runtime
from syncd.engine.status import account_status, drift_report
from syncd.engine.store import MirrorWriter
from syncd.engine.verify import verify_accounts
from syncd.engine.webhooks import register as register_webhooks
from syncd.errors import SettingsError, SyncdError
from syncd.reporting import By
from syncd.settings import Settings, load_settings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Bidirectional sync between quoting SaaS vendors and one SQL mirror.")
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
conflicts_app = typer.Typer(help="Inspect and settle conflicts.", no_args_is_help=True)
webhooks_app = typer.Typer(help="Vendor webhook subscriptions.", no_args_is_help=True)
quarantine_app = typer.Typer(help="Records syncd could not identify or read, kept aside.",
                             no_args_is_help=True)
deletes_app = typer.Typer(help="Deletions held by the guard against false mass deletion.",
                          no_args_is_help=True)
outbox_app = typer.Typer(help="Planned writes and what became of them.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(conflicts_app, name="conflicts")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(quarantine_app, name="quarantine")
app.add_typer(deletes_app, name="deletes")
app.add_typer(outbox_app, name="outbox")
console = Console()
err = Console(stderr=True)


class Format(StrEnum):
    """How a listing command prints: a table for people, JSON for scripts."""
    table = "table"
    json = "json"


class Keep(StrEnum):
    """Which side a conflict resolution keeps."""
    local = "local"
    remote = "remote"


class _State:
    config: str | None = None
    quiet: bool = False
    log_format: str = "text"


STATE = _State()
AccountOpt = Annotated[list[str] | None, typer.Option("--account", "-a", help="Account name (repeatable).")]
FormatOpt = Annotated[Format, typer.Option("--format", help="table or json")]


@app.callback()
def _main(
    config: Annotated[str | None, typer.Option("--config", envvar="SYNCD_CONFIG",
                                               help="Settings file (default ./settings.toml).")] = None,
    log_format: Annotated[str, typer.Option("--log-format", help="text or json")] = "text",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    STATE.config = config
    STATE.quiet = quiet
    if log_format not in ("text", "json"):
        raise SettingsError("--log-format", "must be text or json")
    STATE.log_format = log_format
    logs.setup(log_format)


def settings() -> Settings:
    """The settings file, its secrets registered for masking (secrets only: an OAuth host or
    a user name in `[accounts.auth]` stays readable in every log line).
    """
    loaded = load_settings(STATE.config)
    for account in loaded.accounts:
        for secret in account.secret_values():
            logs.REDACT.add(secret)
    return loaded


def runtime(loaded: Settings) -> Runtime:
    """The runtime a command works in, with the schema current and each account's vendor recorded."""
    db = Database(loaded.database.url, loaded.database.pool_size)
    db.upgrade()
    with db.begin() as conn:  # the reporting views name each account's vendor
        record_vendors(conn, loaded, SYSTEM_CLOCK.now())
    return Runtime(settings=loaded, db=db, clock=SYSTEM_CLOCK)


def _names(loaded: Settings, accounts: list[str] | None) -> list[str]:
    return [a.name for a in loaded.selected(accounts)]


def _emit(data: Any, fmt: Format, table: Table | None) -> None:
    if fmt == Format.json or table is None:
        console.print_json(json.dumps(data, default=str))
    else:
        console.print(table)


# ---- db ------------------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply Alembic migrations to the configured database (idempotent)."""
    loaded = settings()
    Database(loaded.database.url, loaded.database.pool_size).upgrade()
    console.print("database is at the latest schema")


# ---- pulls ---------------------------------------------------------------------------------
def pull_with_progress(rt: Runtime, names: list[str], *, sweep: bool, kind: str) -> list[PullResult]:
    """Pull accounts concurrently (each has its own budget), one progress line per account."""
    interactive = console.is_terminal and not STATE.quiet
    results: list[PullResult] = []
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                  console=console, disable=not interactive, transient=False) as progress:
        tasks = {n: progress.add_task(n, total=None, info="starting") for n in names}
        lock = threading.Lock()

        def report(account: str, stream: str, records: int, requests: int,
                   pages_left: int | None = None) -> None:
            acct = rt.account(account)
            wait = acct.budget.seconds_until_available()
            rate = acct.settings.requests_per_minute
            eta = ""
            if pages_left is not None:
                # the budget, not the network, sets the pace: pages left / allowed rate
                eta = f" · ETA {pages_left / rate:.1f} min for {pages_left} pages of {stream}"
            info = (f"{stream}: {records} records · {requests} requests · budget {rate}/min"
                    + eta + (f" · next slot in {wait:.0f}s" if wait > 1 else ""))
            with lock:  # one whole line at a time: accounts pull on parallel threads
                progress.update(tasks[account], info=info)
                if not interactive:
                    sys.stdout.write(f"{account} {info}\n")
                    sys.stdout.flush()

        def one(name: str) -> PullResult:
            result = Puller(rt, rt.account(name), report).run(sweep=sweep, kind=kind)
            progress.update(tasks[name], info="done" if result.ok else "failed", total=1,
                            completed=1)
            return result

        with ThreadPoolExecutor(max_workers=max(1, min(len(names), 32))) as pool:
            results = list(pool.map(one, names))
    return results


def _pull_summary(rt: Runtime, results: list[PullResult]) -> bool:
    """One line per account; the records this run quarantined are named under it (a
    quarantined record is a failed record: exit 1). False when anything failed.
    """
    ok = True
    for r in results:
        line = (f"{r.account}: {r.total('records')} records, {r.total('details')} detail calls, "
                f"{r.total('quarantined')} quarantined, {r.total('deleted')} deleted")
        unread = not_interpreted(r.drift())
        if unread:
            line += f", {unread} values not interpreted"
        if r.ok and not r.total("quarantined"):
            console.print(f"[green]✓[/] {line}", highlight=False)
            continue
        ok = False
        errors = f"; errors: {'; '.join(r.errors)}" if not r.ok else ""
        console.print(f"[red]✗[/] {line}{errors}", highlight=False, soft_wrap=True)
        for entry in _quarantined_now(rt, r):
            rid = entry["remote_id"] or quarantine_ops.NO_ID
            console.print(f"  quarantined {entry['stream']} {rid} (#{entry['id']}): "
                          f"{logs.REDACT(entry['error'][:300])}",
                          markup=False, highlight=False, soft_wrap=True)
    _held_summary(rt, [r.account for r in results])
    return ok


def _held_summary(rt: Runtime, names: list[str]) -> None:
    """A line per account with deletions the guard holds (not a failure: nothing was
    deleted, the user decides).
    """
    with rt.db.begin() as conn:
        held = held_deletes.pending_counts(conn)
    for name in names:
        if held.get(name):
            what = ", ".join(f"{n} {entity}" for entity, n in held[name].items())
            console.print(f"[yellow]![/] {name}: {what} missing from a complete scan, held "
                          "(too many at once to trust): `syncd deletes list`, then `syncd "
                          f"deletes confirm --account {name}`", highlight=False, soft_wrap=True)


def _quarantined_now(rt: Runtime, result: PullResult) -> list[dict[str, Any]]:
    with rt.db.begin() as conn:
        return [entry for s in result.streams if s.quarantined_ids
                for entry in quarantine_ops.named(conn, result.account, s.stream,
                                                  s.quarantined_ids)]


def _drift_summary(results: list[PullResult]) -> None:
    """The closing line when a pull met drift: values it could not interpret (status or
    type words no table lists, values it stored as NULL), else a quieter line for values
    read with another type or fields syncd does not know (kept in raw).
    """
    per_account = [r.drift() for r in results]
    failed = sum(not_interpreted(c) for c in per_account)
    if failed:
        console.print(f"{failed} values could not be interpreted: run `syncd drift`",
                      markup=False, highlight=False, soft_wrap=True)
        return
    other = sum(sum(c.values()) for c in per_account)
    if other:
        console.print(f"{other} values were read in another form or came in fields syncd "
                      "does not map (kept in raw): see `syncd drift`", markup=False,
                      highlight=False, soft_wrap=True)


@app.command()
def backfill(account: AccountOpt = None) -> None:
    """Full pull of every stream; a re-run after a crash continues from the last page."""
    loaded = settings()
    rt = runtime(loaded)
    for name in _names(loaded, account):  # lost creates first: the pull must link, not copy
        resolve_before_pull(rt, name)
    results = pull_with_progress(rt, _names(loaded, account), sweep=True, kind="backfill")
    ok = _pull_summary(rt, results)
    _drift_summary(results)
    raise typer.Exit(0 if ok else 1)


@app.command()
def sync(account: AccountOpt = None) -> None:
    """One cycle: incremental pull, reconcile, push; then exit (for cron)."""
    loaded = settings()
    rt = runtime(loaded)
    names = _names(loaded, account)
    # settle the outbox left by an earlier run first; reconcile only after the pull, so a
    # field changed on both sides since the last cycle is a conflict, not a silent overwrite
    pushes = [Pusher(rt, rt.account(n)).run(reconcile=False, in_doubt=True) for n in names]
    results = pull_with_progress(rt, names, sweep=False, kind="pull")
    ok = _pull_summary(rt, results)
    # an account whose pull did not complete has no fresh remote view: its local edits
    # wait for the next sync (what is already planned is still sent)
    fresh = {r.account: r.ok for r in results}
    for name in names:
        if not fresh.get(name, True):
            console.print(f"{name}: pull incomplete, local changes wait for the next sync")
    pushes += [Pusher(rt, rt.account(n)).run(reconcile=fresh.get(n, True)) for n in names]
    ok = _push_summary(pushes) and ok
    _drift_summary(results)
    raise typer.Exit(0 if ok else 1)


@app.command()
def verify(
    account: AccountOpt = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", min=1, help="Verify at most N records per account.")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Re-read the records a pull wrote from a snapshot (Automa's call log), using the
    budget as needed; the daemon does this in the background with spare budget only.
    """
    loaded = settings()
    rt = runtime(loaded)
    results = verify_accounts(rt, _names(loaded, account), limit=limit)
    data = [r.as_dict() for r in results]
    table = Table("account", "verified", "same", "changed", "deleted", "failed", "requests",
                  "unverified left")
    for r in data:
        table.add_row(r["account"], str(r["verified"]), str(r["same"]), str(r["changed"]),
                      str(r["deleted"]), str(r["failed"]), str(r["requests"]),
                      str(r["unverified_left"]))
    _emit(data, fmt, table)
    raise typer.Exit(1 if any(r["failed"] for r in data) else 0)


# ---- push ----------------------------------------------------------------------------------
def _push_summary(results: list[PushResult]) -> bool:
    ok = True
    for r in results:
        console.print(f"{r.account}: {r.done} pushed, {r.retrying} to retry, "
                      f"{len(r.refused)} refused")
        for reason in r.refused:
            ok = False
            console.print(f"  [red]refused[/]: {escape(reason)}", highlight=False, soft_wrap=True)
    return ok


@app.command()
def push(
    account: AccountOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print planned requests only.")] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Reconcile and push local changes."""
    loaded = settings()
    rt = runtime(loaded)
    names = _names(loaded, account)
    if dry_run:
        plans: list[dict[str, Any]] = []
        for name in names:
            for p in Pusher(rt, rt.account(name)).plan_only():
                plans.append({"account": name, "entity": p.entity, "row_id": p.row_id,
                              "kind": p.kind, "method": p.method, "path": p.path,
                              "body": p.body, "fields": p.fields, "status": p.status,
                              "reason": p.reason})
        table = Table("account", "entity", "row", "request", "fields", "status")
        for plan in plans:
            table.add_row(plan["account"], plan["entity"], str(plan["row_id"]),
                          f"{plan['method']} {plan['path']}", ",".join(plan["fields"]),
                          plan["status"] + (f" ({plan['reason']})" if plan["reason"] else ""))
        _emit(plans, fmt, table)
        return
    results = [Pusher(rt, rt.account(n)).run() for n in names]
    raise typer.Exit(0 if _push_summary(results) else 1)


# ---- status / report -----------------------------------------------------------------------
@app.command()
def status(fmt: FormatOpt = Format.table) -> None:
    """Per account: last pull/push, cursors, requests spent, outbox, conflicts, quarantine,
    drift (values kept but not fully interpreted: `syncd drift` lists them), and records
    written from a snapshot still unverified (`syncd verify`).
    """
    loaded = settings()
    rt = runtime(loaded)
    with rt.db.begin() as conn:
        data = account_status(conn, loaded, SYSTEM_CLOCK.time())
    table = Table("account", "vendor", "pulled", "pushed", "req/min", "req/h", "429",
                  "outbox", "confl", "quar", "drift", "held", "props", "unver")
    for a in data:
        table.add_row(a["account"], a["vendor"], _short_time(a["last_pull"]),
                      _short_time(a["last_push"]),
                      f"{a['requests_last_minute']}/{a['budget_per_minute']}",
                      str(a["requests_last_hour"]), str(a["responses_429"]),
                      str(a["outbox_pending"]), str(a["open_conflicts"]), str(a["quarantined"]),
                      str(a["drift"]), str(sum(a.get("pending_deletes", {}).values())),
                      str(a["rows"]["proposals"]), str(a["unverified"]))
    _emit(data, fmt, table)
    if fmt == Format.table:
        for a in data:
            for problem in a["push_problems"]:
                console.print(f"{a['account']}: {problem['kind']} {problem['entity']} "
                              f"{problem['status']}: {problem['reason']}",
                              markup=False, highlight=False, soft_wrap=True)


def _short_time(iso: str | None) -> str:
    """"2026-11-25T02:13:47.1+00:00" -> "11-25 02:13" (UTC), so the table fits a terminal."""
    return f"{iso[5:10]} {iso[11:16]}" if iso else "-"


class ReportFormat(StrEnum):
    """How `syncd report` prints: a table, JSON, or CSV for a spreadsheet."""
    table = "table"
    json = "json"
    csv = "csv"


@app.command()
def report(
    by: Annotated[By | None, typer.Option(
        "--by", help="Roll up to month, status or account (always per currency).")] = None,
    currency: Annotated[str | None, typer.Option(
        "--currency", help="Only proposals in this currency (ISO code, e.g. EUR).")] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="table, json or csv")]
        = ReportFormat.table,
    html_file: Annotated[Path | None, typer.Option(
        "--html", help="Also write a self-contained HTML report with charts to this file.")]
        = None,
) -> None:
    """The pipeline report from the `pipeline` view: proposals by account, status and month,
    totals per currency (gross where given, else net: `total_basis` says which).
    """
    loaded = settings()
    rt = runtime(loaded)
    with rt.db.begin() as conn:
        currency = currency.upper() if currency else None
        data = reporting.pipeline_rows(conn, *([by] if by else []), currency=currency)
        page = reporting.report_data(conn, currency) if html_file else None
    if fmt == ReportFormat.csv:
        _emit_csv(data)
    else:
        _emit(data, Format(fmt), _report_table(data, by))
    if html_file is not None and page is not None:
        html_file.write_text(report_html.render(page, SYSTEM_CLOCK.now()), encoding="utf-8")
        (err if fmt != ReportFormat.table else console).print(
            f"HTML report written to {html_file}", highlight=False)


def _report_table(data: list[dict[str, Any]], by: By | None) -> Table:
    keys = [str(by)] if by else ["account", "vendor", "month", "status"]
    table = Table(*keys, "currency", "proposals", "total", "basis", "net", "gross")
    for r in data:
        table.add_row(*(str(r[k] or "-") for k in keys), r["currency"] or "-",
                      str(r["proposals"]), report_html.amount(r["total"]),
                      r["total_basis"] or "-", report_html.amount(r["total_net"]),
                      report_html.amount(r["total_gross"]))
    return table


def _emit_csv(data: list[dict[str, Any]]) -> None:
    if not data:
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=list(data[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(data)


# ---- outbox --------------------------------------------------------------------------------
@outbox_app.command("list")
def outbox_list(
    account: AccountOpt = None,
    status_: Annotated[OutboxStatus | None, typer.Option(
        "--status", help="Only entries in this state (pending, done, refused, ...).")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Every planned write: its status, attempts, last error and the vendor's refusal."""
    loaded = settings()
    names = _names(loaded, account) if account else None
    rt = runtime(loaded)
    with rt.db.begin() as conn:
        data = outbox_entries(conn, names, status_.value if status_ else None, logs.REDACT)
    table = Table("id", "account", "entity", "row", "request", "fields", "status", "tries",
                  "updated", "refusal / last error")
    for e in data:
        table.add_row(str(e["id"]), e["account"], e["entity"], str(e["row_id"] or "-"),
                      f"{e['kind']} {e['method']} {e['path']}", ",".join(e["fields"]),
                      e["status"], str(e["attempts"]), _short_time(e["updated_at"]),
                      escape(e["refusal"] or e["last_error"] or ""))
    _emit(data, fmt, table)


# ---- conflicts -----------------------------------------------------------------------------
@conflicts_app.command("list")
def conflicts_list(fmt: FormatOpt = Format.table) -> None:
    """Open conflicts with base, local and remote values."""
    loaded = settings()
    rt = runtime(loaded)
    with rt.db.begin() as conn:
        rows = [dict(r) for r in conn.execute(
            select(conflicts).where(conflicts.c.status == "open").order_by(conflicts.c.id)
        ).mappings()]
    data = [{k: rows_v for k, rows_v in r.items() if k != "resolved_at"} for r in rows]
    table = Table("id", "account", "entity", "row", "remote id", "field", "base", "local", "remote")
    for r in data:
        table.add_row(str(r["id"]), r["account"], r["entity"], str(r["row_id"]),
                      str(r["remote_id"]), r["field"], str(r["base_value"]),
                      str(r["local_value"]), str(r["remote_value"]))
    _emit(data, fmt, table)


@conflicts_app.command("resolve")
def conflicts_resolve(
    conflict_id: Annotated[int, typer.Argument(metavar="ID")],
    keep: Annotated[Keep, typer.Option("--keep", help="local or remote")],
) -> None:
    """Settle a conflict: keep the local value (pushed next) or the remote one."""
    loaded = settings()
    rt = runtime(loaded)
    resolve_conflict(rt, conflict_id, keep.value)
    console.print(f"conflict {conflict_id} resolved, kept {keep.value}")


def resolve_conflict(rt: Runtime, conflict_id: int, keep: str) -> None:
    """Keeping local moves base to the remote value (so the local value is pushed);
    keeping remote writes the remote value into the mirror and base.
    """
    from syncd.db.tables import change_log
    from syncd.engine.values import denorm

    with rt.db.begin() as conn:
        c = conn.execute(select(conflicts).where(conflicts.c.id == conflict_id)).mappings().first()
        if c is None or c["status"] != "open":
            raise SettingsError("ID", f"no open conflict with id {conflict_id}")
        table = CANONICAL_TABLES[c["entity"]]
        row = conn.execute(select(table).where(table.c.id == c["row_id"])).mappings().one()
        base = dict(row["base"] or {})
        base[c["field"]] = c["remote_value"]
        values: dict[str, Any] = {"base": base, "sync_rev": row["sync_rev"] + 1}
        if keep == "remote":
            values[c["field"]] = denorm(c["field"], c["remote_value"])
        conn.execute(update(table).where(table.c.id == row["id"]).values(**values))
        if keep == "local":
            conn.execute(change_log.insert().values(table_name=c["entity"], row_id=row["id"],
                                                    op="update"))
        conn.execute(update(conflicts).where(conflicts.c.id == conflict_id).values(
            status="resolved", resolution=keep, resolved_at=SYSTEM_CLOCK.now()))
        # a push the conflict held goes out now (keep local) or is dropped (keep remote)
        conn.execute(update(outbox).where(
            outbox.c.entity == c["entity"], outbox.c.row_id == c["row_id"],
            outbox.c.status == "held").values(
                status="pending" if keep == "local" else "superseded", last_error=None))


# ---- drift / remap / quarantine --------------------------------------------------------------
@app.command("drift")
def drift_cmd(account: AccountOpt = None, fmt: FormatOpt = Format.table) -> None:
    """What vendors said that syncd kept but could not fully interpret, with the settings
    lines that map unknown status words and element types.
    """
    loaded = settings()
    names = _names(loaded, account)
    rt = runtime(loaded)
    with rt.db.begin() as conn:
        data = drift_report(conn, loaded, names)
    if fmt == Format.json:
        _emit(data, fmt, None)
        return
    if not data["drift"]:
        console.print("no drift: every value vendors sent was interpreted")
        return
    table = Table("account", "stream", "kind", "path", "example", "remote id", "count",
                  "first seen", "last seen")
    for r in data["drift"]:
        table.add_row(r["account"], r["stream"], r["kind"], r["path"],
                      str(r["example_value"] or ""), str(r["example_remote_id"] or ""),
                      str(r["count"]), _short_time(r["first_seen"]), _short_time(r["last_seen"]))
    console.print(table)
    _print_hints(data)


def _print_hints(data: dict[str, Any]) -> None:
    """The settings lines, grouped under the account whose [[accounts]] entry takes them."""
    status_hints, type_hints = data["status_hints"], data["line_item_type_hints"]
    if status_hints:
        console.print("\nUnmapped status words: in settings.toml, add to the account's "
                      "[[accounts]] entry the lines below, replacing <canonical status> by "
                      f"one of: {', '.join(data['canonical_statuses'])}; then run "
                      "`syncd remap`.", markup=False, highlight=False, soft_wrap=True)
        for name in dict.fromkeys(h["account"] for h in status_hints):
            console.print(f"\n# account {name!r}", markup=False, highlight=False, soft_wrap=True)
            console.print("[accounts.status_map]", markup=False, highlight=False, soft_wrap=True)
            for hint in (h for h in status_hints if h["account"] == name):
                done = (f"   # already mapped to {hint['mapped_to']}: run `syncd remap`"
                        if hint["mapped_to"] else "")
                console.print(hint["setting"] + done, markup=False, highlight=False, soft_wrap=True)
    if type_hints:
        console.print("\nUnknown element types (kept as line items when they carry a "
                      "quantity, a price or an amount): if they are priced lines, list them "
                      "in the account's [[accounts]] entry (above its [accounts.*] tables), "
                      "then run `syncd remap`.", markup=False, highlight=False, soft_wrap=True)
        for name in dict.fromkeys(h["account"] for h in type_hints):
            words = [h["word"] for h in type_hints if h["account"] == name]
            console.print(f"\n# account {name!r}\nline_item_types = ["
                          + ", ".join(json.dumps(w, ensure_ascii=False) for w in words) + "]",
                          markup=False, highlight=False, soft_wrap=True)


@app.command()
def remap(
    account: AccountOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compute and print; write nothing.")] = False,
    fmt: FormatOpt = Format.table,
) -> None:
    """Re-derive rows and line items from the vendor JSON already stored, with the current
    code and settings; sends no request. Also retries quarantined records.
    """
    loaded = settings()
    names = _names(loaded, account)
    rt = runtime(loaded)
    results = remap_accounts(rt, names, dry_run=dry_run)
    _remap_output(results, fmt, dry_run)
    raise typer.Exit(1 if any(r.quarantined for r in results) else 0)


def _remap_output(results: list[RemapResult], fmt: Format, dry_run: bool) -> None:
    if fmt == Format.json:
        _emit([r.as_json() for r in results], fmt, None)
        return
    verb = "would change" if dry_run else "changed"
    for r in results:
        tables = "; ".join(f"{t} {', '.join(f'{n} {a}' for a, n in c.items() if n)}"
                           for t, c in r.tables.items() if any(c.values())) or "no row"
        console.print(f"{r.account}: {r.records} records re-mapped, {verb}: {tables}"
                      + (f"; {r.conflicts} conflicts" if r.conflicts else ""),
                      markup=False, highlight=False, soft_wrap=True)
        if r.released:
            console.print(f"  {len(r.released)} quarantined records released: "
                          + ", ".join(f"#{e['id']} {e['stream']} {e['remote_id']}"
                                      for e in r.released), markup=False, highlight=False, soft_wrap=True)
        if r.held:
            console.print(f"  {len(r.held)} still quarantined: see `syncd quarantine list`",
                          markup=False, highlight=False, soft_wrap=True)
        for e in r.quarantined:
            console.print(f"  no longer maps, quarantined: {e['stream']} {e['remote_id']}: "
                          f"{logs.REDACT(e['error'][:300])}", markup=False, highlight=False, soft_wrap=True)
        if r.kept_pushed:
            console.print(f"  {r.kept_pushed} rows pushed since their vendor data was read "
                          "were left as they are (the next pull refreshes them)",
                          markup=False, highlight=False, soft_wrap=True)
        for stream, n in sorted(r.skipped.items()):
            console.print(f"  {stream}: {n} rows hold other data than the stream's record "
                          "and were not re-mapped", markup=False, highlight=False, soft_wrap=True)
        for stream, n in sorted(r.unverified.items()):
            console.print(f"  {stream}: {n} rows hold other data than the record last read; "
                          "re-mapped, their drift left as the pulls counted it",
                          markup=False, highlight=False, soft_wrap=True)
    if dry_run:
        console.print("dry run: nothing was written")


@deletes_app.command("list")
def deletes_list(account: AccountOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Deletions held back: records a complete scan missed when too many went at once."""
    loaded = settings()
    names = _names(loaded, account) if account else None
    rt = runtime(loaded)
    with rt.db.begin() as conn:
        data = held_deletes.pending_list(conn, names)
    table = Table("account", "entity", "remote id", "row", "stream", "scans", "missing since")
    for d in data:
        table.add_row(d["account"], d["entity"], d["remote_id"], str(d["row_id"] or "-"),
                      d["stream"], str(d["sweeps"]), _short_time(d["first_missing_at"]))
    _emit(data, fmt, table)


@deletes_app.command("confirm")
def deletes_confirm(
    account: Annotated[str, typer.Option("--account", "-a", help="The account whose held "
                                         "deletions to apply.")],
) -> None:
    """Apply an account's held deletions (rows and the rows that exist only through them)."""
    loaded = settings()
    name = _names(loaded, [account])[0]
    rt = runtime(loaded)
    with rt.db.begin() as conn:
        done = held_deletes.confirm(
            conn, MirrorWriter(name, loaded.sync.conflict_policy, rt.clock.now()))
    total = sum(done.values())
    what = ", ".join(f"{n} {entity}" for entity, n in done.items()) or "nothing held"
    console.print(f"{name}: {total} deleted ({what})", highlight=False)


@quarantine_app.command("list")
def quarantine_list(account: AccountOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Unresolved quarantined records: id, account, stream, remote id, error, when."""
    loaded = settings()
    names = _names(loaded, account) if account else None
    rt = runtime(loaded)
    with rt.db.begin() as conn:
        # an error may quote the value it could not read: never a secret
        data = [{**q, "error": logs.REDACT(q["error"])}
                for q in quarantine_ops.listed(conn, names)]
    table = Table("id", "account", "stream", "remote id", "error", "created")
    for q in data:
        table.add_row(str(q["id"]), q["account"], q["stream"],
                      q["remote_id"] or quarantine_ops.NO_ID, q["error"][:200],
                      _short_time(q["created_at"]))
    _emit(data, fmt, table)


@quarantine_app.command("show")
def quarantine_show(record_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """One quarantined record: its error and the payload the vendor sent (secrets masked)."""
    loaded = settings()
    rt = runtime(loaded)
    with rt.db.begin() as conn:
        entry = quarantine_ops.shown(conn, record_id, loaded)
    state = f"resolved {entry['resolved_at']}" if entry["resolved_at"] else "unresolved"
    console.print(f"#{entry['id']} {entry['account']} {entry['stream']} "
                  f"{entry['remote_id'] or quarantine_ops.NO_ID} ({state}, quarantined "
                  f"{entry['created_at']})", markup=False, highlight=False, soft_wrap=True)
    console.print(f"error: {entry['error']}", markup=False, highlight=False, soft_wrap=True)
    console.print(entry["raw"], markup=False, highlight=False, soft_wrap=True)


@quarantine_app.command("retry")
def quarantine_retry(
    record_ids: Annotated[list[int] | None, typer.Argument(metavar="[ID]...")] = None,
) -> None:
    """Map these quarantined records again (default: every unresolved one) with the current
    code and settings, from the payload kept; sends no request.
    """
    loaded = settings()
    rt = runtime(loaded)
    results = retry_quarantined(rt, record_ids or None)
    if not results:
        console.print("no quarantined record to retry")
        return
    for r in results:
        for e in r.released:
            console.print(f"released #{e['id']} {r.account} {e['stream']} {e['remote_id']}",
                          markup=False, highlight=False, soft_wrap=True)
        for e in r.held:
            rid = e["remote_id"] or quarantine_ops.NO_ID
            console.print(f"still quarantined #{e['id']} {r.account} {e['stream']} {rid}: "
                          f"{logs.REDACT(e['error'][:300])}", markup=False, highlight=False, soft_wrap=True)
    released = sum(len(r.released) for r in results)
    held = sum(len(r.held) for r in results)
    console.print(f"{released} released, {held} still quarantined")
    raise typer.Exit(1 if held else 0)


# ---- daemon / webhooks --------------------------------------------------------------------
@app.command()
def run() -> None:
    """The long-running daemon: scheduled pulls, continuous push, webhooks, /healthz, /metrics."""
    from syncd.engine.daemon import Daemon

    loaded = settings()
    rt = runtime(loaded)
    Daemon(rt, lease_ttl=loaded.sync.lease_ttl_seconds).run_forever()


@webhooks_app.command("register")
def webhooks_register(
    account: Annotated[str, typer.Option("--account", "-a", help="Account name.")],
) -> None:
    """Create (or update) the vendor-side webhook subscription pointing at this daemon.

    Safe to re-run: subscriptions the vendor already has are reported "already subscribed"
    and not created again.
    """
    loaded = settings()
    loaded.account(account)
    if not loaded.webhooks.public_url:
        raise SettingsError("webhooks.public_url", "set the https URL vendors can reach")
    rt = runtime(loaded)
    for line in register_webhooks(rt, account, loaded.webhooks.public_url):
        console.print(line, markup=False)


# ---- sandbox / demo ------------------------------------------------------------------------
SANDBOX_RPM = 30  # the vendors' real budget: what a newcomer's first backfill meets


@app.command()
def sandbox(
    port: Annotated[int, typer.Option("--port", help="First port; one per vendor (0: any free "
                                      "ports).")] = 8900,
    proposals: int = 200,
    write_settings_to: Annotated[str | None, typer.Option(
        "--write-settings", metavar="FILE",
        help="Write a settings file for these sandboxes, for `syncd --config FILE backfill`.")] = None,
    database_url: Annotated[str, typer.Option(
        "--database-url", help="The mirror the written settings file names.")] = "sqlite:///syncd-sandbox.db",
) -> None:
    """Serve the five vendor sandboxes on loopback with seeded data."""
    from syncd.demo import serve_sandboxes

    served = serve_sandboxes(port=port or None, proposals=proposals, rpm=SANDBOX_RPM)
    for vendor, (box, _app) in served.items():
        console.print(f"{vendor}: {box.base_url()}  auth: {_auth_hint(box)}", markup=False,
                      highlight=False, soft_wrap=True)
    if write_settings_to:
        _write_sandbox_settings(Path(write_settings_to), database_url,
                                [box for box, _app in served.values()])
        console.print(f"settings for these sandboxes: {write_settings_to} (try: syncd --config "
                      f"{write_settings_to} backfill)", markup=False, highlight=False, soft_wrap=True)
    console.print("Ctrl-C to stop.")
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


def _write_sandbox_settings(path: Path, database_url: str, boxes: list[Any]) -> None:
    """One `[[accounts]]` entry per served sandbox (`sandbox-<vendor>`), written only once
    every sandbox answers and in one rename, so whoever waits for the file can use it.
    """
    from syncd.demo import write_settings

    accounts = [{**box.account_entry(f"sandbox-{box.vendor}"),
                 "requests_per_minute": SANDBOX_RPM} for box in boxes]
    partial = path.with_name(path.name + ".partial")
    write_settings(partial, database_url, accounts)
    load_settings(partial)  # what `--config FILE` reads: a bad entry fails here, not later
    os.replace(partial, path)


def _auth_hint(box: Any) -> str:
    entry = box.account_entry("x")
    return ", ".join(f"{k}={v}" for k, v in entry.get("auth", {}).items())


@app.command()
def demo(
    db_path: Annotated[str, typer.Option("--db", help="SQLite file to fill.")] = "syncd-demo.db",
    proposals: int = 60,
    html_path: Annotated[str, typer.Option(
        "--html", help="Where to write the HTML report.")] = "syncd-demo-report.html",
) -> None:
    """What `make demo` runs: sandboxes, a real two-way sync into SQLite, a report."""
    from syncd.demo import run_demo

    raise typer.Exit(run_demo(console, db_path=db_path, proposals=proposals,
                              html_path=html_path))


# the ClickException of the click that Typer runs on: Typer 0.29 ships its own copy
# (`typer._click`), so the installed `click.ClickException` is another class, one its parser
# never raises (a mistyped command used to escape as a traceback with exit 1)
_CLICK_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _usage_line(exc: Exception) -> str:
    """One line for bad usage: click's message (its line breaks folded) and where the help is."""
    ctx = getattr(exc, "ctx", None)
    hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    return f"error: {' '.join(message.split())}{hint}"


def main() -> None:
    """Console-script entry point: map errors to exit codes, never print secrets.

    Click runs without standalone mode so that syncd's own errors reach the handlers here;
    its usage errors are then ours to print: one line, exit 2 (a bare group such as `syncd`
    or `syncd db` prints its help, then exits 2 like click does).
    """
    try:
        # without standalone mode click *returns* a `typer.Exit` code instead of raising it
        code = app(standalone_mode=False)
    except SettingsError as exc:
        err.print(f"[red]error:[/] {escape(logs.REDACT(str(exc)))}", highlight=False)
        sys.exit(2)
    except SyncdError as exc:
        err.print(f"[red]error:[/] {escape(logs.REDACT(str(exc)))}", highlight=False)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except _CLICK_ERROR as exc:
        if type(exc).__name__ != "NoArgsIsHelpError":  # that one's help is printed already
            err.print(_usage_line(exc), markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
