"""A pipeline's build, test and release steps over the real job runner (fake work and
Slack): a restart anywhere in a step submits its job once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.core.build.job_context import JobContext, Outcome, Work
from bot.core.build.jobs import Job
from bot.core.build.runner import JobRunner
from bot.core.build.stages import BuildStages
from bot.core.clock import SystemClock
from bot.core.ship import job_steps
from bot.core.ship.desk import WORK
from bot.core.ship.model import NewPipeline, Pipeline, StepKind, StepState, begin, plan_steps
from bot.core.ship.run import PipelineRun, ShipDeps
from bot.core.ship.watching import ShipService, ShipSettings
from bot.store.db import open_store
from bot.store.pipelines import SqlPipelineStore
from tests.core.build.test_commit_point import MemoryJobs, QuietSlack

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SERVICE = ShipService("web", "./web", "127.0.0.1:5000/web", pipeline=("staging",))


class Crash(BaseException):
    """The process dies here (nothing after it runs, nothing catches it)."""


class CrashingRunner:
    """A job runner in a process that dies right after (or right before) submitting."""

    def __init__(self, runner: JobRunner, *, after: bool) -> None:
        self._runner = runner
        self._after = after

    def submit(self, job: Job, work: Work) -> tuple[Job, bool]:
        if not self._after:
            raise Crash()
        self._runner.submit(job, work)
        raise Crash()


@pytest.fixture(autouse=True)
def fake_build(monkeypatch: pytest.MonkeyPatch) -> None:
    def work(context: JobContext) -> Outcome:
        return Outcome(detail="built")

    monkeypatch.setattr(job_steps, "building", lambda *_args: work)


def _deps(tmp_path: Path, jobs: MemoryJobs, runner: Any) -> ShipDeps:
    """What one process runs a pipeline with (each its own job runner, one store)."""
    builds: Any = BuildStages(jobs, runner, SimpleNamespace())  # type: ignore[arg-type]
    return ShipDeps(
        settings=ShipSettings("C0OPS", {"web": SERVICE}),
        store=SqlPipelineStore(open_store(f"sqlite:///{tmp_path / 'ship.db'}")), builds=builds,
        repository=lambda _s: None,  # type: ignore[arg-type,return-value]
        deploys=None, feed=None, notifier=QuietSlack(), outbox=None,  # type: ignore[arg-type]
        clock=SystemClock(), poll=0.02,
    )  # fmt: skip


def _pipeline(deps: ShipDeps) -> Pipeline:
    new = NewPipeline("web", "1.3.0", "HEAD", ("staging",), "U0ALICE", "C0DEV", NOW)
    p, _created = deps.store.create(new, plan_steps(("staging",)))
    p = begin(p, 0, NOW)
    deps.store.save(p)
    return p


def _resume_build(tmp_path: Path, jobs: MemoryJobs, p: Pipeline) -> StepState:
    """The next process takes the pipeline up and runs its build step again."""
    deps = _deps(tmp_path, jobs, JobRunner(jobs, QuietSlack(), SystemClock(), tmp_path))
    stored = deps.store.get(p.id)
    assert stored is not None
    run = PipelineRun(deps, stored, WORK, threading.Event(), resumed=True)
    return WORK[StepKind.BUILD](run, 0).state


def test_a_restart_right_after_the_job_was_submitted_waits_for_it_and_submits_no_other(
    tmp_path: Path,
) -> None:
    jobs = MemoryJobs()
    runner = CrashingRunner(JobRunner(jobs, QuietSlack(), SystemClock(), tmp_path), after=True)
    deps = _deps(tmp_path, jobs, runner)
    p = _pipeline(deps)
    with pytest.raises(Crash):
        WORK[StepKind.BUILD](PipelineRun(deps, p, WORK, threading.Event()), 0)
    (submitted,) = jobs.jobs
    assert _resume_build(tmp_path, jobs, p) is StepState.PASSED
    assert list(jobs.jobs) == [submitted], "the job submitted before the restart, only"
    assert deps.store.get(p.id).steps[0].link == submitted  # type: ignore[union-attr]


def test_a_restart_right_before_the_job_was_submitted_submits_it_once(tmp_path: Path) -> None:
    jobs = MemoryJobs()
    runner = CrashingRunner(JobRunner(jobs, QuietSlack(), SystemClock(), tmp_path), after=False)
    deps = _deps(tmp_path, jobs, runner)
    p = _pipeline(deps)
    with pytest.raises(Crash):
        WORK[StepKind.BUILD](PipelineRun(deps, p, WORK, threading.Event()), 0)
    assert jobs.jobs == {}
    assert _resume_build(tmp_path, jobs, p) is StepState.PASSED
    (submitted,) = jobs.jobs
    assert deps.store.get(p.id).steps[0].link == submitted  # type: ignore[union-attr]
