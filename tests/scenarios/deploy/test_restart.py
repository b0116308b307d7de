"""A restart while a deploy executes: the new bot settles the request from what the engine
actually runs, says so in the request's thread and announces the outcome once.

A crash cannot be staged inside one process (stop() finishes the deploys in hand), so the
test leaves the store as a crash right after the claim leaves it: the request approved by an
approver and marked running, with no outcome. The engine side is what the dead bot's deploy
thread would have done: either the rollout ran to its end (the same adapter the bot uses),
or nothing happened on the engine yet.
"""

from __future__ import annotations

import docker

from bot.config.estates import deploy_estate
from bot.config.models import DockerConfig
from bot.core.deploy.model import DeployState
from bot.core.naming import LABEL_VERSION, deployment_name
from bot.store.deploys import SqlDeployStore
from bot.workspace.model import Message
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.deployments import DockerDeployments
from tests.scenarios.deploy.support import (
    DEADLINE,
    GOOD,
    NEWER,
    Env,
    announcements,
    answer,
    env,
    images,
    request_message,
    start,
    swarm,
    text_of,
    wait_state,
)
from tests.support.forwarders import EngineForwarder

__all__ = ["env", "images", "swarm"]


def _crash_mid_deploy(
    env: Env,
    version: str,
    nth: int,
    *,
    engine_finishes: bool,
    swap_cut_on: docker.DockerClient | None = None,
    docker_host: str | None = None,
) -> Message:
    """Ask for `version` in prod, then stop the bot and leave the request running; start
    it again (reaching the engine at `docker_host`, when given)."""
    ws = env.ws
    ws.user_command("U0ALICE", "C0DEV", "/deploy", f"{env.service} {version} to prod")
    request = request_message(ws, "C0DEV", nth=nth)
    bot = env.harness.bot
    bot.stop()
    env.harness.slack.close()
    store = SqlDeployStore(bot.engine)
    stored = store.by_message("C0DEV", request.ts)
    assert stored is not None and stored.state is DeployState.PENDING
    # What the store holds once Bob's approval counted and a deploy thread claimed it.
    now = env.clock.now()
    store.vote(stored.id, "U0BOB", "white_check_mark", True, now)
    assert store.transition(stored.id, DeployState.PENDING, DeployState.APPROVED, now)
    assert store.transition(stored.id, DeployState.APPROVED, DeployState.RUNNING, now)
    if engine_finishes:
        target = deploy_estate(bot.config).target(env.service, "prod")
        outcome = DockerDeployments(
            EngineConnection(None), env.clock, namespace=bot.config.namespace
        ).deploy(target, stored.image_ref, version, str(stored.id), lambda _said: None)
        assert outcome.state is DeployState.SUCCEEDED, outcome.detail
    if swap_cut_on is not None:
        # The rollout had set the old container aside and stopped it, then the bot died.
        old = swap_cut_on.containers.get(deployment_name(bot.config.namespace, env.service, "prod"))
        old.rename(f"{old.name}-old")
        old.stop(timeout=5)
        assert answer(env.port) == ""
    config = bot.config
    if docker_host is not None:
        config = config.model_copy(update={"docker": DockerConfig(host=docker_host)})
    env.harness = start(ws, env.harness.settings, config, env.clock)
    return request


def _outcomes(env: Env, version: str, event: str) -> list[str]:
    said = announcements(env.ws, env.service)
    return [a for a in said if f" {event}: " in a and f"→ `{version}`" in a]


def _thread_says(env: Env, request: Message, *parts: str) -> None:
    def found() -> bool:
        replies = [m.text for m in env.ws.thread("C0DEV", request.ts)[1:] if m.is_bot]
        return any(all(p in text for p in parts) for text in replies)

    env.ws.wait_for(found, timeout=DEADLINE, description=f"thread says {parts}")


def test_a_restart_mid_deploy_settles_each_request_from_the_engine(
    env: Env, docker_client: docker.DockerClient
) -> None:
    ws = env.ws
    # The rollout ran to its end on the engine while the bot was gone: succeeded.
    first = _crash_mid_deploy(env, GOOD, 1, engine_finishes=True)
    done = wait_state(ws, first, "succeeded")
    assert "<@U0BOB>" in text_of(done)
    _thread_says(env, first, "Succeeded", "restarted", f"runs `{GOOD}` and it answers")
    assert answer(env.port) == GOOD
    ws.wait_for(lambda: _outcomes(env, GOOD, "succeeded"), timeout=DEADLINE)

    # The bot died mid-swap, the old container stopped and set aside and no new one yet:
    # the restart starts the old one again, so it keeps serving and the request failed.
    second = _crash_mid_deploy(env, NEWER, 2, engine_finishes=False, swap_cut_on=docker_client)
    failed = wait_state(ws, second, "failed")
    assert f"runs `{GOOD}`; it keeps serving, not `{NEWER}`" in text_of(failed)
    _thread_says(env, second, "Failed", "restarted", f"not `{NEWER}`")
    assert answer(env.port) == GOOD
    ws.wait_for(lambda: _outcomes(env, NEWER, "failed"), timeout=DEADLINE)
    name = deployment_name(env.harness.bot.config.namespace, env.service, "prod")
    labels = docker_client.containers.get(name).labels
    assert labels[LABEL_VERSION] == GOOD

    # Each outcome was announced once, after two restarts that both reconciled.
    assert len(_outcomes(env, GOOD, "succeeded")) == 1
    assert len(_outcomes(env, NEWER, "failed")) == 1
    store = SqlDeployStore(env.harness.bot.engine)
    states = {r.version: r.state for r in store.recent("prod", 5)}
    assert states == {GOOD: DeployState.SUCCEEDED, NEWER: DeployState.FAILED}


def test_a_deploy_the_restart_could_not_settle_is_settled_when_the_engine_answers_again(
    env: Env, docker_client: docker.DockerClient
) -> None:
    ws = env.ws
    first = _crash_mid_deploy(env, GOOD, 1, engine_finishes=True)
    wait_state(ws, first, "succeeded")
    # The bot dies mid-swap again, and starts while its engine (behind a forwarder on
    # loopback) does not answer: the request cannot be settled then.
    with EngineForwarder() as engine:
        engine.stop()
        second = _crash_mid_deploy(
            env, NEWER, 2, engine_finishes=False, swap_cut_on=docker_client, docker_host=engine.url
        )
        assert answer(env.port) == ""
        store = SqlDeployStore(env.harness.bot.engine)
        stored = store.by_message("C0DEV", second.ts)
        assert stored is not None and stored.state is DeployState.RUNNING
        # The engine comes back; no restart: the sweeper settles it.
        engine.start()
        failed = wait_state(ws, second, "failed")
        assert f"runs `{GOOD}`; it keeps serving, not `{NEWER}`" in text_of(failed)
        assert answer(env.port) == GOOD
        ws.wait_for(lambda: _outcomes(env, NEWER, "failed"), timeout=DEADLINE)
        # Nothing stuck: the next deploy is taken (no "one at a time").
        ws.user_command("U0ALICE", "C0DEV", "/deploy", f"{env.service} {NEWER} to prod")
        third = request_message(ws, "C0DEV", nth=3)
        assert f"deploy #3 {env.service} {NEWER} to prod: pending" in text_of(third)
        assert not [e.text for e in ws.ephemerals() if "one at a time" in e.text]
    assert len(_outcomes(env, NEWER, "failed")) == 1
