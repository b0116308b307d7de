"""A deployment behind its reverse proxy, end to end on the real engine: /status and
/services show the proxy's address, and Monitor reports a stopped proxy as down (one alert
that says so), never by moving the service to another port (issue 12)."""

from __future__ import annotations

import pytest

from bot.core.naming import proxy_name
from tests.scenarios.deploy.support import GOOD, answer, images, text_of
from tests.scenarios.monitor.support import Monitored, alert_messages, monitored, wait_alert
from tests.scenarios.replies import settled_reply

__all__ = ["images", "monitored"]
pytestmark = pytest.mark.docker


def test_status_and_services_show_the_proxy_and_a_stopped_one_is_alerted_as_down(
    monitored: Monitored,
) -> None:
    m = monitored
    m.deploy(GOOD)
    name = proxy_name(m.harness.bot.config.namespace, m.service, "staging")
    proxy = m.engine.containers.get(name)
    assert answer(m.port) == GOOD

    m.ws.user_command("U0ALICE", "C0DEV", "/status", f"{m.service} staging")
    status = settled_reply(m.harness, "U0ALICE")
    assert f"proxy `{name}` running on port {m.port} of every address" in status, status
    m.ws.user_command("U0ALICE", "C0DEV", "/services", m.service)
    services = settled_reply(m.harness, "U0ALICE")
    assert f"<http://127.0.0.1:{m.port}/health|" in services, services

    proxy.stop(timeout=1)
    alert = wait_alert(m.ws, "firing")
    shown = text_of(alert)
    assert "its proxy is down" in shown and "(proxy)" not in shown, shown
    assert f"127.0.0.1:{m.port}" in shown  # the port it publishes, not another
    # The container behind it still answers its own check: the one alert is the proxy's.
    assert len(alert_messages(m.ws)) == 1
    proxy.reload()
    assert proxy.status == "exited"  # reported, not replaced
    m.ws.user_command("U0ALICE", "C0DEV", "/status", f"{m.service} staging")
    status = settled_reply(m.harness, "U0ALICE")
    assert f"docker start {name}" in status, status
