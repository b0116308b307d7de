"""A check's alert resolved by hand asks, in the store, for its check to start over, so the
process that runs the checks (the lease holder) hears of a resolve taken by another process.

Revision ID: 0008_check_restarts
Revises: 0006_alerts_through_outbox
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_check_restarts"
down_revision: str | None = "0006_alerts_through_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create monitor_check_restarts."""
    op.create_table(
        "monitor_check_restarts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("alert_id", sa.Integer, nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop monitor_check_restarts."""
    op.drop_table("monitor_check_restarts")
