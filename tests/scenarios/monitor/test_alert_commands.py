"""/alerts and /monitor, and the alert's buttons, on a real failing service: acknowledge,
silence and resolve by button and by command, audited; bad input changes nothing."""

from __future__ import annotations

import pytest

from tests.scenarios.deploy.support import DEADLINE, GOOD, images
from tests.scenarios.monitor.support import (
    Monitored,
    alert_id,
    alert_messages,
    monitored,
    thread_texts,
    wait_alert,
)
from tests.scenarios.replies import reply_to

__all__ = ["images", "monitored"]
pytestmark = pytest.mark.docker


class Asker:
    """Sends commands as one user and reads each answer."""

    def __init__(self, m: Monitored, user: str) -> None:
        self.m, self.user = m, user
        self.count = len(m.ws.ephemerals("C0DEV", user))

    def __call__(self, command: str, text: str = "") -> str:
        self.m.ws.user_command(self.user, "C0DEV", command, text)
        self.count += 1
        return reply_to(self.m.harness, self.user, nth=self.count)


def test_buttons_and_commands_move_the_alert_and_are_audited(monitored: Monitored) -> None:
    m, ws = monitored, monitored.ws
    m.deploy(GOOD)
    m.break_health()
    alert = wait_alert(ws, "firing")
    number = alert_id(alert)
    dave = Asker(m, "U0DAVE")

    ws.user_click("U0BOB", alert.channel, alert.ts, "monitor.ack", number)
    wait_alert(ws, "*acknowledged* by <@U0BOB>")
    assert "Alert #" in dave("/alerts") and "acknowledged" in dave("/alerts")
    assert "cannot acknowledge" in dave("/alerts", f"ack {number}")

    ws.user_click("U0BOB", alert.channel, alert.ts, "monitor.silence", number)
    silenced = wait_alert(ws, "*silenced* by <@U0BOB> until")
    assert "Silence 1h" not in str(silenced.blocks)
    listing = dave("/alerts")
    assert f"`{m.service}` in `staging` until" in listing and "<@U0BOB>" in listing

    said = dave("/alerts", f"unsilence {m.service}")
    assert "ended silence #1" in said
    wait_alert(ws, "— *firing*")

    said = dave("/alerts", f"silence {m.service} staging 2h deploy window")
    assert "Silence #2" in said and "(deploy window)" in said
    wait_alert(ws, "*silenced* by <@U0DAVE>")
    assert "ended silence #2" in dave("/alerts", "unsilence 2")

    assert "acknowledged" in dave("/alerts", f"ack #{number}")
    dave("/alerts", f"resolve {number}")
    resolved = wait_alert(ws, "*resolved* by <@U0DAVE>")
    # One line per change, in order: the last one is the resolve (an edit folded while it
    # waited can show the message resolved before the lines are all in).
    ws.wait_for(lambda: any("resolved* by <@U0DAVE>" in t for t in thread_texts(ws, resolved)),
                DEADLINE)  # fmt: skip
    lines = thread_texts(ws, resolved)
    assert len(lines) == 7 and "resolved* by <@U0DAVE>" in lines[-1]
    assert "acknowledged* by <@U0BOB>" in lines[0]

    audit = Asker(m, "U0ERIN")("/ops", "audit")
    for verb in ("alerts ack", "alerts silence", "alerts unsilence", "alerts resolve"):
        assert verb in audit


def test_bad_input_gets_a_clear_answer_and_changes_nothing(monitored: Monitored) -> None:
    m = monitored
    ask = Asker(m, "U0DAVE")
    assert "no alert #42" in ask("/alerts", "ack 42")
    assert "no alert #42" in ask("/alerts", "resolve 42")
    assert "not an alert number" in ask("/alerts", "resolve web")
    assert "Unknown service `nosuch`" in ask("/alerts", "silence nosuch 1h")
    # `soon` could be an environment's name: the answer says it is none of them.
    assert "Unknown environment `soon`" in ask("/alerts", f"silence {m.service} soon")
    assert "not a duration" in ask("/alerts", f"silence {m.service} staging soon")
    assert "Unknown environment `prood`" in ask("/alerts", f"silence {m.service} prood 1h")
    assert "at most 30 days" in ask("/alerts", f"silence {m.service} 31d")
    assert "at most 30 days" in ask("/alerts", f"silence {m.service} staging 721h")
    assert "no silence #7 in force" in ask("/alerts", "unsilence 7")
    assert "Unknown service `nosuch`" in ask("/alerts", "unsilence nosuch")
    assert "Unknown environment `prood`" in ask("/alerts", f"unsilence {m.service} prood")
    assert f"No silence of `{m.service}`" in ask("/alerts", f"unsilence {m.service}")
    assert "Unknown service" in ask("/monitor", "nosuch")
    # /monitor is a list: an unknown word after a service is an unknown environment (as in
    # every list), naming the known ones.
    refused = ask("/monitor", f"{m.service} prood")
    assert "Unknown environment `prood`. Known environments: `staging`." in refused
    listing = ask("/alerts")
    assert "No open alerts." in listing and "Silence #" not in listing
    assert not alert_messages(m.ws)
