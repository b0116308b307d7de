"""Work ownership in the store (bot.core.ownership.Ownership): the owner and heartbeat
columns of jobs and deploy_requests, timed by the database's clock."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, or_, select, update

from bot.core.build.jobs import JobState
from bot.core.deploy.model import DeployState
from bot.store.db_clock import db_now
from bot.store.deploys import deploy_requests
from bot.store.jobs import jobs

_UNFINISHED_JOBS = (JobState.QUEUED.value, JobState.RUNNING.value)
_RUNNING_DEPLOYS = (DeployState.RUNNING.value,)


class SqlOwnership:
    """The Ownership port for the process `owner`; work whose heartbeat is older than
    `ttl` seconds is orphaned."""

    def __init__(self, engine: Engine, owner: str, ttl: float) -> None:
        self._engine = engine
        self._owner = owner
        self._ttl = ttl

    def beat(self) -> None:
        """One UPDATE per table: the heartbeat of every unfinished row this process owns."""
        with self._engine.begin() as connection:
            for table, states in ((jobs, _UNFINISHED_JOBS), (deploy_requests, _RUNNING_DEPLOYS)):
                connection.execute(
                    update(table)
                    .where(table.c.owner == self._owner, table.c.state.in_(states))
                    .values(heartbeat_at=db_now())
                )

    def disown(self) -> None:
        """Clear the heartbeat of this process's unfinished rows (they stay owned by it,
        for the note in their thread)."""
        with self._engine.begin() as connection:
            for table, states in ((jobs, _UNFINISHED_JOBS), (deploy_requests, _RUNNING_DEPLOYS)):
                connection.execute(
                    update(table)
                    .where(table.c.owner == self._owner, table.c.state.in_(states))
                    .values(heartbeat_at=None)
                )

    def orphaned_jobs(self) -> dict[str, str | None]:
        """Unfinished jobs of other (or unknown) owners whose heartbeat ran out."""
        return {str(k): v for k, v in self._orphans(jobs, _UNFINISHED_JOBS).items()}

    def orphaned_deploys(self) -> dict[int, str | None]:
        """Running deploys of other (or unknown) owners whose heartbeat ran out."""
        return {int(k): v for k, v in self._orphans(deploy_requests, _RUNNING_DEPLOYS).items()}

    def _orphans(self, table: Any, states: tuple[str, ...]) -> dict[Any, str | None]:
        query = select(table.c.id, table.c.owner).where(
            table.c.state.in_(states),
            or_(table.c.owner.is_(None), table.c.owner != self._owner),
            or_(table.c.heartbeat_at.is_(None), table.c.heartbeat_at < db_now(-self._ttl)),
        )
        with self._engine.connect() as connection:
            return {row.id: row.owner for row in connection.execute(query)}
