"""The sprint digest with two `opsloop serve` processes on one PostgreSQL schema: each fire
time is posted once across both, including when the process that posted it is killed -9
right after and the other takes the schedule over (with it, the next fire time)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.workspace import SlackWorkspace
from tests.scenarios.two_served import pair_env, served_pair
from tests.support.jira_cloud import TOKEN, USER
from tests.support.jira_dc import JiraDC, World, running_jira_dc
from tests.support.postgres import fresh_schema

TTL = 3.0
MINUTE = 60.0

CONFIG = """
slack:
  ops_channel: C0OPS
  team_channel: C0TEAM
jira:
  url: {url}
  user: {user}
  token_env: JIRA_TOKEN
  board: 7
  project: OPS
  digest: {{cron: "* * * * *", timezone: UTC}}
"""


@pytest.fixture
def jira_dc() -> Iterator[JiraDC]:
    with running_jira_dc() as running:
        running.seed(World().sprint(11, "Sprint 11", "active", goal="Ship login"))
        yield running


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_schema() as url:
        yield url


def _digests(workspace: SlackWorkspace) -> list[str]:
    return [m.ts for m in workspace.messages("C0TEAM") if "Sprint digest" in m.text]


def test_each_digest_fire_time_is_posted_once_across_two_processes_and_a_kill_9(
    workspace: SlackWorkspace, tmp_path: Path, postgres_url: str, jira_dc: JiraDC
) -> None:
    config = CONFIG.format(url=jira_dc.url, user=USER)
    envs = pair_env(
        workspace, tmp_path, config, postgres_url, JIRA_TOKEN=TOKEN,
        OPSLOOP_LEASE_SECONDS=str(TTL), DOCKER_HOST="unix:///nonexistent/docker.sock",
    )  # fmt: skip
    with served_pair(envs) as ((holder, standby), urls):
        workspace.wait_for(lambda: _digests(workspace), timeout=MINUTE + 15,
                           description="the first digest")  # fmt: skip
        holder.process.kill()  # right after it posted: the standby must not post it again
        holder.process.wait()
        workspace.wait_for(
            lambda: httpx.get(urls[1] + "/healthz").json()["leases"] == ["singletons"],
            timeout=TTL + TTL / 3 + 2, description="the standby to take the lease",
        )  # fmt: skip
        workspace.wait_for(lambda: len(_digests(workspace)) >= 2, timeout=MINUTE + 15,
                           description="the next fire time's digest")  # fmt: skip
        assert standby.end(signal.SIGTERM) == 0
    posted = _digests(workspace)
    assert len(posted) == 2
    # The second was posted in the next minute (its own fire time), not as a repeat of the
    # first when the lease moved.
    assert len({int(float(ts) // MINUTE) for ts in posted}) == 2
