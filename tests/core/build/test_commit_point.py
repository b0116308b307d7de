"""A job's commit point (a release's push): from there the job is stored as succeeded, so
neither what follows nor a crash can make it fail; and after a restart, a job cut short
before it was recorded is recognised as having happened."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from bot.core.build.job_context import JobContext, Outcome
from bot.core.build.jobs import Job, JobKind, JobState
from bot.core.build.model import JobFailed
from bot.core.build.runner import JobRunner
from bot.core.build.stages import pushed_release
from bot.core.clock import SystemClock
from bot.core.errors import RegistryUnavailable
from bot.core.values import MessageRef, Reply

SHA = "1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d"


class MemoryJobs:
    """The JobStore port in a dict."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}

    def add(self, job: Job) -> None:
        self.jobs[job.id] = job

    def save(self, job: Job) -> None:
        self.jobs[job.id] = job

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def recent(self, count: int) -> list[Job]:
        return list(self.jobs.values())[-count:]

    def unfinished(self) -> list[Job]:
        return [j for j in self.jobs.values() if not j.state.finished]

    def find(
        self, kind: JobKind, service: str, revision: str, states: Sequence[JobState]
    ) -> list[Job]:
        return [j for j in self.jobs.values() if (j.kind, j.service, j.revision) ==
                (kind, service, revision) and j.state in states]  # fmt: skip

    def released_versions(self, service: str) -> list[str]:
        return [j.version for j in self.jobs.values()
                if j.kind is JobKind.RELEASE and j.state is JobState.SUCCEEDED]  # fmt: skip


class QuietSlack:
    """A notifier that takes every message."""

    def post(self, channel_id: str, reply: Reply, thread_ts: str | None = None) -> MessageRef:
        return MessageRef(channel_id, "1.1")

    def update(self, ref: MessageRef, reply: Reply) -> None:
        return None

    def respond(self, response_url: str, reply: Reply) -> None:
        return None

    def ephemeral(self, channel_id: str, user_id: str, reply: Reply) -> None:
        return None


def _release(version: str = "1.0.0") -> Job:
    return Job(
        id="release-abc123", kind=JobKind.RELEASE, service="web", ref="main", revision=SHA,
        user_id="U0ALICE", channel_id="C0DEV", created_at=datetime.now(UTC), log_path="",
        image=f"127.0.0.1:5000/web:{version}", version=version,
    )  # fmt: skip


def _wait(check: object, deadline: float = 10.0) -> None:
    until = time.monotonic() + deadline
    while not check():  # type: ignore[operator]
        assert time.monotonic() < until, "the condition never held"
        threading.Event().wait(0.01)


def test_a_job_is_stored_succeeded_at_its_commit_point_whatever_follows(tmp_path: Path) -> None:
    store = MemoryJobs()
    runner = JobRunner(store, QuietSlack(), SystemClock(), tmp_path)
    pushed, go_on = threading.Event(), threading.Event()

    def work(context: JobContext) -> Outcome:
        context.commit(Outcome(detail="Pushed `web:1.0.0`.", digest="sha256:ff"))
        pushed.set()
        go_on.wait(10)
        raise JobFailed("Slack refused the release notes")

    job, _ = runner.submit(_release(), work)
    assert pushed.wait(10)
    # Between the push and the notes: a crash here leaves a succeeded release.
    assert store.jobs[job.id].state is JobState.SUCCEEDED
    assert store.jobs[job.id].digest == "sha256:ff"
    go_on.set()
    _wait(lambda: store.jobs[job.id].detail.startswith("Pushed `web:1.0.0`. Afterwards:"))
    assert store.jobs[job.id].state is JobState.SUCCEEDED
    assert store.released_versions("web") == ["1.0.0"]
    runner.stop()


class Registry:
    """The ReleaseRegistry port with fixed tags and revision labels."""

    def __init__(self, revisions: dict[str, str], down: bool = False) -> None:
        self.revisions, self.down = revisions, down

    def tags(self, image: str) -> list[str]:
        if self.down:
            raise RegistryUnavailable("The registry does not answer.")
        return list(self.revisions)

    def revision(self, image: str, tag: str) -> str | None:
        return self.revisions.get(tag)


def _recover(registry: Registry, job: Job, tmp_path: Path) -> Job:
    store = MemoryJobs()
    store.add(dataclasses.replace(job, state=JobState.RUNNING, message_ts="1.1"))
    runner = JobRunner(store, QuietSlack(), SystemClock(), tmp_path)
    runner.recover(pushed_release(registry))
    runner.stop()
    return store.jobs[job.id]


def test_after_a_restart_a_release_whose_push_landed_is_recognised(tmp_path: Path) -> None:
    recovered = _recover(Registry({"1.0.0": SHA}), _release(), tmp_path)
    assert recovered.state is JobState.SUCCEEDED
    assert "found in the registry after a restart" in recovered.detail


def test_after_a_restart_a_release_not_in_the_registry_or_of_another_revision_failed(
    tmp_path: Path,
) -> None:
    missing = _recover(Registry({"0.9.0": SHA}), _release(), tmp_path)
    assert missing.state is JobState.FAILED
    other = _recover(Registry({"1.0.0": "f" * 40}), _release(), tmp_path)
    assert other.state is JobState.FAILED
    down = _recover(Registry({}, down=True), _release(), tmp_path)
    assert down.state is JobState.FAILED
    assert "could not be checked: The registry does not answer." in down.detail
