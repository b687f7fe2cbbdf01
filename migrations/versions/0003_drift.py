"""the drift table: values syncd kept but could not fully interpret

Revision ID: 0003
Revises: 0002
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drift",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("stream", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("word", sa.String(length=200), server_default="", nullable=False),
        sa.Column("example_value", sa.Text(), nullable=True),
        sa.Column("example_remote_id", sa.String(length=200), nullable=True),
        sa.Column("count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drift")),
        sa.UniqueConstraint("account", "stream", "kind", "path", "word",
                            name="uq_drift_account_stream_kind_path_word"),
    )


def downgrade() -> None:
    op.drop_table("drift")
