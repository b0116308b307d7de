"""What a deploy request shows, and where, before anyone approves: it waits in the approval
channel with a mirror where it was asked (a vote on either counts), and an image built from a
commit the service's repository does not have says so in the request."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from bot.settings import Settings
from bot.workspace import SlackWorkspace
from tests.scenarios.deploy.support import (
    GOOD,
    Env,
    Images,
    ShiftableClock,
    answer,
    config_text,
    env,
    free_port,
    images,
    remove_deployments,
    request_message,
    start,
    text_of,
    wait_state,
)
from tests.scenarios.replies import reply_to
from tests.support.repos import make_repo

__all__ = ["env", "images"]


def test_an_approval_request_waits_in_ops_and_a_vote_on_either_message_counts(env: Env) -> None:
    ws = env.ws
    ws.user_command("U0ALICE", "C0DEV", "/deploy", f"{env.service} {GOOD} to prod")
    assert "waits for 1 approval(s) in <#C0OPS>" in reply_to(env.harness, "U0ALICE", nth=2)
    in_ops = request_message(ws, "C0OPS")
    mirror = request_message(ws, "C0DEV")
    assert "— *pending*" in text_of(in_ops) and "Asked in <#C0DEV>" in text_of(in_ops)
    assert "Approvers are asked in <#C0OPS>" in text_of(mirror)
    # Approved in ops: both messages end succeeded, and the thread is where it was asked.
    ws.user_react("U0BOB", "C0OPS", in_ops.ts, "white_check_mark")
    wait_state(ws, in_ops, "succeeded")
    wait_state(ws, mirror, "succeeded")
    assert answer(env.port) == GOOD
    thread = [m.text for m in ws.thread("C0DEV", mirror.ts)[1:] if m.is_bot]
    assert any(text.startswith("Succeeded") for text in thread), thread


@pytest.fixture
def stranger(
    workspace: SlackWorkspace,
    settings: Settings,
    images: Images,
    docker_client: docker.DockerClient,
    tmp_path: Path,
) -> Iterator[Env]:
    """A bot whose service repository is a new one: the test images' commits are not in it."""
    service = f"svc{uuid.uuid4().hex[:6]}"
    ports = (free_port(), free_port(), free_port())
    other_repo = make_repo(tmp_path / "new-repo", {"README": "again\n"}, "OPS-5 start over")
    text = config_text(images, service, ports).replace(str(images.repo_dir), str(other_repo))
    clock = ShiftableClock()
    running = Env(start(workspace, settings, text, clock), service, ports, clock)
    yield running
    running.harness.bot.stop()
    running.harness.slack.close()
    remove_deployments(docker_client, service)


def test_an_image_from_a_commit_the_repository_lacks_says_so_in_the_request(
    stranger: Env, images: Images
) -> None:
    ws = stranger.ws
    ws.user_command("U0ALICE", "C0DEV", "/deploy", f"{stranger.service} {GOOD} to prod")
    for channel in ("C0OPS", "C0DEV"):
        shown = text_of(request_message(ws, channel))
        assert "— *pending*" in shown
        revision = images.revisions[GOOD][:12]
        assert f"built from commit `{revision}`, which is not in" in shown, shown
        assert "Invalid revision range" not in shown and "git failed" not in shown
