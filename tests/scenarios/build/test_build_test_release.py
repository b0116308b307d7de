"""/build, /test and /release through the local Slack workspace, on the real engine, git
repositories and registry: effects are read from the engine, the registry and the channel."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from docker import DockerClient
from docker.errors import ImageNotFound

from bot.config import parse_config
from bot.core import naming
from bot.core.build.jobs import JobState
from bot.store.jobs import SqlJobStore
from tests.scenarios.build.conftest import Stage, config_text
from tests.scenarios.conftest import start_bot
from tests.support.repos import commit

pytestmark = pytest.mark.docker


def _sha(stage: Stage, service: str, ref: str = "HEAD") -> str:
    import subprocess

    done = subprocess.run(
        ["git", "-C", str(stage.repos[service]), "rev-parse", ref],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


def _job_id(answer: str) -> str:
    match = re.search(r"`((?:build|test|release)-[0-9a-f]{6})`", answer)
    assert match, answer
    return match.group(1)


def _thread_text(stage: Stage, message: object) -> str:
    replies = stage.workspace.thread("C0DEV", message.ts)[1:]  # type: ignore[attr-defined]
    return "\n".join(str(reply.blocks) + reply.text for reply in replies)


def _wait_thread(stage: Stage, message: object, part: str) -> str:
    """The thread's text once it holds `part` (the thread's last edit lands after the top
    message's)."""

    def holds() -> str | None:
        text = _thread_text(stage, message)
        return text if part in text else None

    return str(stage.workspace.wait_for(holds, timeout=15, description=part))


def _registry_tags(stage: Stage, service: str) -> list[str]:
    path = stage.images[service].split("/", 1)[1]
    answer = httpx.get(f"http://{stage.registry}/v2/{path}/tags/list", trust_env=False)
    return list(answer.json().get("tags") or []) if answer.status_code == 200 else []


def _build_and_test(stage: Stage, service: str) -> str:
    sha = _sha(stage, service)
    stage.command("/build", service)
    stage.wait_message(f"Build {service} @ {sha[:12]}", ": succeeded")
    stage.command("/test", service)
    stage.wait_message(f"Test {service} @ {sha[:12]}", ": succeeded")
    return sha


def test_build_test_release_and_release_notes_since_the_previous_release(
    stage: Stage, docker_client: DockerClient
) -> None:
    sha = _sha(stage, "good")
    answer = stage.command("/build", "good")
    build_id = _job_id(answer)
    top = stage.wait_message(f"Build good @ {sha[:12]}", ": succeeded")
    image = docker_client.images.get(f"{stage.images['good']}:{sha[:12]}")
    labels = image.labels
    assert labels[naming.OCI_REVISION] == sha
    assert labels[naming.OCI_SOURCE] == str(stage.repos["good"])
    assert labels[naming.LABEL_BUILD_ID] == build_id
    assert labels[naming.OCI_CREATED]
    assert image.id in str(top.blocks)  # type: ignore[attr-defined]
    assert "size" in str(top.blocks)  # type: ignore[attr-defined]
    # The private note that it started sits above the job's message (whose last edit is
    # the result), not below the result.
    [note] = [e for e in stage.workspace.ephemerals("C0DEV", "U0ALICE") if build_id in e.text]
    assert "Started" in note.text
    assert Decimal(note.ts) < Decimal(top.ts), (note.ts, top.ts)  # type: ignore[attr-defined]
    _wait_thread(stage, top, "Successfully built")
    # The thread ends on the result, and says where the whole log is kept.
    thread = _wait_thread(stage, top, "Build succeeded in")
    assert f"`jobs/{build_id}.log` in the bot's state directory" in thread
    assert (stage.harness.settings.state_dir / "jobs" / f"{build_id}.log").is_file()

    stage.command("/test", "good")
    tested = stage.wait_message(f"Test good @ {sha[:12]}", ": succeeded")
    assert "2 passed, 1 skipped (JUnit XML)" in tested.text  # type: ignore[attr-defined]
    _wait_thread(stage, tested, "test_one PASSED")
    assert docker_client.containers.list(all=True, filters={"label": "opsloop.service=good"}) == []

    stage.command("/release", "good 1.0.0")
    stage.wait_message("Release good 1.0.0", ": succeeded")
    assert "1.0.0" in _registry_tags(stage, "good")
    first = stage.wait_message("good 1.0.0 released", channel="C0OPS")
    assert "OPS-7" in str(first.blocks) and "first release" in str(first.blocks)  # type: ignore[attr-defined]
    # The wider team gets the same release notes in the team channel.
    for_team = stage.wait_message("good 1.0.0 released", channel="C0TEAM")
    assert str(for_team.blocks) == str(first.blocks)  # type: ignore[attr-defined]
    stage.command("/test", "good v1.0.0")
    stage.wait_message(f"Test good @ {sha[:12]} (1.0.0)", ": succeeded")

    commit(stage.repos["good"], {"app/NOTE": "v2\n"}, "OPS-9 fix the greeting")
    _build_and_test(stage, "good")
    stage.command("/release", "good v1.1.0")
    stage.wait_message("Release good 1.1.0", ": succeeded")
    notes = str(stage.wait_message("good 1.1.0 released", channel="C0OPS").blocks)  # type: ignore[attr-defined]
    assert "since 1.0.0" in notes and "OPS-9" in notes and "OPS-7" not in notes

    again = stage.command("/release", "good 1.1.0")
    assert "already in the registry" in again

    commit(stage.repos["good"], {"app/NOTE": "v3\n"}, "Untested change")
    untested = stage.command("/release", "good 1.2.0")
    assert "has no passing test" in untested
    assert "1.2.0" not in _registry_tags(stage, "good")
    with pytest.raises(ImageNotFound):
        docker_client.images.get(f"{stage.images['good']}:1.2.0")


def test_a_failed_build_shows_its_step_and_log_and_leaves_no_tag(
    stage: Stage, docker_client: DockerClient
) -> None:
    sha = _sha(stage, "broken")
    stage.command("/build", "broken")
    top = stage.wait_message(f"Build broken @ {sha[:12]}", ": failed")
    assert "missing semicolon" in top.text  # type: ignore[attr-defined]
    thread = _wait_thread(stage, top, "Failed at step 5/")
    assert "RUN echo compiling the app" in thread and "error: missing semicolon" in thread
    with pytest.raises(ImageNotFound):
        docker_client.images.get(f"{stage.images['broken']}:{sha[:12]}")


def test_failing_tests_report_the_summary_and_the_log_tail(
    stage: Stage, docker_client: DockerClient
) -> None:
    sha = _sha(stage, "flaky")
    stage.command("/build", "flaky")
    stage.wait_message(f"Build flaky @ {sha[:12]}", ": succeeded")
    stage.command("/test", f"flaky {sha[:12]}")
    top = stage.wait_message(f"Test flaky @ {sha[:12]}", ": failed")
    assert "exit code 1" in top.text and "2 passed, 1 failed (JUnit XML)" in top.text  # type: ignore[attr-defined]
    assert "Failing: `tests.test_app.test_two`" in top.text  # type: ignore[attr-defined]
    _wait_thread(stage, top, "tests.test_app.test_two: assert 1 == 2")
    assert docker_client.containers.list(all=True, filters={"label": "opsloop.service=flaky"}) == []
    refused = stage.command("/release", "flaky 1.0.0")
    assert "has no passing test" in refused


def _answers(stage: Stage, user: str = "U0ALICE") -> list[str]:
    return [str(answer.text) for answer in stage.workspace.ephemerals("C0DEV", user)]


def test_release_right_after_test_waits_for_the_running_test_then_releases(
    stage: Stage,
) -> None:
    sha = _sha(stage, "patient")
    stage.command("/build", "patient")
    stage.wait_message(f"Build patient @ {sha[:12]}", ": succeeded")
    test_id = _job_id(stage.command("/test", "patient"))
    # The test sleeps before it passes: it is still running when /release arrives.
    started = stage.command("/release", "patient 1.0.0")
    assert "Started `release-" in started, started
    waiting = [answer for answer in _answers(stage) if "waits for it" in answer]
    assert len(waiting) == 1 and test_id in waiting[0] and "running" in waiting[0]
    stage.wait_message(f"Test patient @ {sha[:12]}", ": succeeded")
    stage.wait_message("Release patient 1.0.0", ": succeeded")
    assert "1.0.0" in _registry_tags(stage, "patient")


def test_release_waiting_for_a_test_that_fails_says_why_and_releases_nothing(
    stage: Stage,
) -> None:
    sha = _sha(stage, "grumpy")
    stage.command("/build", "grumpy")
    stage.wait_message(f"Build grumpy @ {sha[:12]}", ": succeeded")
    test_id = _job_id(stage.command("/test", "grumpy"))
    refused = stage.command("/release", "grumpy 1.0.0")
    assert f"`{test_id}` failed: Tests failed (exit code 1)" in refused, refused
    assert "`grumpy` 1.0.0 was not released" in refused
    assert _registry_tags(stage, "grumpy") == []
    assert not [m for m in stage.workspace.messages("C0DEV") if "Release grumpy" in m.text]


def test_a_refused_push_fails_the_release_and_removes_its_tag(
    stage: Stage, docker_client: DockerClient
) -> None:
    _build_and_test(stage, "refused")
    stage.command("/release", "refused 1.0.0")
    top = stage.wait_message("Release refused 1.0.0", ": failed")
    assert "read-only" in top.text  # type: ignore[attr-defined]
    with pytest.raises(ImageNotFound):
        docker_client.images.get(f"{stage.images['refused']}:1.0.0")
    assert stage.workspace.messages("C0OPS") == []


def test_same_build_joins_is_listed_and_can_be_cancelled(
    stage: Stage, docker_client: DockerClient
) -> None:
    sha = _sha(stage, "slow")
    first = stage.command("/build", "slow")
    job_id = _job_id(first)
    top = stage.wait_message(f"Build slow @ {sha[:12]}")
    joined = stage.command("/build", "slow main", user="U0BOB")
    assert "you joined it" in joined and job_id in joined
    assert len(stage.workspace.messages("C0DEV")) == 1
    _wait_thread(stage, top, "warming up")
    listing = stage.command("/build", "list")
    assert job_id in listing and "running" in listing
    assert "Cancelling" in stage.command("/build", f"cancel {job_id}")
    stage.wait_message(f"Build slow @ {sha[:12]}", ": cancelled")
    with pytest.raises(ImageNotFound):
        docker_client.images.get(f"{stage.images['slow']}:{sha[:12]}")
    assert "is cancelled" in stage.command("/build", f"cancel {job_id}")
    assert "no job `build-000000`" in stage.command("/build", "cancel build-000000")


def test_a_restart_marks_interrupted_jobs_failed_in_their_thread(stage: Stage) -> None:
    sha = _sha(stage, "good")
    job_id = _job_id(stage.command("/build", "good"))
    top = stage.wait_message(f"Build good @ {sha[:12]}", ": succeeded")
    harness = stage.harness
    harness.bot.stop()
    # What a crash mid-build leaves in the store: the job still marked running.
    jobs = SqlJobStore(harness.bot.engine)
    job = jobs.get(job_id)
    assert job is not None
    jobs.save(dataclasses.replace(job, state=JobState.RUNNING, finished_at=None))
    restarted = start_bot(harness.workspace, harness.settings, harness.bot.config)
    stage.harness = restarted
    stage.wait_message(f"Build good @ {sha[:12]}", ": failed", "interrupted by a restart")
    _wait_thread(stage, top, "was interrupted")
    assert job_id in stage.command("/build", "list")


def test_a_release_cut_short_after_its_push_is_recognised_from_the_registry(
    stage: Stage,
) -> None:
    _build_and_test(stage, "good")
    job_id = _job_id(stage.command("/release", "good 1.0.0"))
    top = stage.wait_message("Release good 1.0.0", ": succeeded")
    harness = stage.harness
    harness.bot.stop()
    # What a kill right after the push leaves: the version in the registry, the job running.
    jobs = SqlJobStore(harness.bot.engine)
    job = jobs.get(job_id)
    assert job is not None and "1.0.0" in _registry_tags(stage, "good")
    jobs.save(dataclasses.replace(job, state=JobState.RUNNING, finished_at=None, detail=""))
    assert jobs.released_versions("good") == []
    stage.harness = start_bot(harness.workspace, harness.settings, harness.bot.config)
    stage.wait_message("Release good 1.0.0", ": succeeded")
    _wait_thread(stage, top, "it is marked succeeded")
    # The version is not burnt: the release log (what protected environments take) has it.
    assert SqlJobStore(stage.harness.bot.engine).released_versions("good") == ["1.0.0"]
    assert "already in the registry" in stage.command("/release", "good 1.0.0")


@pytest.mark.parametrize(
    ("command", "text", "expected"),
    [
        ("/build", "billing", "Unknown service `billing`"),
        ("/build", "good no-such-branch", "is not a branch, tag or commit"),
        ("/build", 'good "main;touch /tmp/opsloop-pwned"', "not a valid git branch"),
        ("/build", "good ../../etc/passwd", "not a valid git branch"),
        ("/test", "good", "There is no image of `good`"),
        ("/release", "good 1.0", "not a semantic version"),
        ("/release", "good 1.0.0", "has no passing test"),
        ("/build", "lost", "git failed on"),
        ("/release", "offline 1.0.0", "does not answer"),
        ("/build", "cancel nope", "There is no job `nope`"),
    ],
)
def test_bad_input_is_answered_and_changes_nothing(
    stage: Stage, command: str, text: str, expected: str
) -> None:
    assert expected in stage.command(command, text)
    assert stage.workspace.messages("C0DEV") == []
    assert "No builds, tests or releases yet" in stage.command("/build", "list")
    assert not Path("/tmp/opsloop-pwned").exists()


def test_engine_down_is_answered_before_anything_starts(stage: Stage) -> None:
    harness = stage.harness
    harness.bot.stop()
    config = parse_config(
        config_text(stage.repos, stage.images, docker_host="unix:///nonexistent/docker.sock"), {}
    )
    stage.harness = start_bot(harness.workspace, harness.settings, config)
    said = stage.command("/build", "good")
    assert "unix:///nonexistent/docker.sock has no socket there" in said
    assert stage.workspace.messages("C0DEV") == []
