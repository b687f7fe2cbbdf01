"""Prometheus text exposition of what the daemon and the mirror know (format 0.0.4)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select

from syncd.db.tables import conflicts, drift, outbox, quarantine, request_log, runs
from syncd.engine.deletes import pending_counts
from syncd.engine.runtime import Runtime


def _esc(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def _line(name: str, labels: dict[str, Any], value: float) -> str:
    inner = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
    return f"{name}{{{inner}}} {value}"


def render(runtime: Runtime, accounts: list[str]) -> str:
    """All metrics as one text page."""
    out: list[str] = []
    now = runtime.clock.time()
    # before the transaction: building an account's budget reads the request log, which
    # on SQLite would wait for the write lock the transaction below holds
    tokens = {name: runtime.account(name).budget.available() for name in accounts}
    with runtime.db.begin() as conn:
        out += _requests(conn)
        out += ["# HELP syncd_budget_tokens Requests the account may still send this minute.",
                "# TYPE syncd_budget_tokens gauge"]
        for name in accounts:
            out.append(_line("syncd_budget_tokens", {"account": name}, tokens[name]))
        out += _per_account(conn, "syncd_records_pulled_total", "counter",
                            "Records seen by pulls.",
                            select(runs.c.account, func.sum(runs.c.records)).group_by(runs.c.account))
        out += _per_account(conn, "syncd_records_pushed_total", "counter",
                            "Outbox entries the vendor accepted.",
                            select(outbox.c.account, func.count()).where(outbox.c.status == "done")
                            .group_by(outbox.c.account))
        out += _per_account(conn, "syncd_outbox_depth", "gauge", "Outbox entries waiting.",
                            select(outbox.c.account, func.count())
                            .where(outbox.c.status.in_(("pending", "sending")))
                            .group_by(outbox.c.account))
        out += _per_account(conn, "syncd_conflicts_open", "gauge", "Open conflicts.",
                            select(conflicts.c.account, func.count())
                            .where(conflicts.c.status == "open").group_by(conflicts.c.account))
        out += _per_account(conn, "syncd_quarantined", "gauge", "Quarantined records.",
                            select(quarantine.c.account, func.count())
                            .where(quarantine.c.resolved_at.is_(None))
                            .group_by(quarantine.c.account))
        out += _drift(conn)
        out += _pending_deletes(conn)
        out += ["# HELP syncd_lag_seconds Seconds since the last successful pull.",
                "# TYPE syncd_lag_seconds gauge"]
        for name in accounts:
            last = conn.execute(select(func.max(runs.c.finished_at)).where(
                runs.c.account == name, runs.c.status == "ok")).scalar()
            if last is not None:
                stamp = last.timestamp() if last.tzinfo else last.replace(
                    tzinfo=runtime.clock.now().tzinfo).timestamp()
                out.append(_line("syncd_lag_seconds", {"account": name}, round(now - stamp, 3)))
    return "\n".join(out) + "\n"


def _requests(conn: Connection) -> list[str]:
    lines = ["# HELP syncd_requests_total Vendor requests by account, endpoint and status.",
             "# TYPE syncd_requests_total counter"]
    for account, endpoint, status, count in conn.execute(
        select(request_log.c.account, request_log.c.endpoint, request_log.c.status, func.count())
        .group_by(request_log.c.account, request_log.c.endpoint, request_log.c.status)
    ):
        lines.append(_line("syncd_requests_total",
                           {"account": account, "endpoint": endpoint, "status": status}, count))
    return lines


def _drift(conn: Connection) -> list[str]:
    """Values kept but not fully interpreted, per account and kind (the drift table's
    counts: pulls raise them, a remap replaces them with what it still finds).
    """
    lines = ["# HELP syncd_drift_total Vendor values syncd kept but could not fully "
             "interpret, by account and kind (see `syncd drift`).",
             "# TYPE syncd_drift_total gauge"]
    for account, kind, count in conn.execute(
        select(drift.c.account, drift.c.kind, func.sum(drift.c["count"]))
        .group_by(drift.c.account, drift.c.kind).order_by(drift.c.account, drift.c.kind)
    ):
        lines.append(_line("syncd_drift_total", {"account": account, "kind": kind},
                           int(count or 0)))
    return lines


def _pending_deletes(conn: Connection) -> list[str]:
    """Deletions the guard against false mass deletion holds, per account and entity (a
    non-zero value wants `syncd deletes confirm` or a look at the vendor).
    """
    lines = ["# HELP syncd_pending_deletes Records a complete scan found missing but held "
             "back as too many at once (see `syncd deletes list`).",
             "# TYPE syncd_pending_deletes gauge"]
    for account, entities in pending_counts(conn).items():
        for entity, count in entities.items():
            lines.append(_line("syncd_pending_deletes", {"account": account, "entity": entity},
                               count))
    return lines


def _per_account(conn: Connection, name: str, kind: str, text: str, stmt: Any) -> list[str]:
    lines = [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
    for account, value in conn.execute(stmt):
        lines.append(_line(name, {"account": account}, float(value or 0)))
    return lines
