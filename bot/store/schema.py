"""Every table module, imported so that the shared metadata knows all tables (for the
migration check and Alembic). A stage that adds tables adds its module here."""

from __future__ import annotations

from bot.store import (
    autoscale,  # noqa: F401  (the autoscaler's paused flags and recent recommendations)
    deploys,  # noqa: F401  (deploy requests and their votes)
    env_locks,  # noqa: F401  (environment locks)
    jobs,  # noqa: F401  (build, test and release jobs)
    leases,  # noqa: F401  (leases for singleton work, process heartbeats)
    monitor_tables,  # noqa: F401  (checks, alerts, silences, Alertmanager receipts)
    outbox,  # noqa: F401  (messages on their way to Slack)
    pipelines,  # noqa: F401  (/ship pipelines and their checklists)
    schedules,  # noqa: F401  (scheduled fire times, the sprint digest's memory)
    tables,
)
from bot.store.tables import metadata

__all__ = ["metadata", "tables"]
