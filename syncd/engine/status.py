"""Read-only views over the bookkeeping tables: `syncd status`, `syncd drift` (`syncd report`
reads the SQL views: syncd/reporting.py).
"""

from __future__ import annotations

import json
from typing import Any, cast

from sqlalchemy import Connection, case, func, select

from syncd.canonical import ProposalStatus
from syncd.db.tables import (
    CANONICAL_TABLES,
    conflicts,
    drift,
    outbox,
    quarantine,
    request_log,
    runs,
    stream_state,
)
from syncd.drift import DriftKind, normalize_word
from syncd.engine import unverified
from syncd.engine.deletes import pending_counts
from syncd.engine.drift_log import drift_rows
from syncd.engine.pull import stale_view
from syncd.engine.values import norm
from syncd.http.redaction import MASK
from syncd.settings import Settings


def account_status(conn: Connection, settings: Settings, now: float) -> list[dict[str, Any]]:
    """Per account: last pull/push, cursors, requests spent, outbox, conflicts, quarantine,
    `drift`: values syncd kept but could not fully interpret (the drift table's counts),
    and `unverified`: records written from a snapshot and not yet verified by a fetch.
    """
    out = []
    for account in settings.accounts:
        name = account.name

        def last(kind: tuple[str, ...], name: str = name) -> str | None:
            value = conn.execute(
                select(func.max(runs.c.finished_at)).where(
                    runs.c.account == name, runs.c.kind.in_(kind), runs.c.status == "ok")
            ).scalar()
            return cast("str | None", norm(value))

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
        depth: dict[str, int] = dict(conn.execute(
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
            "drift": int(conn.execute(
                select(func.coalesce(func.sum(drift.c["count"]), 0)).where(
                    drift.c.account == name)).scalar_one()),
            # deletions a complete scan found but the guard holds (`syncd deletes list`)
            "pending_deletes": pending_counts(conn, name).get(name, {}),
            # records written from a listed snapshot, not yet read back (`syncd verify`)
            "unverified": unverified.count(conn, name),
            # a resumed scan: local edits of linked rows wait for a complete pull
            "stale_view": stale_view(conn, name),
            "rows": {
                t: conn.execute(select(func.count()).select_from(table).where(
                    table.c.account == name, table.c.deleted_at.is_(None))).scalar_one()
                for t, table in CANONICAL_TABLES.items()
            },
        })
    return out


def _is_status_path(path: str) -> bool:
    """A drift path where a proposal status word sits (`status`, `attributes.offer_status`,
    `status.name`): its unmapped words are what `[accounts.status_map]` maps.
    """
    return any("status" in part.lower() for part in path.split("."))


def _is_type_path(path: str) -> bool:
    """A drift path of an element type inside a list (`elements[].type`): its unmapped
    words are what `line_item_types` lists when those elements are priced lines.
    """
    return "[]" in path and path.rsplit(".", 1)[-1].removesuffix("[]").lower() == "type"


def toml_text(value: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def drift_report(conn: Connection, settings: Settings,
                 accounts: list[str] | None = None) -> dict[str, Any]:
    """`syncd drift`: the drift table, and for each unmapped word the settings line that
    maps it (status words: `[accounts.status_map]`; element types: `line_item_types`).

    The user picks the canonical status; a word the account's settings already map is
    marked `mapped_to` (a `syncd remap` then fixes the rows and clears it).
    """
    rows = drift_rows(conn, accounts)
    configured = {a.name: a for a in settings.accounts}
    status_hints: list[dict[str, Any]] = []
    type_hints: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for row in rows:
        if (row["kind"] != str(DriftKind.UNMAPPED_WORD) or not row["example_value"]
                or row["example_value"] == MASK):
            continue
        kind = ("status" if _is_status_path(row["path"])
                else "type" if _is_type_path(row["path"]) else None)
        if kind is None or (row["account"], kind, row["word"]) in seen:
            continue
        seen.add((row["account"], kind, row["word"]))
        word = row["example_value"]
        account = configured.get(row["account"])
        hint: dict[str, Any] = {"account": row["account"], "stream": row["stream"],
                                "path": row["path"], "word": word, "count": row["count"]}
        if kind == "status":
            overrides = {normalize_word(k): str(v) for k, v in
                         (account.status_map if account else {}).items()}
            hint.update(section="[accounts.status_map]",
                        setting=f"{toml_text(word)} = \"<canonical status>\"",
                        mapped_to=overrides.get(row["word"]))
            status_hints.append(hint)
        else:
            listed = {normalize_word(t) for t in (account.line_item_types if account else [])}
            hint.update(section="[[accounts]]", setting=f"line_item_types = [{toml_text(word)}]",
                        listed=row["word"] in listed)
            type_hints.append(hint)
    return {
        "drift": [{**r, "first_seen": norm(r["first_seen"]), "last_seen": norm(r["last_seen"])}
                  for r in ({k: v for k, v in r.items() if k != "id"} for r in rows)],
        "status_hints": status_hints,
        "line_item_type_hints": type_hints,
        "canonical_statuses": [str(s) for s in ProposalStatus],
    }
