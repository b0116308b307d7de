"""Silences against a real Alertmanager (no engine needed): Silence from Slack creates a
silence there that suppresses the alert, unsilence expires it, a resolved notification
resolves the message, and Alertmanager down gets a clear answer within five seconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from bot.config import parse_config
from bot.settings import Settings
from bot.workspace import SlackWorkspace
from tests.scenarios.conftest import start_bot
from tests.scenarios.deploy.support import DEADLINE, free_port, text_of
from tests.scenarios.monitor.support import alert_id, alert_messages, wait_alert
from tests.scenarios.replies import reply_to
from tests.support import alertmanager as am

TOKEN = "am-silence-t0ken"
T = TypeVar("T")
CONFIG = """
slack:
  ops_channel: C0OPS
services:
  web:
    repo: ./web
    image: 127.0.0.1:5000/web
    checks: {{enabled: false}}
    deploy:
      prod: {{target: container, publish: 18080}}
environments:
  prod: {{}}
monitor:
  alertmanager: {{url: "http://127.0.0.1:{port}", token_env: AM_TOKEN}}
"""


def eventually(check: Callable[[], T | None], what: str) -> T:
    """Poll `check` until it gives something, within the deadline."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"never: {what}")


def test_silence_from_slack_suppresses_in_alertmanager(
    workspace: SlackWorkspace, settings: Settings, tmp_path: Path
) -> None:
    if not am.available():
        pytest.skip("prometheus-alertmanager is missing; scripts/ensure-alertmanager installs it")
    port = free_port()
    harness = start_bot(workspace, settings, parse_config(CONFIG.format(port=port),
                                                          {"AM_TOKEN": TOKEN}))  # fmt: skip
    ws = workspace
    server = harness.bot.server
    assert server is not None
    labels = {"alertname": "HighLatency", "service": "web", "environment": "prod"}
    try:
        with am.alertmanager(tmp_path / "am", port, server.url + "/alertmanager", TOKEN) as url:
            am.fire(url, labels, "p99 above 1s")
            alert = wait_alert(ws, "HighLatency")
            assert "p99 above 1s" in text_of(alert) and "`web` in `prod`" in text_of(alert)

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
            matchers = {(x["name"], x["value"]) for x in made["matchers"]}
            assert matchers == {("service", "web"), ("environment", "prod")}

            ws.user_command("U0DAVE", "C0DEV", "/alerts", "unsilence 1")
            assert "ended silence #1" in reply_to(harness, "U0DAVE")
            assert am.silence(url, silence_id)["status"]["state"] == "expired"
            wait_alert(ws, "— *firing*")

            am.fire(url, labels, "p99 above 1s", resolved=True)
            wait_alert(ws, "*resolved*")
            assert len(alert_messages(ws)) == 1

        # Alertmanager is gone now: a silence says so, quickly, and changes nothing.
        started = time.monotonic()
        ws.user_command("U0DAVE", "C0DEV", "/alerts", "silence web 1h")
        said = reply_to(harness, "U0DAVE", nth=2)
        assert "Alertmanager" in said and "nothing was silenced" in said
        assert time.monotonic() - started < 6
        ws.user_command("U0DAVE", "C0DEV", "/alerts")
        assert "Silences" not in reply_to(harness, "U0DAVE", nth=3)
    finally:
        harness.bot.stop()
        harness.slack.close()
