"""Build, test and release jobs: what was asked, by whom, where it reports, and how it ended.

    queued ──start──▶ running ──succeed──▶ succeeded
       │                 ├──────fail─────▶ failed
       └────cancel───────┴─────cancel────▶ cancelled      (queued may also fail)

A job's state lives in the store (JobStore), so `/build list` and a restart see it.
Transitions are idempotent: asking for the state a job is already in returns it unchanged;
moving out of a finished state is an InvalidTransition.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.core.errors import InvalidTransition


class JobKind(StrEnum):
    """What a job does."""

    BUILD = "build"
    TEST = "test"
    RELEASE = "release"


class JobState(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """Succeeded, failed or cancelled: nothing moves it any more."""
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


_ALLOWED: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.FAILED, JobState.CANCELLED}),
    JobState.RUNNING: frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED}),
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Job:
    """One build, test or release.

    `revision` is the full commit sha; `image` the image reference the job built, tested or
    released (`127.0.0.1:5000/web:1a2b3c4d5e6f`), `version` the release version, `detail`
    one line on how it ended, `log_path` the file holding the job's whole log.
    """

    id: str
    kind: JobKind
    service: str
    ref: str
    revision: str
    user_id: str
    channel_id: str
    created_at: datetime
    log_path: str
    state: JobState = JobState.QUEUED
    image: str = ""
    version: str = ""
    message_ts: str = ""
    thread_ts: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    detail: str = ""
    digest: str = ""
    size: int = 0

    @property
    def short(self) -> str:
        """The first 12 characters of the revision."""
        return self.revision[:12]

    def duration(self) -> float | None:
        """Seconds from start to finish, when both are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def new_job_id(kind: JobKind) -> str:
    """A short id the user can type: `build-3f2a9c`."""
    return f"{kind.value}-{uuid.uuid4().hex[:6]}"


def start(job: Job, at: datetime) -> Job:
    """queued → running."""
    if job.state is JobState.RUNNING:
        return job
    _check(job, JobState.RUNNING)
    return dataclasses.replace(job, state=JobState.RUNNING, started_at=at)


def succeed(job: Job, at: datetime, detail: str = "", *, digest: str = "", size: int = 0) -> Job:
    """running → succeeded, with what the job produced (image digest and size)."""
    done = _finish(job, JobState.SUCCEEDED, at, detail)
    return dataclasses.replace(done, digest=digest or job.digest, size=size or job.size)


def fail(job: Job, at: datetime, detail: str) -> Job:
    """queued or running → failed, saying why."""
    return _finish(job, JobState.FAILED, at, detail)


def cancel(job: Job, at: datetime, detail: str = "") -> Job:
    """queued or running → cancelled."""
    return _finish(job, JobState.CANCELLED, at, detail)


def _finish(job: Job, to: JobState, at: datetime, detail: str) -> Job:
    if job.state is to:
        return job
    _check(job, to)
    return dataclasses.replace(
        job,
        state=to,
        finished_at=at,
        started_at=job.started_at or at,
        detail=detail[:2000],
    )


def _check(job: Job, to: JobState) -> None:
    if to not in _ALLOWED[job.state]:
        raise InvalidTransition(f"Job `{job.id}` is already {job.state.value}; it cannot be {to}.")


class JobStore(Protocol):
    """Where jobs are kept, across restarts of the bot."""

    def add(self, job: Job) -> None:
        """Record a new job."""
        ...

    def save(self, job: Job) -> None:
        """Store the job's new state (and everything else it carries)."""
        ...

    def get(self, job_id: str) -> Job | None:
        """The job with this id."""
        ...

    def recent(self, count: int) -> list[Job]:
        """The newest `count` jobs, newest first."""
        ...

    def unfinished(self) -> list[Job]:
        """Jobs still queued or running, oldest first."""
        ...

    def find(
        self,
        kind: JobKind,
        service: str,
        revision: str,
        states: Sequence[JobState],
    ) -> list[Job]:
        """Jobs of this kind for this service and revision in one of `states`, newest first."""
        ...
