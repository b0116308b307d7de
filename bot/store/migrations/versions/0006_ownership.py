"""Work ownership and fencing for two processes on one store: jobs and deploy requests
carry the process that runs them and its heartbeat; the autoscaler's state carries the
epoch of the lease its last decision was written under.

Revision ID: 0006_ownership
Revises: 0002_jobs, 0005_operate
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_ownership"
down_revision: tuple[str, ...] | None = ("0002_jobs", "0005_operate")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add owner and heartbeat_at to jobs and deploy_requests, epoch to autoscale_state."""
    for table in ("jobs", "deploy_requests"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("owner", sa.String(128), nullable=True))
            batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("autoscale_state") as batch:
        batch.add_column(sa.Column("epoch", sa.Integer, nullable=True))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("autoscale_state") as batch:
        batch.drop_column("epoch")
    for table in ("deploy_requests", "jobs"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("heartbeat_at")
            batch.drop_column("owner")
