"""Two `opsloop serve` processes on one PostgreSQL schema and the real engine: kill -9 of
the process running a deploy after its approval, and the other settles the deploy from the
engine (the service keeps serving one version) and says so in the thread; kill -9 of the
lease holder, and the other runs Monitor's checks; an alert is posted once across them, and
one resolved by hand in a process that does not check fires again while its check fails."""

from __future__ import annotations

import re
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest

from bot.core.naming import LABEL_ROLE, LABEL_SERVICE, ROLE_PROXY
from bot.workspace import SignedClient, SlackWorkspace
from tests.scenarios.deploy.support import (
    BROKEN,
    DEADLINE,
    GOOD,
    Images,
    answer,
    free_port,
    images,
    remove_deployments,
    request_message,
    text_of,
    wait_state,
)
from tests.scenarios.served import LISTENING, serving
from tests.scenarios.two_served import pair_env, served_pair
from tests.support.postgres import fresh_schema

__all__ = ["images"]

TTL = 3.0


def _config(images: Images, service: str, port: int) -> str:
    # One namespace for both processes: they are one installation on the engine.
    return f"""
slack:
  ops_channel: C0OPS
docker:
  namespace: ha-{service}
services:
  {service}:
    repo: {images.repo_dir}
    image: {images.repository}
    port: 8080
    health: /health
    deploy:
      prod: {{target: container, publish: {port}}}
    checks: {{interval: 1s, timeout: 1s, fail_after: 2, resolve_after: 2}}
environments:
  prod:
    approvals: 1
    approvers: [U0BOB]
"""


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_schema() as url:
        yield url


def _leases(url: str) -> list[str]:
    try:
        found = httpx.get(url + "/healthz", timeout=2).json()["leases"]
    except httpx.HTTPError:
        return []
    return list(found)


def _alerts(ws: SlackWorkspace) -> list[str]:
    """The alert messages in the ops channel (not the replies in deploy threads), with their
    blocks."""
    return [text_of(m) for m in ws.messages("C0OPS")
            if m.is_bot and re.search(r"Alert #\d+:", m.text)]  # fmt: skip


def _wait_alerts(ws: SlackWorkspace, *states: str) -> None:
    """Until the alert messages are exactly `states` (e.g. "resolved", "firing"), in order."""

    def shown() -> bool:
        alerts = _alerts(ws)
        return len(alerts) == len(states) and all(
            f"*{state}*" in alert for alert, state in zip(alerts, states, strict=True)
        )

    ws.wait_for(shown, timeout=DEADLINE, description=f"alerts {states}")


def _running(client: docker.DockerClient, service: str) -> list[str]:
    """The service's running containers, not its reverse proxy."""
    containers = client.containers.list(filters={"label": f"{LABEL_SERVICE}={service}"})
    return sorted(c.name for c in containers if c.labels.get(LABEL_ROLE) != ROLE_PROXY)


def test_kill_9_of_a_deploy_and_of_the_lease_holder_the_other_process_settles_and_checks(
    workspace: SlackWorkspace,
    tmp_path: Path,
    postgres_url: str,
    images: Images,
    docker_client: docker.DockerClient,
) -> None:
    ws = workspace
    service, port = f"ha{uuid.uuid4().hex[:6]}", free_port()
    envs = pair_env(
        ws, tmp_path, _config(images, service, port), postgres_url,
        OPSLOOP_LEASE_SECONDS=str(TTL),
    )  # fmt: skip
    secret = envs[0]["SLACK_SIGNING_SECRET"]
    try:
        with served_pair(envs) as ((holder, standby), urls):
            clients = [SignedClient(url + "/slack/events", secret, ws) for url in urls]
            assert _leases(urls[0]) == ["singletons"] and _leases(urls[1]) == []

            # The standby runs the first deploy: its approval reaches it.
            ws.connect_bot(clients[1])
            ws.user_command("U0ALICE", "C0DEV", "/deploy", f"{service} {GOOD} to prod")
            first = request_message(ws, "C0DEV")
            ws.user_react("U0BOB", "C0DEV", first.ts, "white_check_mark")
            wait_state(ws, first, "succeeded")
            assert answer(port) == GOOD

            # The lease holder runs the second; it is killed while the candidate is probed.
            ws.connect_bot(clients[0])
            ws.user_command("U0ALICE", "C0DEV", "/deploy", f"{service} {BROKEN} to prod")
            second = request_message(ws, "C0DEV", nth=2)
            ws.user_react("U0BOB", "C0DEV", second.ts, "white_check_mark")
            wait_state(ws, second, "running")
            holder.process.kill()
            killed = time.monotonic()
            holder.process.wait(timeout=DEADLINE)
            ws.connect_bot(clients[1])

            ws.wait_for(lambda: _leases(urls[1]) == ["singletons"], timeout=TTL + TTL / 3 + 2,
                        description="the standby to take the lease")  # fmt: skip
            took_lease = time.monotonic() - killed
            settled = wait_state(ws, second, "failed")
            took_deploy = time.monotonic() - killed
            print(f"after kill -9: lease {took_lease:.2f} s, deploy settled {took_deploy:.2f} s")
            thread = [m.text for m in ws.thread("C0DEV", second.ts)]
            assert any("stopped answering" in text and "takes it over" in text for text in thread)
            assert f"runs `{GOOD}`" in text_of(settled)
            assert answer(port) == GOOD
            assert len(_running(docker_client, service)) == 1  # no candidate left behind

            # The standby checks now: a broken health path fires one alert, which a third
            # process joining on the same store does not post again.
            container = docker_client.containers.get(_running(docker_client, service)[0])
            container.exec_run(["/bin/rm", "-f", "/www/health"])
            _wait_alerts(ws, "firing")
            with serving(envs[0]) as third:
                third_url = third.wait_for_line(LISTENING).group(1)
                container.exec_run(["/bin/sh", "-c", f"echo {GOOD} > /www/health"])
                _wait_alerts(ws, "resolved")
                container.exec_run(["/bin/rm", "-f", "/www/health"])
                _wait_alerts(ws, "resolved", "firing")
                # Resolved by hand in the process that does not check: the checking one
                # starts that check over, and the health path, still broken, fires again.
                found = re.search(r"Alert #(\d+):", _alerts(ws)[-1])
                assert found is not None
                by_third = SignedClient(third_url + "/slack/events", secret, ws)
                ws.connect_bot(by_third)
                ws.user_command("U0BOB", "C0DEV", "/alerts", f"resolve {found.group(1)}")
                _wait_alerts(ws, "resolved", "resolved", "firing")
                ws.connect_bot(clients[1])
                by_third.close()
                assert third.end(signal.SIGTERM) == 0
            assert len(_alerts(ws)) == 3  # each posted once, whichever process checked
            for client in clients:
                client.close()
            assert standby.end(signal.SIGTERM) == 0
    finally:
        remove_deployments(docker_client, service)
