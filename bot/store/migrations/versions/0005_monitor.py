"""Monitor: checks, alerts, silences and Alertmanager receipts.

Revision ID: 0005_monitor
Revises: 0001_foundation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_monitor"
down_revision: str | None = "0001_foundation"
branch_labels = None
depends_on = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create monitor_checks, monitor_alerts, monitor_silences and alertmanager_receipts."""
    op.create_table(
        "monitor_checks",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("env", sa.String(64), nullable=False),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("passes", sa.Integer, nullable=False),
        sa.Column("since", _WHEN, nullable=True),
        sa.Column("last_detail", sa.Text, nullable=False),
        sa.Column("last_at", _WHEN, nullable=True),
        sa.Column("latency_ms", sa.Float, nullable=True),
    )
    op.create_table(
        "monitor_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("open_key", sa.String(200), nullable=True, unique=True),
        sa.Column("service", sa.String(64), nullable=True),
        sa.Column("env", sa.String(64), nullable=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("since", _WHEN, nullable=False),
        sa.Column("opened_at", _WHEN, nullable=False),
        sa.Column("version", sa.String(128), nullable=True),
        sa.Column("deployed_by", sa.String(32), nullable=True),
        sa.Column("previous_version", sa.String(128), nullable=True),
        sa.Column("deploy_id", sa.Integer, nullable=True),
        sa.Column("acknowledged_by", sa.String(32), nullable=True),
        sa.Column("acknowledged_at", _WHEN, nullable=True),
        sa.Column("silenced_by", sa.String(32), nullable=True),
        sa.Column("silenced_until", _WHEN, nullable=True),
        sa.Column("resolved_by", sa.String(32), nullable=True),
        sa.Column("resolved_at", _WHEN, nullable=True),
        sa.Column("channel_id", sa.String(32), nullable=True),
        sa.Column("message_ts", sa.String(32), nullable=True),
        sa.Column("thread_channel_id", sa.String(32), nullable=True),
        sa.Column("thread_ts", sa.String(32), nullable=True),
        sa.Column("previous_id", sa.Integer, nullable=True),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=True),
    )
    op.create_index("ix_monitor_alerts_key", "monitor_alerts", ["key"])
    op.create_index("ix_monitor_alerts_state", "monitor_alerts", ["state"])
    op.create_table(
        "monitor_silences",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service", sa.String(64), nullable=True),
        sa.Column("env", sa.String(64), nullable=True),
        sa.Column("alert_id", sa.Integer, nullable=True),
        sa.Column("until", _WHEN, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("ended_at", _WHEN, nullable=True),
        sa.Column("ended_by", sa.String(32), nullable=True),
        sa.Column("alertmanager_id", sa.String(64), nullable=True),
        sa.Column("matchers", sa.Text, nullable=False),
    )
    op.create_table(
        "alertmanager_receipts",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("received_at", _WHEN, nullable=False),
    )


def downgrade() -> None:
    """Drop them."""
    op.drop_table("alertmanager_receipts")
    op.drop_table("monitor_silences")
    op.drop_index("ix_monitor_alerts_state", "monitor_alerts")
    op.drop_index("ix_monitor_alerts_key", "monitor_alerts")
    op.drop_table("monitor_alerts")
    op.drop_table("monitor_checks")
