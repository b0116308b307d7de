"""/ship from a commit to prod on the real engine, registry and Swarm, through the local
workspace: one approval, every stage's own messages, the announcements; and a failing test
that stops the pipeline with nothing pushed."""

from __future__ import annotations

import docker

from tests.scenarios.deploy.support import request_message, swarm
from tests.scenarios.ship.support import (
    FAILING,
    ShipBot,
    answer,
    service_files,
    ship_bot,
    text_of,
)

__all__ = ["ship_bot", "swarm"]


def test_a_commit_goes_to_prod_with_one_approval(
    ship_bot: ShipBot, swarm: docker.DockerClient, registry_addr: str
) -> None:
    del swarm  # prod is a Swarm service
    s = ship_bot(watch="2s", prod_target="swarm")
    said = s.ship(f"{s.service} 1.0.0")
    assert "Pipeline #1" in said and "started" in said
    # staging needs no approval; prod's request waits in #ops for U0BOB, like /deploy's.
    request = request_message(s.ws, "C0OPS")
    assert "to `prod`" in text_of(request)
    s.ws.user_react("U0BOB", "C0OPS", request.ts, "white_check_mark")
    shown = s.wait_state(1, "succeeded")
    steps = ("build (", "test (", "release (")
    for env in ("staging", "prod"):
        steps += (f"approval for {env}", f"deploy to {env}", f"watch in {env}")
    for line in steps:
        assert f":white_check_mark: {line}" in shown, line
    assert "approved by <@U0BOB>" in shown
    assert answer(s.staging_port) == "v1"
    assert answer(s.prod_port) == "v1"
    assert "1.0.0" in s.tags(registry_addr)
    s.wait_announcement("started")
    s.wait_announcement("passed its watch in staging, promoting to prod")
    s.wait_announcement("succeeded")
    thread = "\n".join(s.thread(1))
    assert "Build `build-" in thread and "Release `release-" in thread
    assert "Deploy #2 to `prod` filed, waiting for 1 approval(s)" in thread
    # Bad input gets a clear answer and changes nothing.
    assert "already in the registry" in s.ship(f"{s.service} 1.0.0")
    assert "nosuchref" in s.ship(f"{s.service} 1.0.1 nosuchref")
    assert len([m for m in s.ws.messages("C0DEV") if m.text.startswith("pipeline #")]) == 1


def test_a_failing_test_stops_the_pipeline_with_nothing_pushed(
    ship_bot: ShipBot, registry_addr: str
) -> None:
    s = ship_bot()
    s.commit(service_files("v2", tests=FAILING), "OPS-2 breaks a test")
    s.ship(f"{s.service} 2.0.0")
    shown = s.wait_state(1, "failed")
    assert ":white_check_mark: build" in shown
    assert ":x: test" in shown and "Nothing was pushed." in shown
    assert ":heavy_minus_sign: release" in shown
    assert ":heavy_minus_sign: deploy to staging" in shown
    assert "2.0.0" not in s.tags(registry_addr)
    assert answer(s.staging_port) == ""
    assert not [m for m in s.ws.messages("C0OPS") if "Deploy #" in m.text]
    s.wait_announcement("failed")
