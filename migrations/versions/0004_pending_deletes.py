"""the pending_deletes table: deletions held by the guard against false mass deletion

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_deletes",
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("remote_id", sa.String(length=200), nullable=False),
        sa.Column("stream", sa.String(length=100), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=True),
        sa.Column("first_missing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_missing_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sweeps", sa.Integer(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("account", "entity", "remote_id", name=op.f("pk_pending_deletes")),
    )


def downgrade() -> None:
    op.drop_table("pending_deletes")
