"""A Swarm service is checked per running task, on the real engine: with two replicas and one
task failing its health path, one alert fires, naming that task; the other task stays ok."""

from __future__ import annotations

import uuid

import docker
import pytest

from bot.core.naming import deployment_name
from bot.settings import Settings
from bot.workspace import SlackWorkspace
from tests.scenarios.conftest import Harness
from tests.scenarios.deploy.support import (
    DEADLINE,
    GOOD,
    Images,
    ShiftableClock,
    images,
    remove_deployments,
    request_message,
    start,
    swarm,
    text_of,
    wait_state,
)
from tests.scenarios.monitor.support import OPS, alert_messages, wait_alert
from tests.scenarios.replies import reply_to

__all__ = ["images", "swarm"]
pytestmark = pytest.mark.docker


def config_text(images: Images, service: str) -> str:
    # Not published: Swarm publishes in host mode, one task per node on a port; the checks
    # reach each task on its own address anyway.
    return f"""
slack:
  ops_channel: {OPS}
services:
  {service}:
    repo: {images.repo_dir}
    image: {images.repository}
    port: 8080
    health: /health
    deploy:
      staging: {{target: swarm, replicas: 2}}
    checks: {{interval: 1s, timeout: 1s, fail_after: 2, resolve_after: 2}}
environments:
  staging: {{}}
"""


def test_one_failing_task_of_two_fires_one_alert_naming_it(
    workspace: SlackWorkspace,
    settings: Settings,
    images: Images,
    swarm: docker.DockerClient,
) -> None:
    service = f"mon{uuid.uuid4().hex[:6]}"
    harness = start(workspace, settings, config_text(images, service), ShiftableClock())
    try:
        workspace.user_command("U0ALICE", "C0DEV", "/deploy", f"{service} {GOOD} to staging")
        wait_state(workspace, request_message(workspace, "C0DEV"), "succeeded")
        name = deployment_name(harness.bot.config.namespace, service, "staging")
        tasks = [t for t in swarm.services.get(name).tasks({"desired-state": "running"})
                 if t["Status"]["State"] == "running"]  # fmt: skip
        assert len(tasks) == 2
        broken = tasks[0]
        container = swarm.containers.get(broken["Status"]["ContainerStatus"]["ContainerID"])
        container.exec_run(["/bin/rm", "-f", "/www/health"])

        alert = wait_alert(workspace, "firing")
        assert f"(task-{broken['Slot']})" in text_of(alert) and "HTTP 404" in text_of(alert)
        healthy = tasks[1]
        workspace.user_command("U0CAROL", "C0DEV", "/monitor", f"{service} staging")
        listing = reply_to(harness, "U0CAROL")
        assert f"task-{healthy['Slot']}" in listing and f"task-{broken['Slot']}" in listing
        # Both tasks were checked again and again meanwhile: still the one alert.
        workspace.wait_for(
            lambda: _checked_twice_more(harness, service), timeout=DEADLINE,
            description="more checks of both tasks",
        )  # fmt: skip
        assert len(alert_messages(workspace)) == 1
    finally:
        harness.bot.stop()
        harness.slack.close()
        remove_deployments(swarm, service)


def _checked_twice_more(harness: Harness, service: str) -> bool:
    """Both tasks' checks ran at least five times (the failing one fired at its second)."""
    monitoring = harness.bot.services.monitor
    assert monitoring is not None
    records = [r for r in monitoring.checks() if r.service == service]
    return len(records) == 2 and all(r.failures + r.passes >= 5 for r in records)
