"""The Monitor stage's own checks on the real engine: alerts in the ops channel and in the
deploy's thread, resolving, rollback from the alert, CPU under a limit, and a restart."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from bot.workspace.model import Message
from tests.scenarios.deploy.support import (
    DEADLINE,
    GOOD,
    NEWER,
    answer,
    images,
    request_message,
    text_of,
    wait_state,
)
from tests.scenarios.monitor.support import (
    OPS,
    Monitored,
    alert_id,
    alert_messages,
    announcement,
    monitored,
    thread_texts,
    wait_alert,
)
from tests.scenarios.replies import reply_to

__all__ = ["images", "monitored"]
pytestmark = pytest.mark.docker


def test_a_failing_deploy_alerts_in_its_thread_resolves_and_rolls_back(m: Monitored) -> None:
    ws = m.ws
    m.deploy(GOOD)
    second = m.deploy(NEWER, user="U0BOB", nth=2)
    m.break_health()

    alert = wait_alert(ws, "firing")
    shown = text_of(alert)
    assert f"`{m.service}` in `staging`" in shown
    assert "HTTP 404" in shown and f"`{NEWER}` deployed by <@U0BOB>" in shown
    buttons = [e["text"]["text"] for b in alert.blocks or [] if b["type"] == "actions"
               for e in b["elements"]]  # fmt: skip
    assert buttons == ["Acknowledge", "Silence 1h", "Resolve"]

    # In the thread of the deploy's announcement in the ops channel, not of the request.
    announced = announcement(ws, m.service, NEWER)
    assert not [r for r in ws.thread("C0DEV", second.ts) if "is failing since" in r.text]

    def deploy_reply() -> list[Message]:
        return [r for r in ws.thread(OPS, announced.ts) if "is failing since" in r.text]

    ws.wait_for(deploy_reply, timeout=DEADLINE, description="deploy thread reply")
    reply = deploy_reply()[0]
    assert reply.reply_broadcast
    assert "<@U0BOB>" in reply.text and f"Version before: `{GOOD}`" in reply.text

    m.mend_health()
    resolved = wait_alert(ws, "*resolved*")
    assert "Acknowledge" not in str(resolved.blocks)
    ws.wait_for(lambda: any("resolved" in t for t in thread_texts(ws, resolved)), DEADLINE)

    m.break_health()
    again = wait_alert(ws, "firing", nth=2)
    assert f"Fired before as alert #{alert_id(alert)}" in str(again.blocks)
    ws.wait_for(lambda: any("Fired again" in t for t in thread_texts(ws, alert)), DEADLINE)

    replies = ws.wait_for(lambda: deploy_reply()[1:] or None, DEADLINE)
    assert replies is not None
    ws.user_click("U0CAROL", OPS, replies[0].ts, "monitor.rollback", alert_id(again))
    rollback = request_message(ws, OPS)
    assert f"`{NEWER}` → `{GOOD}`" in text_of(rollback)
    wait_state(ws, rollback, "succeeded")
    assert answer(m.port) == GOOD


def test_cpu_above_its_threshold_of_the_limit_fires(m: Monitored) -> None:
    m.deploy(GOOD)
    container = m.container()
    container.update(cpu_period=100_000, cpu_quota=20_000)  # a fifth of a core
    container.exec_run(["/bin/sh", "-c", "while :; do :; done"], detach=True)
    alert = wait_alert(m.ws, "CPU above its threshold")
    assert "of its limit (threshold 80%)" in text_of(alert)


def test_a_restart_neither_announces_a_firing_alert_again_nor_forgets_it(m: Monitored) -> None:
    ws = m.ws
    m.deploy(GOOD)
    m.break_health()
    first = wait_alert(ws, "firing")
    m.restart()
    restarted = datetime.now(UTC)
    # Proof that checks ran after the restart: /monitor shows a failure seen 2 s after it.
    listing = monitor_until(m, lambda seen: seen > restarted + timedelta(seconds=2))
    assert "— firing" in listing and "HTTP 404" in listing
    m.mend_health()
    wait_alert(ws, "*resolved*")
    assert [a.ts for a in alert_messages(ws)] == [first.ts]
    assert first.channel == OPS


def monitor_until(m: Monitored, good: Callable[[datetime], bool]) -> str:
    """Ask /monitor until its service's check was last seen at a time `good` accepts."""
    deadline = time.monotonic() + DEADLINE
    asked = len(m.ws.ephemerals("C0DEV", "U0CAROL"))
    while time.monotonic() < deadline:
        m.ws.user_command("U0CAROL", "C0DEV", "/monitor", f"{m.service} staging")
        asked += 1
        listing = reply_to(m.harness, "U0CAROL", nth=asked)
        stamps = re.findall(r"at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", listing)
        seen = [datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) for s in stamps]
        if seen and good(max(seen)):
            return listing
        threading.Event().wait(0.3)  # poll again; the deadline above bounds it
    raise AssertionError("/monitor never showed a check run after the restart")


# The fixture is named `m` in these tests for brevity.
m = monitored
