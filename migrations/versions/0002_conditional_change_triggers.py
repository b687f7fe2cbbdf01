"""change-log triggers with WHEN conditions on PostgreSQL

Revision 0001 created one PL/pgSQL trigger per table that ran for every inserted or updated
row and decided inside the function; engine writes (most writes) then paid a function call
each. This revision recreates the triggers from `syncd.db.triggers`, whose PostgreSQL
triggers carry the conditions in WHEN clauses. SQLite's triggers already did; recreating
them changes nothing there.

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

from alembic import op

from syncd.db.triggers import create_sql, drop_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in drop_sql(dialect) + create_sql(dialect):
        op.execute(statement)


def downgrade() -> None:
    """The triggers stay the current ones: they record exactly what 0001's recorded."""
