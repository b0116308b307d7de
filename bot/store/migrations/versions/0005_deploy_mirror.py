"""Deploy requests remember their second message: the request is posted where approvers look
(the approval channel) and mirrored in the channel it was asked in; both take votes.

Revision ID: 0005_deploy_mirror
Revises: 0003a_deploy_vote_order
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_deploy_mirror"
down_revision: str | None = "0003a_deploy_vote_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add deploy_requests.mirror_channel_id and mirror_ts (existing requests have none)."""
    with op.batch_alter_table("deploy_requests") as batch:
        batch.add_column(sa.Column("mirror_channel_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("mirror_ts", sa.String(32), nullable=True))
        batch.create_index("ix_deploy_requests_mirror_ts", ["mirror_ts"])


def downgrade() -> None:
    """Drop the mirror columns."""
    with op.batch_alter_table("deploy_requests") as batch:
        batch.drop_index("ix_deploy_requests_mirror_ts")
        batch.drop_column("mirror_ts")
        batch.drop_column("mirror_channel_id")
