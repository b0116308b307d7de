"""Build, test and release jobs in the store (the JobStore port)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from bot.core.build.jobs import Job, JobKind, JobState
from bot.store.db_clock import db_now
from bot.store.tables import as_utc, metadata

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("service", String(64), nullable=False),
    Column("ref", String(200), nullable=False),
    Column("revision", String(64), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("user_id", String(32), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("message_ts", String(32), nullable=False),
    Column("thread_ts", String(32), nullable=False),
    Column("image", String(300), nullable=False),
    Column("version", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("log_path", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("digest", String(100), nullable=False),
    Column("size", Integer, nullable=False),
    Column("owner", String(128), nullable=True),
    Column("heartbeat_at", DateTime(timezone=True), nullable=True),
)

_UNFINISHED = (JobState.QUEUED.value, JobState.RUNNING.value)


class SqlJobStore:
    """Jobs as rows; a job's id is its primary key. With an `owner` (this process's id), a
    new job is claimed by it, with a heartbeat (bot.core.ownership)."""

    def __init__(self, engine: Engine, owner: str | None = None) -> None:
        self._engine = engine
        self._owner = owner

    def add(self, job: Job) -> None:
        """Record a new job, claimed by this store's owner."""
        claim: dict[str, Any] = {}
        if self._owner is not None:
            claim = {"owner": self._owner, "heartbeat_at": db_now()}
        with self._engine.begin() as connection:
            connection.execute(insert(jobs).values(**_row(job), **claim))

    def save(self, job: Job) -> None:
        """Store the job's current fields."""
        values = _row(job)
        del values["id"]
        with self._engine.begin() as connection:
            connection.execute(update(jobs).where(jobs.c.id == job.id).values(**values))

    def get(self, job_id: str) -> Job | None:
        """The job with this id."""
        rows = self._select(select(jobs).where(jobs.c.id == job_id))
        return rows[0] if rows else None

    def recent(self, count: int) -> list[Job]:
        """The newest `count` jobs, newest first."""
        return self._select(select(jobs).order_by(jobs.c.created_at.desc()).limit(count))

    def unfinished(self) -> list[Job]:
        """Queued and running jobs, oldest first."""
        query = select(jobs).where(jobs.c.state.in_(_UNFINISHED)).order_by(jobs.c.created_at)
        return self._select(query)

    def find(
        self, kind: JobKind, service: str, revision: str, states: Sequence[JobState]
    ) -> list[Job]:
        """Jobs of this kind, service and revision in one of `states`, newest first."""
        query = (
            select(jobs)
            .where(jobs.c.kind == kind.value)
            .where(jobs.c.service == service)
            .where(jobs.c.revision == revision)
            .where(jobs.c.state.in_([s.value for s in states]))
            .order_by(jobs.c.created_at.desc())
        )
        return self._select(query)

    def released_versions(self, service: str) -> list[str]:
        """The versions of the service's succeeded releases, newest first."""
        query = (
            select(jobs.c.version)
            .where(jobs.c.kind == JobKind.RELEASE.value)
            .where(jobs.c.service == service)
            .where(jobs.c.state == JobState.SUCCEEDED.value)
            .where(jobs.c.version.is_not(None))
            .order_by(jobs.c.created_at.desc())
        )
        with self._engine.connect() as connection:
            return [str(version) for version in connection.execute(query).scalars()]

    def _select(self, query: Any) -> list[Job]:
        with self._engine.connect() as connection:
            return [_job(row) for row in connection.execute(query).mappings().all()]


def _row(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": job.kind.value,
        "service": job.service,
        "ref": job.ref,
        "revision": job.revision,
        "state": job.state.value,
        "user_id": job.user_id,
        "channel_id": job.channel_id,
        "message_ts": job.message_ts,
        "thread_ts": job.thread_ts,
        "image": job.image,
        "version": job.version,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "log_path": job.log_path,
        "detail": job.detail,
        "digest": job.digest,
        "size": job.size,
    }


def _job(row: Any) -> Job:
    return Job(
        id=row["id"],
        kind=JobKind(row["kind"]),
        service=row["service"],
        ref=row["ref"],
        revision=row["revision"],
        state=JobState(row["state"]),
        user_id=row["user_id"],
        channel_id=row["channel_id"],
        message_ts=row["message_ts"],
        thread_ts=row["thread_ts"],
        image=row["image"],
        version=row["version"],
        created_at=as_utc(row["created_at"]),
        started_at=as_utc(row["started_at"]),
        finished_at=as_utc(row["finished_at"]),
        log_path=row["log_path"],
        detail=row["detail"],
        digest=row["digest"],
        size=row["size"],
    )
