"""Read-only views over the bookkeeping tables: `syncd status`, `syncd report`, metrics."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, case, func, select

from syncd.db.tables import (
    CANONICAL_TABLES,
    conflicts,
    outbox,
    proposals,
    quarantine,
    request_log,
    runs,
    stream_state,
)
from syncd.engine.values import norm
from syncd.settings import Settings


def account_status(conn: Connection, settings: Settings, now: float) -> list[dict[str, Any]]:
    """Per account: last pull/push, cursors, requests spent, outbox, conflicts, quarantine."""
    out = []
    for account in settings.accounts:
        name = account.name

        def last(kind: tuple[str, ...], name: str = name) -> str | None:
            value = conn.execute(
                select(func.max(runs.c.finished_at)).where(
                    runs.c.account == name, runs.c.kind.in_(kind), runs.c.status == "ok")
            ).scalar()
            return norm(value)

        spent = conn.execute(
            select(
                func.sum(case((request_log.c.sent_at > now - 60, 1), else_=0)),
                func.sum(case((request_log.c.sent_at > now - 3600, 1), else_=0)),
                func.sum(case((request_log.c.status == 429, 1), else_=0)),
                func.count(),
            ).where(request_log.c.account == name)
        ).one()
        cursors = {
            stream: {k: v for k, v in (state or {}).items()
                     if k in ("in_progress", "partition", "page", "marks", "kept")}
            for stream, state in conn.execute(
                select(stream_state.c.stream, stream_state.c.state).where(
                    stream_state.c.account == name))
        }
        depth = dict(conn.execute(
            select(outbox.c.status, func.count()).where(outbox.c.account == name)
            .group_by(outbox.c.status)).all())
        refused = [
            {"id": r.id, "entity": r.entity, "kind": r.kind, "status": r.status,
             "reason": r.last_error}
            for r in conn.execute(
                select(outbox).where(outbox.c.account == name,
                                     outbox.c.status.in_(("refused", "unsupported", "skipped",
                                                          "failed")))
                .order_by(outbox.c.id.desc()).limit(10))
        ]
        out.append({
            "account": name,
            "vendor": account.vendor,
            "last_pull": last(("pull", "backfill", "sweep", "sync")),
            "last_push": last(("push",)),
            "cursors": cursors,
            "requests_last_minute": int(spent[0] or 0),
            "requests_last_hour": int(spent[1] or 0),
            "requests_total": int(spent[3] or 0),
            "responses_429": int(spent[2] or 0),
            "budget_per_minute": account.requests_per_minute,
            "outbox_pending": int(depth.get("pending", 0)) + int(depth.get("sending", 0)),
            "outbox": {k: int(v) for k, v in depth.items()},
            "push_problems": refused,
            "open_conflicts": conn.execute(
                select(func.count()).where(conflicts.c.account == name,
                                           conflicts.c.status == "open")).scalar_one(),
            "quarantined": conn.execute(
                select(func.count()).where(quarantine.c.account == name,
                                           quarantine.c.resolved_at.is_(None))).scalar_one(),
            "rows": {
                t: conn.execute(select(func.count()).select_from(table).where(
                    table.c.account == name, table.c.deleted_at.is_(None))).scalar_one()
                for t, table in CANONICAL_TABLES.items()
            },
        })
    return out


def pipeline_report(conn: Connection) -> list[dict[str, Any]]:
    """Proposals by account, status and month (of creation), with gross totals."""
    month = func.substr(func.cast(proposals.c.created_at, proposals.c.title.type), 1, 7)
    rows = conn.execute(
        select(proposals.c.account, proposals.c.status, month.label("month"),
               func.count().label("proposals"), func.sum(proposals.c.total_gross).label("gross"))
        .where(proposals.c.deleted_at.is_(None))
        .group_by(proposals.c.account, proposals.c.status, month)
        .order_by(proposals.c.account, month, proposals.c.status)
    ).all()
    return [
        {"account": r.account, "status": r.status, "month": r.month, "proposals": r.proposals,
         "total_gross": norm(r.gross)}
        for r in rows
    ]
