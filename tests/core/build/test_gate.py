"""/release's gate: an image that passed /test, after waiting for the build or test of the
revision that is still under way; or why there is none. A real JobRunner, on a job store and
a Slack stand-in kept in memory."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core.build.gate import ReleaseRequest, image_to_release
from bot.core.build.jobs import Job, JobKind, JobState
from bot.core.build.model import ImageInfo, JobFailed
from bot.core.build.runner import JobContext, JobRunner, Outcome
from bot.core.clock import SystemClock
from bot.core.errors import Conflict
from bot.core.values import MessageRef, Reply

SHA = "a" * 40
REQUEST = ReleaseRequest("web", SHA, "main", "1.0.0", test_timeout=60)


class MemoryJobs:
    """The JobStore port in a dict."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def add(self, job: Job) -> None:
        with self._lock:
            self.jobs[job.id] = job

    def save(self, job: Job) -> None:
        self.add(job)

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def recent(self, count: int) -> list[Job]:
        return sorted(self.jobs.values(), key=lambda j: j.created_at, reverse=True)[:count]

    def unfinished(self) -> list[Job]:
        return [job for job in self.jobs.values() if not job.state.finished]

    def find(
        self, kind: JobKind, service: str, revision: str, states: Sequence[JobState]
    ) -> list[Job]:
        return [
            job
            for job in self.recent(1000)
            if (job.kind, job.service, job.revision) == (kind, service, revision)
            and job.state in states
        ]

    def releases(self, service: str) -> list[Job]:
        return []


class QuietSlack:
    """Takes every message; says nothing back."""

    def respond(self, response_url: str, reply: Reply) -> None:
        pass

    def post(self, channel_id: str, reply: Reply, thread_ts: str | None = None) -> MessageRef:
        return MessageRef(channel_id, "1.1")

    def update(self, ref: MessageRef, reply: Reply) -> None:
        pass

    def ephemeral(self, channel_id: str, user_id: str, reply: Reply) -> None:
        pass


class Images:
    """An engine that has every image it is asked about."""

    def inspect(self, reference: str) -> ImageInfo | None:
        return ImageInfo(id=f"sha256:{reference}", size=1, labels={})


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[tuple[JobRunner, MemoryJobs]]:
    jobs = MemoryJobs()
    running = JobRunner(jobs, QuietSlack(), SystemClock(), tmp_path)
    yield running, jobs
    running.stop()


def _job(kind: JobKind) -> Job:
    return Job(
        id=f"{kind.value}-{kind.value[:3]}001", kind=kind, service="web", ref="main",
        revision=SHA, user_id="U1", channel_id="C1", created_at=datetime.now(UTC),
        log_path="", image=f"reg/web:{SHA[:12]}",
    )  # fmt: skip


def _held(gate: threading.Event, fails: bool = False) -> object:
    def work(_context: JobContext) -> Outcome:
        assert gate.wait(30)
        if fails:
            raise JobFailed("Tests failed (exit code 1).")
        return Outcome(detail="done")

    return work


def _release_in_thread(
    runner: JobRunner, jobs: MemoryJobs, said: list[str]
) -> tuple[threading.Thread, list[object]]:
    result: list[object] = []

    def release() -> None:
        try:
            result.append(image_to_release(REQUEST, jobs, runner, Images(), said.append))
        except Conflict as refused:
            result.append(refused)

    thread = threading.Thread(target=release)
    thread.start()
    return thread, result


def _wait_for(condition: object) -> None:
    done = threading.Event()
    for _ in range(3000):
        if condition():  # type: ignore[operator]
            return
        done.wait(0.01)
    raise AssertionError("condition not met within 30 s")


def test_release_waits_for_the_running_test_and_goes_on_when_it_passes(
    runner: tuple[JobRunner, MemoryJobs],
) -> None:
    jobs_runner, jobs = runner
    gate = threading.Event()
    test, _ = jobs_runner.submit(_job(JobKind.TEST), _held(gate))  # type: ignore[arg-type]
    said: list[str] = []
    thread, result = _release_in_thread(jobs_runner, jobs, said)
    _wait_for(lambda: said)
    assert test.id in said[0] and "releases it when the test passes" in said[0]
    assert result == []
    gate.set()
    thread.join(30)
    assert result == [ImageInfo(id=f"sha256:{test.image}", size=1, labels={})]


def test_a_test_that_fails_meanwhile_is_the_answer(runner: tuple[JobRunner, MemoryJobs]) -> None:
    jobs_runner, jobs = runner
    gate = threading.Event()
    test, _ = jobs_runner.submit(_job(JobKind.TEST), _held(gate, fails=True))  # type: ignore[arg-type]
    said: list[str] = []
    thread, result = _release_in_thread(jobs_runner, jobs, said)
    _wait_for(lambda: said)
    gate.set()
    thread.join(30)
    assert isinstance(result[0], Conflict)
    assert result[0].message == (
        f"`{test.id}` failed: Tests failed (exit code 1). `web` 1.0.0 was not released."
    )


def test_a_build_that_ends_without_a_test_says_to_run_the_test(
    runner: tuple[JobRunner, MemoryJobs],
) -> None:
    jobs_runner, jobs = runner
    gate = threading.Event()
    build, _ = jobs_runner.submit(_job(JobKind.BUILD), _held(gate))  # type: ignore[arg-type]
    said: list[str] = []
    thread, result = _release_in_thread(jobs_runner, jobs, said)
    _wait_for(lambda: said)
    assert "The build of `web`" in said[0] and build.id in said[0]
    gate.set()
    thread.join(30)
    assert isinstance(result[0], Conflict)
    assert "has no passing test yet" in result[0].message
    assert "Run `/test web main`, then /release" in result[0].message


def test_nothing_under_way_is_refused_at_once(runner: tuple[JobRunner, MemoryJobs]) -> None:
    jobs_runner, jobs = runner
    said: list[str] = []
    with pytest.raises(Conflict, match="has no passing test on this engine"):
        image_to_release(REQUEST, jobs, jobs_runner, Images(), said.append)
    assert said == []
    done = dataclasses.replace(_job(JobKind.TEST), state=JobState.SUCCEEDED)
    jobs.add(done)
    assert image_to_release(REQUEST, jobs, jobs_runner, Images(), said.append).id.endswith(SHA[:12])
