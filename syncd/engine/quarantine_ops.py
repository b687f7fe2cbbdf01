"""The quarantine table as the user sees it: list, show (secrets masked), hold, name.

A record is quarantined only when syncd cannot identify it or its structure is unusable;
everything here reads or writes that table and nothing else. `syncd quarantine retry` is a
remap of quarantined records and lives in `syncd.engine.remap`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from syncd.db.tables import quarantine
from syncd.engine.drift_log import secret_key
from syncd.engine.values import norm
from syncd.errors import SettingsError
from syncd.http.redaction import MASK, Redactor
from syncd.settings import Settings

NO_ID = "(no id)"  # how a record without a usable id is named


def listed(conn: Connection, accounts: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Unresolved quarantined records, oldest first (for `syncd quarantine list`)."""
    query = select(quarantine.c.id, quarantine.c.account, quarantine.c.stream,
                   quarantine.c.remote_id, quarantine.c.error, quarantine.c.created_at).where(
        quarantine.c.resolved_at.is_(None)).order_by(quarantine.c.id)
    if accounts:
        query = query.where(quarantine.c.account.in_(list(accounts)))
    return [{**dict(r), "created_at": norm(r.created_at)} for r in conn.execute(query).mappings()]


def shown(conn: Connection, record_id: int, settings: Settings) -> dict[str, Any]:
    """One quarantined record with its error and its payload, secrets masked.

    Values under secret-looking keys are replaced, then every secret of the settings (the
    account's first, all of them in case the record came from elsewhere) is masked in the
    text: the payload is the vendor's answer, which may echo a token.
    """
    row = conn.execute(select(quarantine).where(quarantine.c.id == record_id)).mappings().first()
    if row is None:
        raise SettingsError("ID", f"no quarantined record with id {record_id}")
    redact = Redactor(_secrets(settings))
    try:
        payload: Any = json.loads(row["raw"]) if row["raw"] is not None else None
        text = json.dumps(mask_secret_keys(payload), indent=2, ensure_ascii=False, default=str)
    except ValueError:  # a malformed answer is kept as the text the vendor sent
        payload, text = None, str(row["raw"])
    return {
        "id": row["id"], "account": row["account"], "stream": row["stream"],
        "remote_id": row["remote_id"], "error": redact(row["error"] or ""),
        "created_at": norm(row["created_at"]), "resolved_at": norm(row["resolved_at"]),
        "raw": redact(text),
    }


def mask_secret_keys(value: Any) -> Any:
    """`value` with every value under a secret-looking key (token, password…) masked."""
    if isinstance(value, dict):
        return {k: (MASK if secret_key(str(k)) and v not in (None, "") else mask_secret_keys(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secret_keys(v) for v in value]
    return value


def _secrets(settings: Settings) -> list[str]:
    return [s for account in settings.accounts for s in account.secret_values()]


def hold(conn: Connection, account: str, stream: str, remote_id: str | None, raw: Any,
         error: str, now: datetime) -> None:
    """Quarantine a record (the earlier unresolved entry of the same record is closed), as
    a pull does: the mirror row, if any, stays as it was.
    """
    text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
    if remote_id is not None:
        conn.execute(update(quarantine).where(
            quarantine.c.account == account, quarantine.c.stream == stream,
            quarantine.c.remote_id == remote_id, quarantine.c.resolved_at.is_(None),
        ).values(resolved_at=now))
    conn.execute(insert(quarantine).values(
        account=account, stream=stream, remote_id=remote_id, error=error[:4000], raw=text,
        created_at=now))


def named(conn: Connection, account: str, stream: str, remote_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The unresolved entries of records a run quarantined (`StreamResult.quarantined_ids`,
    where a record without an id is "None"), newest first, to name them in a summary.
    """
    wanted = {r for r in remote_ids if r != "None"}
    anonymous = len(remote_ids) - len(wanted)
    query = select(quarantine.c.id, quarantine.c.remote_id, quarantine.c.error).where(
        quarantine.c.account == account, quarantine.c.stream == stream,
        quarantine.c.resolved_at.is_(None)).order_by(quarantine.c.id.desc())
    out: list[dict[str, Any]] = []
    for row in conn.execute(query):
        if row.remote_id in wanted:
            wanted.discard(row.remote_id)
        elif row.remote_id is None and anonymous > 0:
            anonymous -= 1
        else:
            continue
        out.append({"id": row.id, "stream": stream, "remote_id": row.remote_id,
                    "error": row.error})
        if not wanted and anonymous == 0:
            break
    return out
