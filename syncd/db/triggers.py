"""Change-log triggers: how a plain-SQL edit of the mirror becomes work for the push.

Every engine write bumps `sync_rev`; a user's `UPDATE` does not touch it. So the triggers
record a row in `change_log` exactly when an UPDATE leaves `sync_rev` unchanged, or when an
INSERT arrives with `remote_id` NULL (a local create). Reconcile then reads only the changed
keys instead of scanning every row in Python on every cycle.
"""

from __future__ import annotations

TRIGGER_TABLES = ("companies", "contacts", "proposals", "line_items")
# the channel a running daemon LISTENs on (PostgreSQL): each local edit NOTIFYs its account,
# so the edit is pushed within moments instead of at the next push interval
NOTIFY_CHANNEL = "syncd_change"
NOTIFY_FUNCTION = f"""CREATE OR REPLACE FUNCTION syncd_log_change() RETURNS trigger AS $$
            BEGIN
              INSERT INTO change_log (table_name, row_id, op)
              VALUES (TG_TABLE_NAME, NEW.id, lower(TG_OP));
              PERFORM pg_notify('{NOTIFY_CHANNEL}', NEW.account);
              RETURN NULL;
            END $$ LANGUAGE plpgsql"""


def create_sql(dialect: str) -> list[str]:
    """DDL creating the triggers on `dialect` ("sqlite" or "postgresql")."""
    statements: list[str] = []
    if dialect == "postgresql":
        # The WHEN conditions are checked by the server itself, so an engine write (new
        # remote row, or sync_rev bumped) never enters PL/pgSQL: a backfill inserts
        # hundreds of thousands of rows, each of which would otherwise call the function.
        statements.append(NOTIFY_FUNCTION)
        for table in TRIGGER_TABLES:
            statements.append(
                f"CREATE TRIGGER trg_{table}_update AFTER UPDATE ON {table} FOR EACH ROW "
                f"WHEN (NEW.sync_rev IS NOT DISTINCT FROM OLD.sync_rev) "
                f"EXECUTE FUNCTION syncd_log_change()"
            )
            statements.append(
                f"CREATE TRIGGER trg_{table}_insert AFTER INSERT ON {table} FOR EACH ROW "
                f"WHEN (NEW.remote_id IS NULL) EXECUTE FUNCTION syncd_log_change()"
            )
        return statements
    for table in TRIGGER_TABLES:
        statements.append(
            f"CREATE TRIGGER trg_{table}_update AFTER UPDATE ON {table} "
            f"WHEN NEW.sync_rev IS OLD.sync_rev BEGIN "
            f"INSERT INTO change_log (table_name, row_id, op) VALUES ('{table}', NEW.id, 'update'); "
            f"END"
        )
        statements.append(
            f"CREATE TRIGGER trg_{table}_insert AFTER INSERT ON {table} "
            f"WHEN NEW.remote_id IS NULL BEGIN "
            f"INSERT INTO change_log (table_name, row_id, op) VALUES ('{table}', NEW.id, 'insert'); "
            f"END"
        )
    return statements


def drop_sql(dialect: str) -> list[str]:
    """DDL removing the triggers (downgrade)."""
    if dialect == "postgresql":
        names = ("change", "update", "insert")  # "change": the single trigger of revision 0001
        return [f"DROP TRIGGER IF EXISTS trg_{t}_{n} ON {t}" for t in TRIGGER_TABLES
                for n in names] + ["DROP FUNCTION IF EXISTS syncd_log_change()"]
    return [f"DROP TRIGGER IF EXISTS trg_{t}_{k}" for t in TRIGGER_TABLES for k in ("update", "insert")]
