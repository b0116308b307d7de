"""Deploys while Slack refuses the ops channel: the rollout never waits for its
announcements, and they land once each, in order, when Slack takes them again (also when
the bot restarted in between)."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

from sqlalchemy import select

from bot.core.outbox import Delivery
from bot.store.outbox import outbox
from bot.workspace import SlackWorkspace
from bot.workspace.recording import CallRecord
from tests.scenarios.deploy.support import (
    DEADLINE,
    GOOD,
    Env,
    announcements,
    answer,
    env,
    images,
    request_message,
    start,
    swarm,
    wait_state,
)

__all__ = ["env", "images", "swarm"]

ALWAYS = 100_000


def _ops_posts(ws: SlackWorkspace) -> list[CallRecord]:
    """The bot's posts to ops other than the approval request (which lands before the outage)."""
    return [
        c
        for c in ws.calls_to("chat.postMessage")
        if c.params.get("channel") == "C0OPS"
        and not str(c.params.get("text")).lower().startswith("deploy #")
    ]


def _deploy_approved(env: Env, outage: Callable[[], None]) -> None:
    """Ask for a deploy, let its approval request land in ops, then start the `outage` and
    approve: the rollout and its announcements happen while ops refuses posts."""
    ws = env.ws
    ws.user_command("U0ALICE", "C0DEV", "/deploy", f"{env.service} {GOOD} to prod")
    request = request_message(ws, "C0OPS")
    outage()
    ws.user_react("U0BOB", "C0OPS", request.ts, "white_check_mark")
    wait_state(ws, request, "succeeded")


def _ops_rows(env: Env) -> list[str]:
    """The states of the ops channel's outbox rows, oldest first."""
    with env.harness.bot.engine.connect() as connection:
        rows = connection.execute(
            select(outbox.c.state).where(outbox.c.channel_id == "C0OPS").order_by(outbox.c.id)
        )
        return list(rows.scalars())


def _both_land_once_in_order(env: Env) -> None:
    ws = env.ws
    sent = [Delivery.SENT.value] * 2
    ws.wait_for(lambda: _ops_rows(env) == sent, timeout=DEADLINE, description="both sent")
    said = announcements(ws, env.service)
    assert [("started" in s, "succeeded" in s) for s in said] == [(True, False), (False, True)]
    # Exactly one post of each was taken by Slack, however many tries were refused.
    taken = [c for c in _ops_posts(ws) if c.ok]
    assert len(taken) == 2


def test_a_deploy_during_an_ops_channel_outage_finishes_and_is_announced_once_after(
    env: Env,
) -> None:
    ws = env.ws
    _deploy_approved(
        env, lambda: ws.faults.server_error("chat.postMessage", times=ALWAYS, channel="C0OPS")
    )
    # The rollout is done while the ops channel has taken nothing; the outbox kept trying.
    assert answer(env.port) == GOOD
    ws.wait_for(lambda: len(_ops_posts(ws)) >= 2, timeout=DEADLINE, description="tries")
    assert announcements(ws, env.service) == []
    ws.faults.clear()
    _both_land_once_in_order(env)


def test_announcements_rate_limited_until_a_restart_land_once_after_it(env: Env) -> None:
    ws = env.ws
    _deploy_approved(
        env,
        lambda: ws.faults.ratelimit(
            "chat.postMessage", times=ALWAYS, retry_after=1, channel="C0OPS"
        ),
    )
    assert answer(env.port) == GOOD
    ws.wait_for(lambda: len(_ops_posts(ws)) >= 2, timeout=DEADLINE, description="tries")
    # Each try waited out the Retry-After of the 429 before it.
    tries = [c.timestamp for c in _ops_posts(ws)]
    assert all(later - earlier >= 1.0 for earlier, later in pairwise(tries))
    assert announcements(ws, env.service) == []

    # The bot stops with both announcements undelivered; the next one delivers them.
    env.harness.bot.stop()
    env.harness.slack.close()
    ws.faults.clear()
    env.harness = start(ws, env.harness.settings, env.harness.bot.config, env.clock)
    _both_land_once_in_order(env)
