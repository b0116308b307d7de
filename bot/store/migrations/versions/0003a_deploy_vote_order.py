"""Deploy votes remember a withdrawal, so that events handled out of order settle right.

Revision ID: 0003a_deploy_vote_order
Revises: 0003_deploys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003a_deploy_vote_order"
down_revision: str | None = "0003_deploys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add deploy_votes.withdrawn (existing rows are votes cast)."""
    with op.batch_alter_table("deploy_votes") as batch:
        batch.add_column(
            sa.Column("withdrawn", sa.Boolean, nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    """Drop the withdrawals and the column."""
    op.execute(sa.text("DELETE FROM deploy_votes WHERE withdrawn"))
    with op.batch_alter_table("deploy_votes") as batch:
        batch.drop_column("withdrawn")
