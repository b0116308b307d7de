"""Swarm rollouts, dry runs, bad input, rollback and a restart with an approval pending."""

from __future__ import annotations

import docker

from bot.core.naming import LABEL_NAMESPACE, LABEL_VERSION, deployment_name
from tests.scenarios.deploy.support import (
    DEADLINE,
    GOOD,
    NEWER,
    Env,
    answer,
    env,
    images,
    request_message,
    start,
    swarm,
    text_of,
    wait_state,
)
from tests.scenarios.replies import reply_to

__all__ = ["env", "images", "swarm"]


def test_swarm_service_is_created_then_updated_with_labels(
    env: Env, swarm: docker.DockerClient
) -> None:
    ws = env.ws
    for nth, version in enumerate((GOOD, NEWER), start=1):
        ws.user_command("U0ALICE", "C0DEV", "/deploy", f"{env.service} {version} staging")
        request = request_message(ws, "C0DEV", nth=nth)
        wait_state(ws, request, "succeeded", timeout=120)
        assert answer(env.swarm_port) == version
    namespace = env.harness.bot.config.namespace
    service = swarm.services.get(deployment_name(namespace, env.service, "staging"))
    spec = service.attrs["Spec"]
    assert spec["TaskTemplate"]["ContainerSpec"]["Image"].endswith(f":{NEWER}")
    assert spec["Labels"][LABEL_VERSION] == NEWER
    assert spec["Labels"][LABEL_NAMESPACE] == namespace


def test_dry_run_shows_the_plan_and_changes_nothing(env: Env) -> None:
    ws = env.ws
    ws.user_command("U0ALICE", "C0DEV", "/deploy", f"{env.service} {NEWER} prod --dry-run")
    plan = reply_to(env.harness, "U0ALICE", nth=2)
    assert "Dry run" in plan and "sha256:" in plan
    assert "OPS-2 faster pages" in plan and "OPS-1" in plan
    assert "Needs 1 approval(s)" in plan
    assert not [m for m in ws.messages("C0DEV") if m.is_bot]
    assert answer(env.port) == ""


def test_bad_input_gets_a_clear_answer(env: Env) -> None:
    ws = env.ws
    ws.user_command("U0ALICE", "C0DEV", "/deploy", f"{env.service} 9.9.9 prod")
    assert "is not in the registry" in reply_to(env.harness, "U0ALICE", nth=2)
    ws.user_command("U0ALICE", "C0DEV", "/deploy", f"nosuch {GOOD} prod")
    assert "nosuch" in reply_to(env.harness, "U0ALICE", nth=3)
    ws.user_command("U0ALICE", "C0DEV", "/unlock", "prod")
    assert "is not locked" in reply_to(env.harness, "U0ALICE", nth=4)
    ws.user_command("U0ALICE", "C0DEV", "/rollback", f"{env.service} prod")
    assert "No earlier version" in reply_to(env.harness, "U0ALICE", nth=6)
    assert not [m for m in ws.messages("C0DEV") if m.is_bot]


def test_a_pending_approval_survives_a_restart_and_rollback_returns(env: Env) -> None:
    ws = env.ws
    ws.user_command("U0ALICE", "C0DEV", "/deploy", f"{env.service} {GOOD} prod")
    first = request_message(ws, "C0DEV")
    env.harness.bot.stop()
    env.harness = start(ws, env.harness.settings, env.harness.bot.config, env.clock)
    ws.user_react("U0BOB", "C0DEV", first.ts, "white_check_mark")
    wait_state(ws, first, "succeeded")
    assert answer(env.port) == GOOD

    ws.user_command("U0ALICE", "C0DEV", "/deploy", f"{env.service} {NEWER} prod")
    second = request_message(ws, "C0DEV", nth=2)
    ws.user_react("U0CAROL", "C0DEV", second.ts, "+1")
    wait_state(ws, second, "succeeded")
    assert answer(env.port) == NEWER

    ws.user_command("U0ALICE", "C0DEV", "/rollback", f"{env.service} prod")
    third = request_message(ws, "C0DEV", nth=3)
    assert f"`{NEWER}` → `{GOOD}`" in text_of(third)
    ws.user_react("U0BOB", "C0DEV", third.ts, "+1")
    wait_state(ws, third, "succeeded")
    assert answer(env.port) == GOOD
    ws.user_command("U0DAVE", "C0DEV", "/deploy", "list prod")
    listing = reply_to(env.harness, "U0DAVE")
    assert all(f"#{n} `{env.service}`" in listing for n in (1, 2, 3))
    ws.wait_for(lambda: "rollback" in " ".join(m.text for m in ws.messages("C0OPS")), DEADLINE)
