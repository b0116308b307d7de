"""Scheduled-job fire times (claimed once across processes) and what the sprint digest
remembers between runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, Engine, String, Table, Text, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.core.clock import Clock
from bot.core.plan.model import DigestMemory
from bot.store.tables import metadata

schedule_fires = Table(
    "schedule_fires",
    metadata,
    Column("job_id", String(100), primary_key=True),
    Column("fire_time", String(40), primary_key=True),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
)

digest_memory = Table(
    "digest_memory",
    metadata,
    Column("job_id", String(100), primary_key=True),
    Column("data", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


def _key(moment: datetime) -> str:
    # One spelling per instant, whatever the zone it came in: the primary key must collide.
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SqlFireLedger:
    """The FireLedger port: the primary key (job, fire time) lets exactly one INSERT win."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def claim(self, job_id: str, fire_time: datetime) -> bool:
        """True for the first claim of this fire time, in any process."""
        row = {"job_id": job_id, "fire_time": _key(fire_time), "claimed_at": self._clock.now()}
        try:
            with self._engine.begin() as connection:
                connection.execute(insert(schedule_fires).values(**row))
        except IntegrityError:
            return False
        return True

    def last_fire(self, job_id: str) -> datetime | None:
        """The newest claimed fire time of the job."""
        query = select(func.max(schedule_fires.c.fire_time)).where(
            schedule_fires.c.job_id == job_id
        )
        with self._engine.connect() as connection:
            newest = connection.execute(query).scalar()
        if newest is None:
            return None
        return datetime.strptime(str(newest), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


class SqlDigestLedger:
    """What the last digest of a job saw."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def load(self, job_id: str) -> DigestMemory | None:
        """The memory of the last digest, if there was one."""
        query = select(digest_memory.c.data).where(digest_memory.c.job_id == job_id)
        with self._engine.connect() as connection:
            data = connection.execute(query).scalar()
        if data is None:
            return None
        raw = json.loads(data)
        return DigestMemory(
            done_keys=frozenset(raw["done_keys"]),
            done_points=float(raw["done_points"]),
            at=datetime.fromisoformat(raw["at"]),
        )

    def save(self, job_id: str, memory: DigestMemory) -> None:
        """Remember what this digest saw."""
        data = json.dumps(
            {
                "done_keys": sorted(memory.done_keys),
                "done_points": memory.done_points,
                "at": memory.at.isoformat(),
            }
        )
        now = self._clock.now()
        with self._engine.begin() as connection:
            changed = connection.execute(
                update(digest_memory)
                .where(digest_memory.c.job_id == job_id)
                .values(data=data, updated_at=now)
            ).rowcount
            if not changed:
                connection.execute(
                    insert(digest_memory).values(job_id=job_id, data=data, updated_at=now)
                )
