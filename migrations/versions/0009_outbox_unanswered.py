"""outbox.unanswered: an attempt of this write went unanswered (it may have arrived)

An update in doubt is re-read before it is sent again. When the vendor then shows the
base values, a vendor that stamps modification times tells a write that never arrived from
one that landed and was set back by its user since; Quick Quote stamps nothing. There the
entry's own history decides: an attempt whose connection failed after the request may have
gone out (a timeout, a reset: `unanswered`) or a process killed mid-send (`sending`) may
have landed, so the set-back is settled as a change on both sides (the conflict policy),
never overwritten; an attempt the vendor answered with 5xx or 429 is simply sent again.

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (SQLite takes it with a default): a batch rebuild of the table
    # would trip over the reporting views that read it (migration 0006)
    op.add_column("outbox", sa.Column("unanswered", sa.Boolean(), nullable=False,
                                      server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("outbox", "unanswered")
