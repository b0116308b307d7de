"""POST /alertmanager on the bot's HTTP server: the bearer token, malformed and oversized
bodies, repeats, resolving, and labels that name no service (shown, never dropped)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.config import parse_config
from bot.settings import Settings
from bot.workspace import SlackWorkspace
from tests.scenarios.conftest import Harness, start_bot
from tests.scenarios.deploy.support import text_of
from tests.scenarios.monitor.support import OPS, alert_messages, wait_alert

TOKEN = "am-webhook-t0ken"
CONFIG = """
slack:
  ops_channel: C0OPS
services:
  web:
    repo: ./web
    image: 127.0.0.1:5000/web
    port: 8080
    checks: {enabled: false}
    deploy:
      prod: {target: container, publish: 18080}
environments:
  prod: {}
monitor:
  alertmanager: {token_env: AM_TOKEN, service_label: app, environment_label: env}
"""


@pytest.fixture
def bot(workspace: SlackWorkspace, settings: Settings) -> Iterator[Harness]:
    running = start_bot(workspace, settings, parse_config(CONFIG, {"AM_TOKEN": TOKEN}))
    yield running
    running.bot.stop()
    running.slack.close()


def payload(status: str, labels: dict[str, str], fingerprint: str = "f00d") -> dict[str, Any]:
    alert = {
        "status": status, "labels": labels,
        "annotations": {"summary": "error rate above 5%"},
        "startsAt": "2026-01-05T09:00:00.123456789Z", "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.local/graph", "fingerprint": fingerprint,
    }  # fmt: skip
    return {
        "version": "4", "groupKey": "{}:{alertname=\"HighErrors\"}", "truncatedAlerts": 0,
        "status": status, "receiver": "opsloop", "groupLabels": {}, "commonLabels": labels,
        "commonAnnotations": {}, "externalURL": "http://alertmanager.local", "alerts": [alert],
    }  # fmt: skip


def post(bot: Harness, body: bytes | dict[str, Any], token: str | None = TOKEN) -> int:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    server = bot.bot.server
    assert server is not None
    answer = httpx.post(server.url + "/alertmanager", content=data, headers=headers, timeout=10)
    return answer.status_code


LABELS = {"alertname": "HighErrors", "app": "web", "env": "prod"}


def test_forged_malformed_and_oversized_requests_change_nothing(bot: Harness) -> None:
    assert post(bot, payload("firing", LABELS), token=None) == 401
    assert post(bot, payload("firing", LABELS), token="guess") == 401
    assert post(bot, b"{not json") == 400
    assert post(bot, {**payload("firing", LABELS), "version": "3"}) == 400
    broken = payload("firing", LABELS)
    broken["alerts"][0]["labels"] = {"app": 7}
    assert post(bot, broken) == 400
    assert post(bot, b" " * 1_000_001) == 400
    assert bot.bot.services.monitor is not None
    assert bot.bot.services.monitor.open_alerts() == []
    assert not alert_messages(bot.workspace)


def test_firing_then_a_repeat_then_resolved(bot: Harness) -> None:
    ws = bot.workspace
    assert post(bot, payload("firing", LABELS)) == 200
    alert = wait_alert(ws, "firing")
    shown = text_of(alert)
    assert "HighErrors" in shown and "`web` in `prod`" in shown
    assert "error rate above 5%" in shown and "2026-01-05 09:00:00 UTC" in shown
    assert post(bot, payload("firing", LABELS)) == 200  # a resend changes nothing
    assert bot.bot.services.monitor is not None
    assert len(bot.bot.services.monitor.open_alerts()) == 1
    assert post(bot, payload("resolved", LABELS)) == 200
    wait_alert(ws, "*resolved*")
    assert len(alert_messages(ws)) == 1
    assert alert.channel == OPS


def test_labels_naming_no_service_are_shown_without_a_deploy_thread(bot: Harness) -> None:
    ws = bot.workspace
    assert post(bot, payload("firing", {"alertname": "DiskFull", "app": "db"}, "beef")) == 200
    alert = wait_alert(ws, "DiskFull")
    assert "an unknown service" in text_of(alert) and "app=db" in text_of(alert)
