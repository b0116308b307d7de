"""The audit log carries the process that wrote each entry, so that the lease holder settles
as interrupted only the pending entries of a process whose heartbeat ran out (two processes
on one store), not those of a live one still waiting for its answer.

Revision ID: 0007_audit_owner
Revises: 0005_leases
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_audit_owner"
down_revision: str | None = "0005_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add owner to audit_log (None for the entries written before it)."""
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("owner", sa.String(128), nullable=True))


def downgrade() -> None:
    """Drop it again."""
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("owner")
