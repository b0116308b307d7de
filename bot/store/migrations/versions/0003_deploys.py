"""Deploy requests, their votes, and environment locks.

Revision ID: 0003_deploys
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_deploys"
down_revision: str | None = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create deploy_requests, deploy_votes and env_locks."""
    op.create_table(
        "deploy_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("env", sa.String(64), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("from_version", sa.String(128), nullable=True),
        sa.Column("image", sa.String(512), nullable=False),
        sa.Column("digest", sa.String(128), nullable=False),
        sa.Column("requester", sa.String(32), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("approvals_needed", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("shipped", sa.Text, nullable=False),
        sa.Column("changes", sa.Text, nullable=False),
        sa.Column("active_slot", sa.String(140), nullable=True),
    )
    op.create_index("ix_deploy_requests_message_ts", "deploy_requests", ["message_ts"])
    op.create_index(
        "ix_deploy_requests_active_slot", "deploy_requests", ["active_slot"], unique=True
    )
    op.create_table(
        "deploy_votes",
        sa.Column("request_id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.String(32), primary_key=True),
        sa.Column("mark", sa.String(32), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "env_locks",
        sa.Column("env", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel_id", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("env_locks")
    op.drop_table("deploy_votes")
    op.drop_index("ix_deploy_requests_active_slot", "deploy_requests")
    op.drop_index("ix_deploy_requests_message_ts", "deploy_requests")
    op.drop_table("deploy_requests")
