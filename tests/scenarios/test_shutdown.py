"""Stopping opsloop: SIGTERM and SIGINT end `opsloop serve` cleanly (exit 0, the log says
so, the next start works), and a stop waits for work in hand for a bounded time only."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from bot.config import parse_config
from bot.core.build.job_context import JobContext, Outcome
from bot.core.build.jobs import Job, JobKind, JobState, new_job_id
from bot.core.build.runner import STOPPED_DETAIL
from bot.settings import Settings
from bot.workspace import SlackWorkspace
from tests.scenarios.conftest import CONFIG, Harness, start_bot
from tests.scenarios.served import DEADLINE, LISTENING, serve_env, serving
from tests.specs import REPO


@pytest.fixture
def env(workspace: SlackWorkspace, tmp_path: Path) -> dict[str, str]:
    """An `opsloop serve` with no engine: a clean stop must not depend on one."""
    return serve_env(workspace, tmp_path, CONFIG, DOCKER_HOST="unix:///nonexistent/docker.sock")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_serve_cleanly_and_the_next_start_works(
    env: dict[str, str], signum: int
) -> None:
    for start in ("first", "second"):
        with serving(env) as bot:
            base = bot.wait_for_line(LISTENING).group(1)
            assert httpx.get(base + "/healthz").json()["ok"] is True, start
            assert bot.end(signum) == 0, "\n".join(bot.lines)
        assert any(line.endswith("opsloop stopped") for line in bot.lines), bot.lines
        assert not any("Traceback" in line for line in bot.lines), bot.lines


def test_a_bad_shutdown_time_is_refused_at_start(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "serve", "--port", "0"],
        cwd=REPO, env={**env, "OPSLOOP_SHUTDOWN_SECONDS": "soon"},
        capture_output=True, text=True, timeout=DEADLINE, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "OPSLOOP_SHUTDOWN_SECONDS must be a number of seconds" in result.stderr


def _job(harness: Harness) -> Job:
    return Job(
        id=new_job_id(JobKind.BUILD), kind=JobKind.BUILD, service="web", ref="main",
        revision="b" * 40, user_id="U0ALICE", channel_id="C0DEV",
        created_at=harness.bot.services.clock.now(), log_path="",
    )  # fmt: skip


def test_a_stop_waits_for_work_in_hand_for_a_bounded_time_and_leaves_the_rest_to_the_next_start(
    workspace: SlackWorkspace, settings: Settings
) -> None:
    harness = start_bot(
        workspace, replace(settings, shutdown_seconds=1.0), parse_config(CONFIG, {})
    )
    stuck, polite = threading.Event(), threading.Event()

    def stuck_step(context: JobContext) -> Outcome:
        context.line("Step 1/1 : RUN a step that does not listen to cancel")
        stuck.wait(DEADLINE * 4)
        return Outcome(detail="built")

    def polite_step(context: JobContext) -> Outcome:
        context.line("Step 1/1 : RUN a step that stops when cancelled")
        context.cancel.on_cancel(polite.set)
        polite.wait(DEADLINE * 4)
        return Outcome(detail="built")

    builds = harness.bot.services.builds
    assert builds is not None
    stuck_job, _ = builds.runner.submit(_job(harness), stuck_step)
    polite_job, _ = builds.runner.submit(replace(_job(harness), revision="c" * 40), polite_step)
    try:
        cut_short = harness.bot.stop()
        # The stop came back while the stuck job was still in its step.
        assert not stuck.is_set()
        assert cut_short == [stuck_job.id]
        ended = builds.store.get(polite_job.id)
        assert ended is not None and (ended.state, ended.detail) == (
            JobState.CANCELLED, STOPPED_DETAIL,
        )  # fmt: skip
        left = builds.store.get(stuck_job.id)
        assert left is not None and left.state is JobState.RUNNING
        restarted = start_bot(workspace, settings, harness.bot.config)
        try:
            settled = restarted.bot.services.builds
            assert settled is not None
            found = settled.store.get(stuck_job.id)
            assert found is not None and found.state is JobState.FAILED
            assert "interrupted by a restart" in found.detail
        finally:
            restarted.bot.stop()
            restarted.slack.close()
    finally:
        stuck.set()
        # The cut-short job's thread ends now; let it finish before the workspace closes.
        builds.runner.stop(DEADLINE)
        harness.slack.close()
