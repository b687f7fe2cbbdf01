"""PostgreSQL: the change-log trigger also NOTIFYs the edited row's account

A running `syncd run` LISTENs on `syncd_change` and pushes an account's local edit at once
instead of at the next push interval (SQLite's daemon checks change_log's newest id every
half second instead). The triggers are unchanged; only their function is replaced.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

from alembic import op

from syncd.db.triggers import NOTIFY_FUNCTION

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

WITHOUT_NOTIFY = """CREATE OR REPLACE FUNCTION syncd_log_change() RETURNS trigger AS $$
    BEGIN
      INSERT INTO change_log (table_name, row_id, op)
      VALUES (TG_TABLE_NAME, NEW.id, lower(TG_OP));
      RETURN NULL;
    END $$ LANGUAGE plpgsql"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(NOTIFY_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(WITHOUT_NOTIFY)
