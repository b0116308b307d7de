"""Against a real Alertmanager and the real engine: an alert whose labels name a service
opsloop deployed lands in the thread of that deploy's announcement too, and its resolved
notification resolves it. (Silences against the real Alertmanager:
test_alertmanager_silences.py.)"""

from __future__ import annotations

import uuid
from pathlib import Path

import docker
import pytest

from bot.config import parse_config
from bot.settings import Settings
from bot.workspace import SlackWorkspace
from tests.scenarios.deploy.support import (
    DEADLINE,
    GOOD,
    Images,
    ShiftableClock,
    free_port,
    images,
    remove_deployments,
    start,
    text_of,
)
from tests.scenarios.monitor.support import (
    Monitored,
    announcement,
    config_text,
    thread_texts,
    wait_alert,
)
from tests.support import alertmanager as am

__all__ = ["images"]
pytestmark = pytest.mark.docker
TOKEN = "am-real-t0ken"


def test_an_alertmanager_alert_lands_in_the_deploy_thread(
    workspace: SlackWorkspace,
    settings: Settings,
    images: Images,
    docker_client: docker.DockerClient,
    tmp_path: Path,
) -> None:
    if not am.available():
        pytest.skip("prometheus-alertmanager is missing; scripts/ensure-alertmanager installs it")
    service, port, am_port = f"am{uuid.uuid4().hex[:6]}", free_port(), free_port()
    extra = f"""monitor:
  alertmanager: {{url: "http://127.0.0.1:{am_port}", token_env: AM_TOKEN}}
"""
    config = parse_config(config_text(images, service, port, extra), {"AM_TOKEN": TOKEN})
    clock = ShiftableClock()
    m = Monitored(start(workspace, settings, config, clock), service, port, clock, docker_client)
    try:
        _scenario(m, tmp_path, am_port)
    finally:
        m.harness.bot.stop()
        m.harness.slack.close()
        remove_deployments(docker_client, service)


def _scenario(m: Monitored, tmp_path: Path, am_port: int) -> None:
    ws = m.ws
    m.deploy(GOOD)
    announced = announcement(ws, m.service, GOOD)
    server = m.harness.bot.server
    assert server is not None
    labels = {"alertname": "HighLatency", "service": m.service, "environment": "staging"}
    with am.alertmanager(tmp_path / "am", am_port, server.url + "/alertmanager", TOKEN) as url:
        am.fire(url, labels, "p99 above 1s")
        alert = wait_alert(ws, "HighLatency")
        assert "p99 above 1s" in text_of(alert) and f"`{m.service}` in `staging`" in text_of(alert)
        ws.wait_for(lambda: any("is failing since" in t for t in thread_texts(ws, announced)),
                    DEADLINE)  # fmt: skip

        am.fire(url, labels, "p99 above 1s", resolved=True)
        wait_alert(ws, "*resolved*")
