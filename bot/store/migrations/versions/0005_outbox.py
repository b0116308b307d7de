"""The outbox: messages on their way to Slack, delivered once by the courier.

Revision ID: 0005_outbox
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_outbox"
down_revision: str | None = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create outbox."""
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=True, unique=True),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("thread_ts", sa.String(32), nullable=True),
        sa.Column("target_id", sa.Integer, nullable=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("blocks", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ts", sa.String(32), nullable=True),
        sa.Column("error", sa.Text, nullable=False),
    )
    op.create_index("ix_outbox_channel_state", "outbox", ["channel_id", "state"])
    op.create_index("ix_outbox_state", "outbox", ["state"])


def downgrade() -> None:
    """Drop outbox."""
    op.drop_index("ix_outbox_state", "outbox")
    op.drop_index("ix_outbox_channel_state", "outbox")
    op.drop_table("outbox")
