"""SIGTERM to a real `opsloop serve` while a build step runs on the engine: the step is
stopped at once (no image is left), the job is recorded as cut short by the stop, the
process exits 0, and the next start serves again."""

from __future__ import annotations

import signal
import uuid
from pathlib import Path

import httpx
import pytest
from docker import DockerClient
from docker.errors import ImageNotFound
from sqlalchemy import create_engine

from bot.core.build.jobs import JobState
from bot.core.build.runner import STOPPED_DETAIL
from bot.store.jobs import SqlJobStore
from bot.workspace import SignedClient, SlackWorkspace
from tests.scenarios.build.conftest import config_text
from tests.scenarios.build.service_repos import SLOW_STEP, make_service_repo
from tests.scenarios.served import LISTENING, serve_env, serving

pytestmark = pytest.mark.docker

DEADLINE = 90.0


def test_sigterm_during_a_build_step_stops_it_and_exits_0(
    workspace: SlackWorkspace,
    tmp_path: Path,
    busybox_path: Path,
    registry_addr: str,
    docker_client: DockerClient,
) -> None:
    suffix = uuid.uuid4().hex[:8]
    repo = make_service_repo(tmp_path / "slow", busybox_path, "A slow build", extra=SLOW_STEP,
                             note=suffix)  # fmt: skip
    image = f"{registry_addr}/opsloop-test/slow-{suffix}"
    env = serve_env(
        workspace, tmp_path, config_text({"slow": repo}, {"slow": image}),
        OPSLOOP_SHUTDOWN_SECONDS="20",
    )  # fmt: skip
    with serving(env) as bot:
        events = bot.wait_for_line(LISTENING).group(1) + "/slack/events"
        with SignedClient(events, env["SLACK_SIGNING_SECRET"], workspace) as slack:
            assert slack.slash("/build", "slow").status_code == 200

            def top() -> object:
                found = [m for m in workspace.messages("C0DEV") if "Build slow" in m.text]
                return found[0] if found else None

            message = workspace.wait_for(top, timeout=DEADLINE, description="the job message")

            def warming_up() -> bool:
                replies = workspace.thread("C0DEV", message.ts)[1:]  # type: ignore[attr-defined]
                return any("warming up" in str(r.blocks) + r.text for r in replies)

            # The slow step (sleep 120) is running on the engine.
            workspace.wait_for(warming_up, timeout=DEADLINE, description="the slow step")
            assert bot.end(signal.SIGTERM) == 0, "\n".join(bot.lines)
    assert any(line.endswith("opsloop stopped") for line in bot.lines), bot.lines
    engine = create_engine(env["OPSLOOP_DATABASE_URL"])
    try:
        [job] = SqlJobStore(engine).recent(5)
    finally:
        engine.dispose()
    assert (job.state, job.detail) == (JobState.CANCELLED, STOPPED_DETAIL)
    assert not [i for i in docker_client.images.list() if any(image in t for t in i.tags)]
    with pytest.raises(ImageNotFound):
        docker_client.images.get(f"{image}:{job.revision[:12]}")
    with serving(env) as again:
        base = again.wait_for_line(LISTENING).group(1)
        assert httpx.get(base + "/healthz").json()["ok"] is True
        assert again.end(signal.SIGTERM) == 0, "\n".join(again.lines)
