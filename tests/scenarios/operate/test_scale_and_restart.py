"""/scale and /restart on the real engine, under the deploy desk's approval and lock rules."""

from __future__ import annotations

import re
import threading

from bot.core.naming import deployment_name
from tests.scenarios.deploy.support import text_of, wait_state
from tests.scenarios.operate.support import (
    DEADLINE,
    NAMESPACE,
    Bot,
    Images,
    bot,
    create_container,
    create_service,
    operate_images,
    poll,
    replicas,
    running,
    swarm,
    wait_running,
)
from tests.scenarios.operate.test_status_and_logs import _answers
from tests.scenarios.replies import reply_to

__all__ = ["bot", "operate_images", "swarm"]


def _ask(bot: Bot, command: str, text: str, user: str = "U0ALICE") -> str:
    count = len(_answers(bot, user))
    bot.say(user, command, text)
    return reply_to(bot.harness, user, nth=count + 1)


def _ops(bot: Bot, wanted: str) -> str:
    def found() -> str | None:
        said = [m.text for m in bot.ws.messages("C0OPS") if m.is_bot and wanted in m.text]
        return said[-1] if said else None

    return bot.ws.wait_for(found, timeout=DEADLINE, description=wanted)


def _request(bot: Bot, kind: str) -> object:
    def found() -> object:
        mine = [m for m in bot.ws.messages("C0DEV") if m.is_bot and f"{kind} #" in text_of(m)]
        return mine[-1] if mine else None

    return bot.ws.wait_for(found, timeout=DEADLINE, description=f"{kind} request")


def test_scale_without_approval_sets_the_replicas_and_is_announced(
    bot: Bot, operate_images: Images
) -> None:
    create_service(bot.client, bot.service, "staging", operate_images.web, 1)
    wait_running(bot.ws, bot.client, bot.service, "staging", 1)

    said = _ask(bot, "/scale", f"{bot.service} staging 3 traffic spike")
    assert "from 1 to 3" in said
    wait_running(bot.ws, bot.client, bot.service, "staging", 3)
    announced = _ops(bot, "succeeded")
    assert "1 → 3 replicas" in announced and "traffic spike" in announced
    assert "<@U0ALICE>" in announced
    assert replicas(bot.client, bot.service, "staging") == 3
    # A scale ships no version: /status names no "last deploy" after it, and the list
    # does not count it as alice's deploy.
    status = _ask(bot, "/status", f"{bot.service} staging")
    assert "3/3 running" in status and "Last deploy" not in status
    everything = _ask(bot, "/status", "staging")
    assert "swarm 3/3 running" in everything and "deployed by" not in everything
    assert "No deployment" in _ask(bot, "/status", "mine")


def test_scale_with_approval_refuses_self_approval_then_runs_once(
    bot: Bot, operate_images: Images
) -> None:
    create_service(bot.client, bot.service, "prod", operate_images.web, 1)
    wait_running(bot.ws, bot.client, bot.service, "prod", 1)

    _ask(bot, "/scale", f"{bot.service} prod 2")
    request = _request(bot, "Scale")
    assert "1 → 2 replicas" in text_of(request)  # type: ignore[arg-type]
    ts = request.ts  # type: ignore[attr-defined]
    bot.ws.user_react("U0ALICE", "C0DEV", ts, "white_check_mark")
    bot.ws.wait_for(
        lambda: any("cannot approve" in e.text for e in bot.ws.ephemerals("C0DEV", "U0ALICE")),
        timeout=DEADLINE,
        description="the self-approval refused",
    )
    assert replicas(bot.client, bot.service, "prod") == 1

    bot.ws.user_react("U0BOB", "C0DEV", ts, "+1")
    request_id = re.search(r"Scale #(\d+)", text_of(request))  # type: ignore[arg-type]
    assert request_id is not None
    bot.ws.user_click("U0BOB", "C0DEV", ts, "deploy.approve", request_id.group(1))
    wait_state(bot.ws, request, "succeeded")  # type: ignore[arg-type]
    wait_running(bot.ws, bot.client, bot.service, "prod", 2)
    # Announcements go out through the outbox, a moment after the request message changes.
    _ops(bot, "scale succeeded")
    # One announcement; the approval request that also lives in ops is not one.
    assert len([m for m in bot.ws.messages("C0OPS") if "scale succeeded" in m.text]) == 1


def test_scale_refusals_change_nothing(bot: Bot, operate_images: Images) -> None:
    create_service(bot.client, bot.service, "staging", operate_images.web, 1)
    create_container(bot.client, bot.service, "box", operate_images.web)
    wait_running(bot.ws, bot.client, bot.service, "staging", 1)

    container = _ask(bot, "/scale", f"{bot.service} box 2")
    assert "single container" in container and "target: swarm" in container
    assert "above the bound of 4" in _ask(bot, "/scale", f"{bot.service} staging 5")
    assert "not a number of replicas" in _ask(bot, "/scale", f"{bot.service} staging many")
    assert "not a number of replicas" in _ask(bot, "/scale", f"{bot.service} staging -1")
    assert "at least 1" in _ask(bot, "/scale", f"{bot.service} staging 0")
    assert "Unknown service `nosuch`" in _ask(bot, "/scale", "nosuch staging 2")
    assert "Unknown environment `moon`" in _ask(bot, "/scale", f"{bot.service} moon 2")
    assert "Missing <replicas>" in _ask(bot, "/scale", f"{bot.service} staging")
    assert "Say `auto on` or `auto off`" in _ask(bot, "/scale", f"{bot.service} staging auto 3")
    assert "no autoscale settings" in _ask(bot, "/scale", f"{bot.service} staging auto off")
    assert "Unknown service `nosuch`" in _ask(bot, "/restart", "nosuch staging")
    assert "Unknown environment `moon`" in _ask(bot, "/restart", f"{bot.service} moon")
    assert "Nothing runs" in _ask(bot, "/restart", f"{bot.service} prod")

    bot.say("U0BOB", "/lock", "staging load test")
    bot.ws.wait_for(
        lambda: any("locked `staging`" in m.text for m in bot.ws.messages("C0DEV")), DEADLINE
    )
    locked = _ask(bot, "/scale", f"{bot.service} staging 2")
    assert "locked by <@U0BOB>" in locked
    assert replicas(bot.client, bot.service, "staging") == 1
    assert not [m for m in bot.ws.messages("C0DEV") if m.is_bot and "Scale #" in text_of(m)]
    assert not [m for m in bot.ws.messages("C0DEV") if m.is_bot and "Restart #" in text_of(m)]
    assert not [m for m in bot.ws.messages("C0OPS") if m.is_bot and "autoscaler" in m.text]


def test_restart_replaces_every_task_while_the_service_keeps_running(
    bot: Bot, operate_images: Images
) -> None:
    create_service(bot.client, bot.service, "staging", operate_images.web, 2)
    before = wait_running(bot.ws, bot.client, bot.service, "staging", 2)
    lowest = [2]
    watching = threading.Event()

    def watch() -> None:
        while not watching.is_set():
            lowest[0] = min(lowest[0], len(running(bot.client, bot.service, "staging")))
            watching.wait(0.1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        _ask(bot, "/restart", f"{bot.service} staging stuck connections")
        announced = _ops(bot, "restart succeeded")
    finally:
        watching.set()
        watcher.join()
    after = running(bot.client, bot.service, "staging")
    assert len(after) == 2 and not set(after) & set(before)
    assert lowest[0] >= 1  # one task at a time: the service always had one running
    assert "stuck connections" in announced


def test_restart_of_a_container_is_health_gated(bot: Bot, operate_images: Images) -> None:
    create_container(bot.client, bot.service, "box", operate_images.web)
    name = deployment_name(NAMESPACE, bot.service, "box")
    first = bot.client.containers.get(name).id
    _ask(bot, "/restart", f"{bot.service} box")
    _ops(bot, "restart succeeded")
    second = poll(lambda: bot.client.containers.get(name).id, DEADLINE, "the new container")
    assert second != first
    assert bot.client.containers.get(name).status == "running"


def test_a_scale_whose_service_is_removed_meanwhile_ends_there(
    bot: Bot, operate_images: Images
) -> None:
    # A crashing service never reaches 3 running, so the scale is still waiting when the
    # service goes; the wait ends then, not at its 120 s deadline (the autoscaler makes
    # the same call on its one thread, and every other service waited with it).
    create_service(bot.client, bot.service, "staging", operate_images.crash, 1)
    assert "from 1 to 3" in _ask(bot, "/scale", f"{bot.service} staging 3")
    request = _request(bot, "Scale")
    poll(lambda: replicas(bot.client, bot.service, "staging") == 3, DEADLINE, "the scale")
    bot.client.services.get(deployment_name(NAMESPACE, bot.service, "staging")).remove()

    def said() -> str | None:
        for channel in ("C0DEV", "C0OPS"):
            for message in bot.ws.messages(channel):
                for line in [message, *bot.ws.thread(channel, message.ts)[1:]]:
                    if "removed while it scaled" in text_of(line):
                        return text_of(line)
        return None

    bot.ws.wait_for(said, timeout=DEADLINE, description="the scale ending")
    wait_state(bot.ws, request, "failed")  # type: ignore[arg-type]
