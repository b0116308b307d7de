"""The Monitor stage's tables: checks, alerts, silences and Alertmanager receipts."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, Integer, String, Table, Text

from bot.store.tables import metadata

monitor_checks = Table(
    "monitor_checks",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("service", String(64), nullable=False),
    Column("env", String(64), nullable=False),
    Column("instance", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("passes", Integer, nullable=False),
    Column("since", DateTime(timezone=True), nullable=True),
    Column("last_detail", Text, nullable=False),
    Column("last_at", DateTime(timezone=True), nullable=True),
    Column("latency_ms", Float, nullable=True),
)

monitor_alerts = Table(
    "monitor_alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),
    Column("key", String(200), nullable=False, index=True),
    # The key while the alert is unresolved, NULL after: the unique index is what makes an
    # alert open once, however many results or notifications race for it.
    Column("open_key", String(200), nullable=True, unique=True),
    Column("service", String(64), nullable=True),
    Column("env", String(64), nullable=True),
    Column("title", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("version", String(128), nullable=True),
    Column("deployed_by", String(32), nullable=True),
    Column("previous_version", String(128), nullable=True),
    Column("deploy_id", Integer, nullable=True),
    Column("acknowledged_by", String(32), nullable=True),
    Column("acknowledged_at", DateTime(timezone=True), nullable=True),
    Column("silenced_by", String(32), nullable=True),
    Column("silenced_until", DateTime(timezone=True), nullable=True),
    Column("resolved_by", String(32), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("channel_id", String(32), nullable=True),
    Column("message_ts", String(32), nullable=True),
    Column("thread_channel_id", String(32), nullable=True),
    Column("thread_ts", String(32), nullable=True),
    Column("previous_id", Integer, nullable=True),
    Column("labels", Text, nullable=False),
    Column("link", Text, nullable=True),
    # The outbox rows of its message and of its reply in the deploy thread: recorded before
    # they are posted, so a restart or a second process finds them instead of posting again.
    Column("message_id", Integer, nullable=True),
    Column("thread_message_id", Integer, nullable=True),
)

monitor_silences = Table(
    "monitor_silences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service", String(64), nullable=True),
    Column("env", String(64), nullable=True),
    Column("alert_id", Integer, nullable=True),
    Column("until", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    Column("ended_by", String(32), nullable=True),
    Column("alertmanager_id", String(64), nullable=True),
    Column("matchers", Text, nullable=False),
)

alertmanager_receipts = Table(
    "alertmanager_receipts",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

monitor_check_restarts = Table(
    "monitor_check_restarts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("alert_id", Integer, nullable=False),
    Column("asked_at", DateTime(timezone=True), nullable=False),
)
"""A check's alert resolved by hand, for whichever process runs the checks to start the
check over: the process that took the command may not be the one that checks."""
