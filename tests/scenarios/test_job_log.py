"""A job's log file shows its lines while the job runs, so a crash or a hang leaves them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from bot.core.build.job_context import JobContext, Outcome
from bot.core.build.jobs import Job, JobKind, JobState, new_job_id
from tests.scenarios.conftest import Harness

DEADLINE = 10.0


def _until(condition: Callable[[], bool]) -> bool:
    """Whether `condition` held before the deadline (checked every few milliseconds)."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            return False
        threading.Event().wait(0.01)
    return True


def _job(harness: Harness) -> Job:
    return Job(
        id=new_job_id(JobKind.BUILD), kind=JobKind.BUILD, service="web", ref="main",
        revision="a" * 40, user_id="U0ALICE", channel_id="C0DEV",
        created_at=harness.bot.services.clock.now(), log_path="",
    )  # fmt: skip


def test_the_log_file_has_the_lines_while_the_job_still_runs(harness: Harness) -> None:
    release = threading.Event()

    def work(context: JobContext) -> Outcome:
        context.line("Step 1/2 : FROM scratch")
        context.line("copying the service in")
        # The job goes on running (as a long build step would) until the test is done.
        release.wait(DEADLINE * 3)
        return Outcome(detail="built")

    builds = harness.bot.services.builds
    assert builds is not None
    job, _joined = builds.runner.submit(_job(harness), work)
    try:
        log = Path(job.log_path)
        assert _until(lambda: log.exists() and "copying the service in" in log.read_text()), (
            "the log file stayed without the job's lines while it ran"
        )
        running = builds.store.get(job.id)
        assert running is not None and running.state is JobState.RUNNING
        assert log.read_text().splitlines() == ["Step 1/2 : FROM scratch", "copying the service in"]
    finally:
        release.set()
