"""A deployment behind its reverse proxy, end to end on the real engine: /status and
/services show the proxy's address, and Monitor reports a stopped proxy as down (one alert
that says so), never by moving the service to another port (issue 12)."""

from __future__ import annotations

import pytest

from bot.core.naming import proxy_name
from tests.scenarios.deploy.support import DEADLINE, GOOD, answer, images, text_of
from tests.scenarios.monitor.support import Monitored, alert_messages, monitored, wait_alert

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
    _answer_with(m, f"proxy `{name}` running on port {m.port} of every address")
    m.ws.user_command("U0ALICE", "C0DEV", "/services", m.service)
    _answer_with(m, f"<http://127.0.0.1:{m.port}/health|")

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
    _answer_with(m, f"docker start {name}")


def _answer_with(m: Monitored, words: str) -> str:
    """Alice's answer in #dev that shows `words`, once it does."""

    def found() -> str | None:
        for ephemeral in reversed(m.ws.ephemerals("C0DEV", "U0ALICE")):
            text = f"{ephemeral.text} {ephemeral.blocks}"
            if words in text:
                return text
        return None

    try:
        said = m.ws.wait_for(found, timeout=DEADLINE, description=words)
    except TimeoutError as error:
        shown = [f"{e.text} {e.blocks}" for e in m.ws.ephemerals("C0DEV", "U0ALICE")]
        raise AssertionError(f"no answer showing {words!r}: {shown}") from error
    assert said is not None
    return said
