"""/build, /test and /release when their neighbours misbehave: a git server that never
answers, a Slack that refuses the job's messages, an ops channel that does not exist."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from docker import DockerClient
from sqlalchemy import select

from bot.config import parse_config
from bot.core import naming
from bot.core.build.jobs import Job, JobState
from bot.core.outbox import Delivery
from bot.settings import Settings
from bot.store.jobs import SqlJobStore
from bot.store.outbox import outbox
from bot.workspace import SlackWorkspace
from tests.scenarios.build.conftest import Stage, config_text
from tests.scenarios.conftest import start_bot
from tests.scenarios.replies import _readable, reply_to

pytestmark = pytest.mark.docker

GIT_TIMEOUT = 20


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A loopback HTTP address that accepts connections and never answers them."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        for connection in held:
            connection.close()


def _answers(workspace: SlackWorkspace, user: str) -> list[str]:
    return [_readable(e) for e in workspace.ephemerals("C0DEV", user)]


def test_a_hung_git_server_holds_no_router_worker(
    workspace: SlackWorkspace, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("integrations.git_repo.GIT_TIMEOUT", GIT_TIMEOUT)
    with silent_server() as url:
        text = (
            "slack:\n  ops_channel: C0OPS\nservices:\n"
            f"  one:\n    repo: {url}/one.git\n    image: 127.0.0.1:5000/hung/one\n"
            f"  two:\n    repo: {url}/two.git\n    image: 127.0.0.1:5000/hung/two\n"
        )
        harness = start_bot(workspace, settings, parse_config(text, {}))
        try:
            # Two fetches that hang: more than the router has workers.
            harness.slack.slash("/build", "one")
            harness.slack.slash("/build", "two")
            harness.slack.slash("/ops", "help", user_id="U0BOB")
            assert "/build" in reply_to(harness, "U0BOB")
            assert not any("could not reach" in a for a in _answers(workspace, "U0ALICE"))

            def unreachable() -> list[str]:
                found = [a for a in _answers(workspace, "U0ALICE") if "could not reach" in a]
                return found if len(found) == 2 else []

            said = workspace.wait_for(unreachable, timeout=GIT_TIMEOUT * 3, description="git")
            assert all(f"{url}/" in answer for answer in said)
            assert any("Do not run it again" in a for a in _answers(workspace, "U0ALICE"))
            assert workspace.messages("C0DEV") == []
            harness.slack.slash("/build", "list", user_id="U0BOB")
            assert "No builds, tests or releases yet" in reply_to(harness, "U0BOB", nth=2)
        finally:
            harness.bot.stop()
            harness.slack.close()


def test_a_job_runs_to_its_end_when_slack_refuses_its_messages(
    stage: Stage, docker_client: DockerClient
) -> None:
    faults = stage.workspace.faults
    faults.server_error("chat.postMessage", times=1000)
    faults.server_error("chat.update", times=1000)
    try:
        answer = stage.command("/build", "good")
        match = re.search(r"`(build-[0-9a-f]{6})`", answer)
        assert match, answer
        jobs = SqlJobStore(stage.harness.bot.engine)

        def finished() -> Job | None:
            job = jobs.get(match.group(1))
            return job if job is not None and job.state.finished else None

        job = stage.workspace.wait_for(finished, timeout=90, description="the build ends")
    finally:
        faults.clear()
    assert job.state is JobState.SUCCEEDED
    assert docker_client.images.get(job.image).labels[naming.LABEL_BUILD_ID] == job.id
    listing = stage.command("/build", "list")
    assert job.id in listing and "succeeded" in listing


def test_a_pushed_release_stands_when_its_announcement_fails(stage: Stage) -> None:
    harness = stage.harness
    harness.bot.stop()
    text = config_text(stage.repos, stage.images).replace("C0OPS", "C0NOWHERE")
    stage.harness = start_bot(harness.workspace, harness.settings, parse_config(text, {}))
    stage.command("/build", "good")
    stage.wait_message("Build good", ": succeeded")
    stage.command("/test", "good")
    stage.wait_message("Test good", ": succeeded")
    stage.command("/release", "good v2.0.0")
    stage.wait_message("Release good 2.0.0", ": succeeded")
    path = stage.images["good"].split("/", 1)[1]
    tags = httpx.get(f"http://{stage.registry}/v2/{path}/tags/list", trust_env=False).json()
    assert "2.0.0" in tags["tags"]

    # The announcement went to the outbox, which Slack refused for good: settled, not retried.
    engine = stage.harness.bot.engine

    def refused() -> list[str]:
        with engine.connect() as connection:
            rows = connection.execute(
                select(outbox.c.state, outbox.c.error).where(outbox.c.channel_id == "C0NOWHERE")
            ).all()
        return [error for state, error in rows if state == Delivery.FAILED.value]

    errors = stage.workspace.wait_for(refused, timeout=15, description="the refusal")
    assert len(errors) == 1 and "channel_not_found" in errors[0]
