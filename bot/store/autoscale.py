"""The autoscaler's memory: per service and environment, whether it is paused (and by whom),
and its recent recommendations (the stabilisation window), so a restart changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    Text,
    false,
    select,
)
from sqlalchemy.exc import IntegrityError

from bot.core.leases import CurrentLease
from bot.core.operate.model import AutoscaleState
from bot.store.fencing import fenced
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
    Column("epoch", Integer, nullable=True),
)


class SqlAutoscaleStore:
    """bot.core.operate.model.AutoscaleStore on SQLAlchemy. The autoscaler's own store is
    `fence`d by the singletons' lease: its decisions are written with the lease's epoch,
    and refused (LeaseLost, nothing written, so nothing scaled) once the lease is lost."""

    def __init__(self, engine: Engine, fence: CurrentLease | None = None) -> None:
        self._engine = engine
        self._fence = fence

    @contextmanager
    def _writing(self) -> Iterator[tuple[Connection, int | None]]:
        if self._fence is None:
            with self._engine.begin() as connection:
                yield connection, None
        else:
            with fenced(self._engine, self._fence) as (connection, epoch):
                yield connection, epoch

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
        values: dict[str, Any] = {
            "paused": state.paused,
            "paused_by": state.paused_by,
            "history": json.dumps([(when.isoformat(), n) for when, n in state.history]),
            "updated_at": at,
        }
        key = (table.c.service == state.service) & (table.c.env == state.env)
        for _attempt in range(3):
            try:
                with self._writing() as (connection, epoch):
                    if epoch is not None:
                        values["epoch"] = epoch
                    if connection.execute(table.update().where(key).values(**values)).rowcount:
                        return
                    connection.execute(
                        table.insert().values(service=state.service, env=state.env, **values)
                    )
                return
            except IntegrityError:
                # Another thread inserted the row first: the update goes through next time.
                continue
