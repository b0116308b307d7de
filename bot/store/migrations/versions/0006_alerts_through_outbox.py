"""Alert messages go through the outbox: an alert remembers the outbox rows of its message
and of its deploy-thread reply, and the outbox can post in the thread of another of its rows
(whose ts is not known when the reply is recorded) and broadcast a thread reply.

Revision ID: 0006_alerts_through_outbox
Revises: 0005_monitor, 0005_outbox
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_alerts_through_outbox"
down_revision: tuple[str, ...] | None = ("0005_monitor", "0005_outbox")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add monitor_alerts.message_id and thread_message_id, outbox.thread_of and broadcast."""
    with op.batch_alter_table("monitor_alerts") as batch:
        batch.add_column(sa.Column("message_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("thread_message_id", sa.Integer, nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("thread_of", sa.Integer, nullable=True))
        batch.add_column(
            sa.Column("broadcast", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    """Drop the columns."""
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("broadcast")
        batch.drop_column("thread_of")
    with op.batch_alter_table("monitor_alerts") as batch:
        batch.drop_column("thread_message_id")
        batch.drop_column("message_id")
