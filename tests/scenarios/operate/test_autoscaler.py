"""The autoscaler on the real engine: out under CPU load, back in after the stabilisation
window, paused by a manual /scale and by `auto off`, across a restart of the bot."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import docker
import pytest

from bot.settings import Settings
from bot.workspace import SlackWorkspace
from tests.scenarios.operate.support import (
    DEADLINE,
    Bot,
    Images,
    config_text,
    create_service,
    operate_images,
    poll,
    remove_all,
    replicas,
    start_bot,
    swarm,
    wait_running,
)
from tests.scenarios.operate.test_status_and_logs import _answers
from tests.scenarios.replies import reply_to

__all__ = ["operate_images", "swarm"]

EVERY = 2.0
WINDOW = 12
AUTOSCALE = f", autoscale: {{min: 1, max: 3, cpu: 50, window: {WINDOW}}}"


@pytest.fixture
def scaled(
    workspace: SlackWorkspace,
    settings: Settings,
    operate_images: Images,
    swarm: docker.DockerClient,
) -> Iterator[Bot]:
    """A bot whose staging placement autoscales, evaluated every EVERY seconds."""
    service = f"as{uuid.uuid4().hex[:6]}"
    config = config_text(service, operate_images.web, AUTOSCALE)
    running = Bot(start_bot(workspace, settings, config, EVERY), service, swarm)
    yield running
    running.harness.bot.stop()
    running.harness.slack.close()
    remove_all(swarm, service)


def _scaled_to(bot: Bot, count: int) -> str:
    def said() -> str | None:
        found = [t for t in _autoscaled(bot) if f"to {count} replicas" in t]
        return found[-1] if found else None

    return bot.ws.wait_for(said, timeout=DEADLINE, description=f"scaled to {count}")


def _autoscaled(bot: Bot) -> list[str]:
    return [m.text for m in bot.ws.messages("C0OPS") if "Autoscaler scaled" in m.text]


def _switched(bot: Bot, word: str) -> list[tuple[str, str]]:
    """Who flipped the autoscaler's switch to `word`, and the outcome, from the audit log."""
    entries = bot.harness.bot.services.audit.latest(50)
    return [(e.user_id, e.outcome) for e in entries
            if e.verb == "scale" and e.arguments.endswith(word)]  # fmt: skip


def test_burning_cpu_scales_out_then_back_in_after_the_window(
    scaled: Bot, operate_images: Images
) -> None:
    burn_until = int(time.time()) + 35
    create_service(scaled.client, scaled.service, "staging", operate_images.burn, 1, cpu=0.2,
                   environment=[f"BURN_UNTIL={burn_until}"])  # fmt: skip
    out = _scaled_to(scaled, 2)
    assert "from 1 to 2 replicas" in out and "cpu" in out and "target 50%" in out
    wait_running(scaled.ws, scaled.client, scaled.service, "staging", 2)
    # After the burn stops, the count comes back to min once the window has passed.
    back = _scaled_to(scaled, 1)
    assert "to 1 replicas" in back
    assert time.time() >= burn_until + WINDOW - 2 * EVERY
    wait_running(scaled.ws, scaled.client, scaled.service, "staging", 1)


def test_manual_scale_and_auto_off_pause_it_across_a_restart(
    scaled: Bot, operate_images: Images, workspace: SlackWorkspace, settings: Settings
) -> None:
    create_service(scaled.client, scaled.service, "staging", operate_images.web, 3)
    # Idle at 3 with min 1: the autoscaler scales in (nothing to hold it in the window yet).
    _scaled_to(scaled, 1)
    wait_running(scaled.ws, scaled.client, scaled.service, "staging", 1)

    count = len(_answers(scaled))
    scaled.say("U0ALICE", "/scale", f"{scaled.service} staging 3 warm up")
    assert "paused until `auto on`" in reply_to(scaled.harness, "U0ALICE", nth=count + 1)
    wait_running(scaled.ws, scaled.client, scaled.service, "staging", 3)
    seen = len(_autoscaled(scaled))

    scaled.harness.bot.stop()
    scaled.harness = start_bot(workspace, settings, scaled.harness.bot.config, EVERY)
    # Several evaluations later the paused service still runs what was asked for.
    later = time.monotonic() + 4 * EVERY
    poll(lambda: time.monotonic() > later, DEADLINE, "four evaluation intervals")
    assert replicas(scaled.client, scaled.service, "staging") == 3
    assert len(_autoscaled(scaled)) == seen

    count = len(_answers(scaled))
    scaled.say("U0ALICE", "/status", f"{scaled.service} staging")
    assert "Autoscale paused" in reply_to(scaled.harness, "U0ALICE", nth=count + 1)
    scaled.say("U0BOB", "/scale", f"{scaled.service} staging auto on")
    _scaled_to(scaled, 1)
    scaled.ws.wait_for(
        lambda: any("resumed the autoscaler" in m.text for m in scaled.ws.messages("C0OPS")),
        timeout=DEADLINE,
    )
    wait_running(scaled.ws, scaled.client, scaled.service, "staging", 1)
    # The resumed autoscaler's one change is said, and the switch is in the audit log.
    scaled.ws.wait_for(lambda: len(_autoscaled(scaled)) == seen + 1, timeout=DEADLINE)
    poll(lambda: _switched(scaled, "auto on") == [("U0BOB", "ok")], DEADLINE, "the audit")


def test_auto_off_pauses_it_and_is_audited(scaled: Bot, operate_images: Images) -> None:
    scaled.say("U0ALICE", "/scale", f"{scaled.service} staging auto off")
    scaled.ws.wait_for(
        lambda: any("paused the autoscaler" in m.text for m in scaled.ws.messages("C0OPS")),
        timeout=DEADLINE,
    )
    create_service(scaled.client, scaled.service, "staging", operate_images.web, 3)
    wait_running(scaled.ws, scaled.client, scaled.service, "staging", 3)
    later = time.monotonic() + 4 * EVERY
    poll(lambda: time.monotonic() > later, DEADLINE, "four evaluation intervals")
    assert replicas(scaled.client, scaled.service, "staging") == 3  # idle, yet not scaled in
    assert not _autoscaled(scaled)
    poll(lambda: _switched(scaled, "auto off") == [("U0ALICE", "ok")], DEADLINE, "the audit")
