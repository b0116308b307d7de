"""The job state machine, build steps and release ordering: pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.build import jobs
from bot.core.build.jobs import Job, JobKind, JobState
from bot.core.build.model import CancelToken, parse_step, previous_release, release_version
from bot.core.build.views import code_block, job_message, progress_message
from bot.core.errors import InvalidTransition

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _job() -> Job:
    return Job(
        id="build-abc123",
        kind=JobKind.BUILD,
        service="web",
        ref="main",
        revision="1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d",
        user_id="U0ALICE",
        channel_id="C0DEV",
        created_at=T0,
        log_path="/state/jobs/build-abc123.log",
        image="127.0.0.1:5000/web:1a2b3c4d5e6f",
    )


def test_a_job_runs_then_succeeds_with_what_it_produced() -> None:
    running = jobs.start(_job(), T0)
    done = jobs.succeed(running, T0 + timedelta(seconds=42), "built", digest="sha256:ff", size=7)
    assert done.state is JobState.SUCCEEDED
    assert done.duration() == 42
    assert (done.digest, done.size) == ("sha256:ff", 7)


def test_transitions_are_idempotent() -> None:
    running = jobs.start(_job(), T0)
    assert jobs.start(running, T0 + timedelta(seconds=5)) is running
    failed = jobs.fail(running, T0, "boom")
    assert jobs.fail(failed, T0 + timedelta(seconds=9), "again") is failed


@pytest.mark.parametrize("move", [jobs.start, jobs.succeed])
def test_a_finished_job_does_not_move(move: object) -> None:
    cancelled = jobs.cancel(_job(), T0)
    with pytest.raises(InvalidTransition, match="already cancelled"):
        move(cancelled, T0)  # type: ignore[operator]


def test_a_queued_job_cannot_succeed_without_running() -> None:
    with pytest.raises(InvalidTransition):
        jobs.succeed(_job(), T0)


def test_queued_and_running_are_unfinished() -> None:
    assert not JobState.QUEUED.finished and not JobState.RUNNING.finished
    assert all(s.finished for s in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED))


def test_build_steps_are_read_from_the_classic_builder_log() -> None:
    step = parse_step("Step 3/5 : RUN make all")
    assert step is not None and step.label() == "3/5 RUN make all"
    assert parse_step(" ---> Running in 4f2a") is None


def test_the_previous_release_is_the_newest_older_semver_tag() -> None:
    tags = ["latest", "1.0.0", "1.10.0", "1.2.0", "v1.9.1", "2.0.0-rc.1", "1a2b3c4d5e6f"]
    assert previous_release(tags, "2.0.0") == "2.0.0-rc.1"
    assert previous_release(tags, "1.10.1") == "1.10.0"
    assert previous_release(tags, "1.9.5") == "v1.9.1"
    assert previous_release(tags, "0.1.0") is None
    assert release_version("latest") is None


def test_pre_releases_are_ordered_by_semver_precedence() -> None:
    # Numeric identifiers compare as numbers: rc.10 comes after rc.2.
    assert previous_release(["1.0.0-rc.2", "1.0.0-rc.10"], "1.0.0") == "1.0.0-rc.10"
    assert previous_release(["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta"], "1.0.0-rc.1") == (
        "1.0.0-beta"
    )
    assert previous_release(["1.0.0-rc.10", "1.0.0-rc.9"], "1.0.0-rc.10") == "1.0.0-rc.9"


def test_cancel_runs_stop_callbacks_once_even_when_registered_late() -> None:
    token = CancelToken()
    calls: list[str] = []
    token.on_cancel(lambda: calls.append("early"))
    token.cancel()
    token.cancel()
    token.on_cancel(lambda: calls.append("late"))
    assert calls == ["early", "late"]


def test_the_job_message_shows_state_duration_size_and_digest() -> None:
    done = jobs.succeed(
        jobs.start(_job(), T0), T0 + timedelta(seconds=75), "ok", digest="sha256:ab", size=2_400_000
    )
    text = str(job_message(done).blocks)
    assert "succeeded" in text and "1m 15s" in text and "2.4 MB" in text and "sha256:ab" in text


def test_a_failed_build_shows_its_failing_step_and_code_block_never_breaks_out() -> None:
    failed = jobs.fail(jobs.start(_job(), T0), T0, "The build failed")
    reply = progress_message(failed, parse_step("Step 4/5 : RUN false"), ["a", "``` <@U1>"])
    text = str(reply.blocks)
    assert "Failed at step 4/5 RUN false" in text
    assert "&lt;@U1&gt;" in text and text.count("```") == 2


def test_code_blocks_keep_the_newest_lines_within_a_section() -> None:
    block = code_block([f"line {i} " + "x" * 200 for i in range(100)])
    assert len(block) <= 3000
    assert "line 99" in block and "line 0 " not in block


def test_the_public_thread_names_the_log_under_the_state_directory_not_a_full_path() -> None:
    shown = str(progress_message(jobs.start(_job(), T0), None, ["Step 1/2 : FROM scratch"]).blocks)
    assert "`jobs/build-abc123.log` in the bot's state directory" in shown
    assert "/state/jobs" not in shown


def test_a_finished_thread_ends_on_its_result_not_on_the_last_step() -> None:
    last = parse_step("Step 12/12 : LABEL org.opencontainers.image.revision=1a2b")
    done = jobs.succeed(jobs.start(_job(), T0), T0 + timedelta(seconds=3), "built")
    reply = progress_message(done, last, ["Step 12/12 : LABEL x", "Successfully built 1a2b"])
    head = str(reply.blocks[0])
    assert "Build succeeded* in 3.0s" in head and "Step 12/12" not in head
    assert "Build succeeded in 3.0s" in reply.text
    cancelled = jobs.cancel(jobs.start(_job(), T0), T0 + timedelta(seconds=1))
    assert "Build cancelled" in str(progress_message(cancelled, last, []).blocks[0])
