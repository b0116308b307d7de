"""Operate: scale and restart requests ride on deploy_requests (their replicas and reason),
and the autoscaler keeps its paused flags and recent recommendations.

Revision ID: 0005_operate
Revises: 0003a_deploy_vote_order
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_operate"
down_revision: str | None = "0003a_deploy_vote_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add deploy_requests.replicas, from_replicas and reason; create autoscale_state."""
    with op.batch_alter_table("deploy_requests") as batch:
        batch.add_column(sa.Column("replicas", sa.Integer, nullable=True))
        batch.add_column(sa.Column("from_replicas", sa.Integer, nullable=True))
        batch.add_column(sa.Column("reason", sa.Text, nullable=True))
    op.create_table(
        "autoscale_state",
        sa.Column("service", sa.String(64), primary_key=True),
        sa.Column("env", sa.String(64), primary_key=True),
        sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("paused_by", sa.String(64), nullable=True),
        sa.Column("history", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    """Drop autoscale_state and the request columns (scale and restart requests go too)."""
    op.drop_table("autoscale_state")
    op.execute(
        sa.text(
            "DELETE FROM deploy_votes WHERE request_id IN "
            "(SELECT id FROM deploy_requests WHERE kind IN ('scale', 'restart'))"
        )
    )
    op.execute(sa.text("DELETE FROM deploy_requests WHERE kind IN ('scale', 'restart')"))
    with op.batch_alter_table("deploy_requests") as batch:
        batch.drop_column("reason")
        batch.drop_column("from_replicas")
        batch.drop_column("replicas")
