"""Against a real Alertmanager and the real engine: its alert lands in the deploy's thread,
Silence from Slack creates a silence there that suppresses the alert, unsilence expires it,
a resolved notification resolves the message, and Alertmanager down gets a clear answer."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

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
    alert_id,
    config_text,
    thread_texts,
    wait_alert,
)
from tests.scenarios.replies import reply_to
from tests.support import alertmanager as am

__all__ = ["images"]
pytestmark = pytest.mark.docker
TOKEN = "am-real-t0ken"
T = TypeVar("T")


def eventually(check: Callable[[], T | None], what: str) -> T:
    """Poll `check` until it gives something, within the deadline."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"never: {what}")


def test_alertmanager_alerts_thread_silence_and_resolve(
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
    request = m.deploy(GOOD)
    server = m.harness.bot.server
    assert server is not None
    labels = {"alertname": "HighLatency", "service": m.service, "environment": "staging"}
    with am.alertmanager(tmp_path / "am", am_port, server.url + "/alertmanager", TOKEN) as url:
        am.fire(url, labels, "p99 above 1s")
        alert = wait_alert(ws, "HighLatency")
        assert "p99 above 1s" in text_of(alert) and f"`{m.service}` in `staging`" in text_of(alert)
        ws.wait_for(lambda: any("is failing since" in t for t in thread_texts(ws, request)),
                    DEADLINE)  # fmt: skip

        ws.user_click("U0BOB", alert.channel, alert.ts, "monitor.silence", alert_id(alert))
        wait_alert(ws, "*silenced* by <@U0BOB>")

        def suppressed() -> list[str] | None:
            for found in am.alerts(url):
                if found["labels"].get("alertname") == "HighLatency":
                    status = found["status"]
                    return status["silencedBy"] if status["state"] == "suppressed" else None
            return None

        silence_id = eventually(suppressed, "Alertmanager suppresses the alert")[0]
        made = am.silence(url, silence_id)
        assert made["createdBy"] == "U0BOB"
        assert {"name": "service", "value": m.service, "isRegex": False, "isEqual": True} in (
            made["matchers"]
        )

        ws.user_command("U0DAVE", "C0DEV", "/alerts", "unsilence 1")
        assert "ended silence #1" in reply_to(m.harness, "U0DAVE")
        assert am.silence(url, silence_id)["status"]["state"] == "expired"
        wait_alert(ws, "— *firing*")

        am.fire(url, labels, "p99 above 1s", resolved=True)
        wait_alert(ws, "*resolved*")

    # Alertmanager is gone now: a silence says so, quickly, and changes nothing.
    started = time.monotonic()
    ws.user_command("U0DAVE", "C0DEV", "/alerts", f"silence {m.service} 1h")
    said = reply_to(m.harness, "U0DAVE", nth=2)
    assert "Alertmanager" in said and "nothing was silenced" in said
    assert time.monotonic() - started < 6
    ws.user_command("U0DAVE", "C0DEV", "/alerts")
    assert "Silences" not in reply_to(m.harness, "U0DAVE", nth=3)
