"""/ship pipelines hold a slot per environment while they run (one pipeline per service
and environment, decided by the store's primary key rather than by one process's lock).

Revision ID: 0007_pipeline_overlap
Revises: 0006_pipelines
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0007_pipeline_overlap"
down_revision: str | None = "0006_pipelines"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create pipeline_slots and give each running pipeline its environments' slots (the
    oldest first; a slot an older running pipeline already holds stays with it)."""
    slots = op.create_table(
        "pipeline_slots",
        sa.Column("slot", sa.String(140), primary_key=True),
        sa.Column("pipeline_id", sa.Integer, nullable=False),
    )
    connection = op.get_bind()
    running = connection.execute(
        sa.text("SELECT id, service, envs FROM pipelines WHERE state = 'running' ORDER BY id")
    ).all()
    held: dict[str, int] = {}
    for pipeline_id, service, envs in running:
        for env in json.loads(envs):
            held.setdefault(f"{service}/{env}", int(pipeline_id))
    if held:
        op.bulk_insert(slots, [{"slot": s, "pipeline_id": i} for s, i in held.items()])


def downgrade() -> None:
    """Drop pipeline_slots."""
    op.drop_table("pipeline_slots")
