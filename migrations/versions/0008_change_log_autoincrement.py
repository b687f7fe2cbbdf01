"""SQLite: change_log ids are never reused (AUTOINCREMENT)

A running `syncd run` on SQLite learns of local edits by reading change_log's newest id
twice a second. Reconcile deletes the rows it consumed, and SQLite without AUTOINCREMENT
gives the next row the id of the deleted newest one: the newest id did not grow, and the
edit waited for the next scheduled push (found by bench/latency.py: 10 s instead of 0.5 s).
The table is rebuilt with AUTOINCREMENT; PostgreSQL's sequence never reuses ids.

Revision ID: 0008
Revises: 0007
"""
from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = """table_name VARCHAR(20) NOT NULL, row_id INTEGER NOT NULL,
    op VARCHAR(10) NOT NULL, changed_at DATETIME DEFAULT (CURRENT_TIMESTAMP)"""


def _rebuild(id_column: str) -> None:
    # legacy renaming leaves the triggers on the canonical tables (which insert into
    # "change_log" by name) alone; the modern one refuses while "change_log" is missing
    op.execute("PRAGMA legacy_alter_table = ON")
    op.execute(f"CREATE TABLE change_log_new ({id_column}, {COLUMNS})")
    op.execute("INSERT INTO change_log_new (id, table_name, row_id, op, changed_at) "
               "SELECT id, table_name, row_id, op, changed_at FROM change_log")
    op.execute("DROP TABLE change_log")
    op.execute("ALTER TABLE change_log_new RENAME TO change_log")
    op.execute("PRAGMA legacy_alter_table = OFF")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild("id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild("id INTEGER NOT NULL PRIMARY KEY")
