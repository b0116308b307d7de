"""The autoscaler's memory: per service and environment, whether it is paused (and by whom),
and its recent recommendations (the stabilisation window), so a restart changes nothing."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Boolean, Column, DateTime, Engine, String, Table, Text, false, select
from sqlalchemy.exc import IntegrityError

from bot.core.operate.model import AutoscaleState
from bot.store.tables import as_utc, metadata

autoscale_state = Table(
    "autoscale_state",
    metadata,
    Column("service", String(64), primary_key=True),
    Column("env", String(64), primary_key=True),
    Column("paused", Boolean, nullable=False, server_default=false()),
    Column("paused_by", String(64), nullable=True),
    Column("history", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


class SqlAutoscaleStore:
    """bot.core.operate.model.AutoscaleStore on SQLAlchemy."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def get(self, service: str, env: str) -> AutoscaleState:
        """The stored state, or a fresh unpaused one."""
        table = autoscale_state
        query = select(table).where(table.c.service == service, table.c.env == env)
        with self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            return AutoscaleState(service, env)
        history = tuple(
            (as_utc(datetime.fromisoformat(at)), int(replicas))
            for at, replicas in json.loads(row["history"])
        )
        return AutoscaleState(service, env, bool(row["paused"]), row["paused_by"], history)

    def save(self, state: AutoscaleState, at: datetime) -> None:
        """Insert or replace the state."""
        table = autoscale_state
        values = {
            "paused": state.paused,
            "paused_by": state.paused_by,
            "history": json.dumps([(when.isoformat(), n) for when, n in state.history]),
            "updated_at": at,
        }
        key = (table.c.service == state.service) & (table.c.env == state.env)
        for _attempt in range(3):
            try:
                with self._engine.begin() as connection:
                    if connection.execute(table.update().where(key).values(**values)).rowcount:
                        return
                    connection.execute(
                        table.insert().values(service=state.service, env=state.env, **values)
                    )
                return
            except IntegrityError:
                # Another thread inserted the row first: the update goes through next time.
                continue
