"""/status over an estate of 150 services (160 deployments) on the real engine, through the
local workspace: the counts first, one row per deployment from one engine listing, pages
turned in place, each filter, the export, open alerts in the rows and in one service's view,
and bad words refused (the workspace checks Slack's limits on every message)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import docker
import pytest

from bot.core.monitor.model import AlertState
from bot.settings import Settings
from bot.workspace import SlackWorkspace
from tests.scenarios.conftest import Harness
from tests.scenarios.large_lists import Lists, pages, seed_alert, seed_deploy
from tests.scenarios.operate.support import (
    NAMESPACE,
    Images,
    create_container,
    create_service,
    operate_images,
    remove_all,
    start_bot,
    swarm,
    wait_running,
)

__all__ = ["operate_images", "swarm"]
pytestmark = pytest.mark.docker

SERVICES = 150
STAGED = 10
"""Services 0-9 deploy to staging as well; service 3's staging is a Swarm service."""
TOTAL = SERVICES + STAGED


@dataclass
class Estate:
    harness: Harness
    prefix: str
    alerts: dict[str, int]

    def name(self, n: int) -> str:
        return f"{self.prefix}-{n:03d}"


def _config(prefix: str, image: str) -> str:
    lines = ["slack:", "  ops_channel: C0OPS", "docker:", f"  namespace: {NAMESPACE}",
             "services:"]  # fmt: skip
    for n in range(SERVICES):
        lines += [
            f"  {prefix}-{n:03d}:", "    repo: ./repo", f"    image: {image.rpartition(':')[0]}",
            "    port: 8080", "    health: /health", "    checks: {enabled: false}",
            "    deploy:", "      prod: {target: container}",
        ]  # fmt: skip
        if n < STAGED:
            lines.append(f"      staging: {{target: {'swarm' if n == 3 else 'container'}}}")
    lines += ["environments:", "  staging: {}", "  prod: {}"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def estate(
    workspace: SlackWorkspace,
    settings: Settings,
    operate_images: Images,
    swarm: docker.DockerClient,
) -> Iterator[Estate]:
    prefix = f"st{uuid.uuid4().hex[:5]}"
    made = [f"{prefix}-001", f"{prefix}-002", f"{prefix}-003"]
    harness = start_bot(workspace, settings, _config(prefix, operate_images.web))
    try:
        create_container(swarm, made[0], "prod", operate_images.web)  # runs
        create_container(swarm, made[1], "prod", operate_images.crash)  # exits at once
        create_service(swarm, made[2], "staging", operate_images.web, 1)
        wait_running(workspace, swarm, made[2], "staging", 1)
        seed_deploy(harness, made[0], "prod", "U0ALICE")
        alerts = {
            "firing": seed_alert(harness, made[0], "prod", AlertState.OPEN),
            "acknowledged": seed_alert(harness, made[1], "prod", AlertState.ACKNOWLEDGED),
        }
        yield Estate(harness, prefix, alerts)
    finally:
        harness.bot.stop()
        harness.slack.close()
        for service in made:
            remove_all(swarm, service)


def _exited(lists: Lists) -> str:
    """/status once the crashing container has exited (it may still be starting)."""

    def shown() -> str | None:
        _ts, first = lists.show("/status")
        return first if "1 unhealthy" in first else None

    return str(lists.harness.workspace.wait_for(shown, timeout=60))


def test_the_first_page_counts_the_estate_and_pages_turn_in_place(estate: Estate) -> None:
    lists = Lists(estate.harness)
    estate.harness.slack.slash("/lock", "staging", user_id="U0BOB")
    desk = estate.harness.bot.services.deploys
    assert desk is not None
    estate.harness.workspace.wait_for(desk.locks.in_force, timeout=30)
    _exited(lists)
    ts, first = lists.show("/status")
    answers = len(estate.harness.workspace.ephemerals("C0DEV", "U0ALICE"))
    assert (
        f"*Status* · {TOTAL} deployments: 1 unhealthy, 0 deploying, {STAGED} locked, "
        f"1 alerting, {TOTAL - 3} not deployed"
    ) in first
    assert "items 1-40 of 160" in first
    row = next(line for line in first.splitlines() if f"*{estate.name(1)}* `prod`" in line)
    assert ":large_green_circle:" in row and "`1.0.0`" in row and "container Up" in row
    assert f"#{estate.alerts['firing']}" in row and "deployed by <@U0ALICE>" in row
    swarm_row = next(line for line in first.splitlines() if f"*{estate.name(3)}* `staging`" in line)
    assert "swarm 1/1 running" in swarm_row and ":lock: locked" in swarm_row
    last = pages(lists, ts, first, TOTAL)
    assert f"*{estate.name(149)}* `prod`" in last
    # Every turn edited the same message.
    assert len(estate.harness.workspace.ephemerals("C0DEV", "U0ALICE")) == answers

    rows = lists.export(ts, "status.csv")
    assert rows[0][:4] == ["service", "environment", "target", "state"]
    assert len(rows) == 1 + TOTAL
    mine = [r for r in rows if r[:2] == [estate.name(1), "prod"]]
    assert mine[0][3] == "running" and mine[0][13] == "U0ALICE"


def test_each_filter_narrows_the_list(estate: Estate) -> None:
    lists = Lists(estate.harness)
    _exited(lists)
    _ts, unhealthy = lists.show("/status", "unhealthy")
    assert "1 shown" in unhealthy and f"*{estate.name(2)}* `prod`" in unhealthy
    assert "container Exited" in unhealthy and ":red_circle:" in unhealthy
    _ts, running = lists.show("/status", "running")
    assert "2 shown" in running and f"*{estate.name(3)}* `staging`" in running
    _ts, alerting = lists.show("/status", "alerting")
    assert "1 shown" in alerting and f"*{estate.name(1)}* `prod`" in alerting
    _ts, staging = lists.show("/status", "staging")
    assert f"{STAGED} of {TOTAL} deployments" in staging and "`prod`" not in staging
    _ts, prefix = lists.show("/status", f"{estate.prefix}-00*")
    assert f"20 of {TOTAL} deployments" in prefix and "items" not in prefix
    _ts, mine = lists.show("/status", "mine")
    assert "1 shown" in mine and f"*{estate.name(1)}* `prod`" in mine
    _ts, undeployed = lists.show("/status", "undeployed prod")
    # 150 in prod, where services 1 and 2 run.
    assert "148 shown" in undeployed and "items 1-40 of 148" in undeployed
    _ts, page = lists.show("/status", "page 4")
    assert "items 121-160 of 160" in page


def test_one_service_shows_its_open_alerts(estate: Estate) -> None:
    lists = Lists(estate.harness)
    said = lists.answer("/status", f"{estate.name(1)} prod")
    assert f"`{estate.name(1)}` in `prod`" in said and "*Open alerts*" in said
    assert f"Alert #{estate.alerts['firing']}: health path failing" in said
    quiet = lists.answer("/status", f"{estate.name(3)}")
    assert "No open alerts." in quiet and "1/1 running" in quiet


def test_unknown_words_and_a_page_past_the_end_are_refused(estate: Estate) -> None:
    lists = Lists(estate.harness)
    said = lists.answer("/status", "nosuch")
    assert "Unknown service `nosuch`" in said and "a state (alerting, deploying" in said
    assert "Unknown environment `moon`" in lists.answer("/status", f"{estate.name(1)} moon")
    assert "`sideways` is not a filter" in lists.answer("/status", "prod sideways")
    said = lists.answer("/status", "page 5")
    assert "There is no page 5: Status has 160 item(s) on 4 page(s)." in said
