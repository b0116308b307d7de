"""Plan: scheduled-job fire times and the sprint digest's memory.

Revision ID: 0004_plan
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_plan"
down_revision: str | None = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create schedule_fires and digest_memory."""
    op.create_table(
        "schedule_fires",
        sa.Column("job_id", sa.String(100), primary_key=True),
        sa.Column("fire_time", sa.String(40), primary_key=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "digest_memory",
        sa.Column("job_id", sa.String(100), primary_key=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("digest_memory")
    op.drop_table("schedule_fires")
