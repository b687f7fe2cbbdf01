"""The `accounts` table: account name -> vendor, for the reporting views.

The canonical rows name their account but not its vendor, and the views cannot read
settings.toml, so every command that opens the mirror writes the settings' pairs here.
It writes only what differs, so a steady state costs one SELECT.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select

from syncd.db.bulk import dialect_insert
from syncd.db.tables import accounts
from syncd.settings import Settings


def record_vendors(conn: Connection, settings: Settings, now: datetime) -> int:
    """Upsert each configured account's vendor; returns how many rows changed.

    Accounts no longer configured keep their row: their mirrored rows are still there
    and still name them.
    """
    known = dict(conn.execute(select(accounts.c.account, accounts.c.vendor)).all())
    changed = 0
    for account in settings.accounts:
        if known.get(account.name) == account.vendor:
            continue
        stmt = dialect_insert(conn, accounts).values(
            account=account.name, vendor=account.vendor, updated_at=now)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=["account"],
            set_={"vendor": stmt.excluded.vendor, "updated_at": stmt.excluded.updated_at}))
        changed += 1
    return changed
