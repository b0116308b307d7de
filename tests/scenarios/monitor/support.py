"""Shared pieces for the Monitor scenarios: a bot that deploys a fresh service name to a
container (staging, no approval) and checks it every second; ways to break and mend the
service's health path or make it burn CPU, on the real engine; reading alerts back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import docker
import pytest

from bot.core.naming import deployment_name
from bot.settings import Settings
from bot.workspace import SlackWorkspace
from bot.workspace.model import Message
from tests.scenarios.conftest import Harness
from tests.scenarios.deploy.support import (
    DEADLINE,
    Images,
    ShiftableClock,
    free_port,
    remove_deployments,
    request_message,
    start,
    text_of,
    wait_state,
)

OPS = "C0OPS"


def config_text(images: Images, service: str, port: int, extra: str = "") -> str:
    """One service deployed as a container to staging, checked every second."""
    return f"""
slack:
  ops_channel: {OPS}
services:
  {service}:
    repo: {images.repo_dir}
    image: {images.repository}
    port: 8080
    health: /health
    deploy:
      staging: {{target: container, publish: {port}}}
    checks: {{interval: 1s, timeout: 1s, fail_after: 2, resolve_after: 2, cpu: 80}}
environments:
  staging: {{}}
{extra}
"""


@dataclass
class Monitored:
    """A started bot, its service and the engine."""

    harness: Harness
    service: str
    port: int
    clock: ShiftableClock
    engine: docker.DockerClient

    @property
    def ws(self) -> SlackWorkspace:
        """The workspace."""
        return self.harness.workspace

    def deploy(self, version: str, user: str = "U0ALICE", nth: int = 1) -> Message:
        """Deploy `version` to staging as `user` and wait for it to succeed."""
        self.ws.user_command(user, "C0DEV", "/deploy", f"{self.service} {version} to staging")
        request = request_message(self.ws, "C0DEV", nth=nth)
        wait_state(self.ws, request, "succeeded")
        return request

    def container(self) -> docker.models.containers.Container:
        """The deployment's container."""
        namespace = self.harness.bot.config.namespace
        return self.engine.containers.get(deployment_name(namespace, self.service, "staging"))

    def break_health(self) -> None:
        """The health path answers 404 from now on."""
        self.container().exec_run(["/bin/rm", "-f", "/www/health"])

    def mend_health(self) -> None:
        """The health path answers 200 again."""
        self.container().exec_run(["/bin/sh", "-c", "echo mended > /www/health"])

    def restart(self) -> None:
        """Stop the bot and start a new one on the same store."""
        config = self.harness.bot.config
        self.harness.bot.stop()
        self.harness = start(self.ws, self.harness.settings, config, self.clock)


def alert_messages(ws: SlackWorkspace) -> list[Message]:
    """The alert messages in the ops channel, oldest first (not the broadcast replies in
    deploy threads)."""
    return [m for m in ws.messages(OPS) if m.is_bot and "Alert #" in m.text and not m.is_reply]


def announcement(ws: SlackWorkspace, service: str, version: str) -> Message:
    """The ops channel's announcement that the deploy of `service` at `version` succeeded."""

    def found() -> Message | None:
        return next(
            (m for m in ws.messages(OPS)
             if m.is_bot and not m.is_reply and f"`{service}`" in m.text
             and "succeeded" in m.text and f"→ `{version}`" in m.text),
            None,
        )  # fmt: skip

    message = ws.wait_for(found, timeout=DEADLINE, description=f"{version} announced")
    assert message is not None
    return message


def wait_alert(ws: SlackWorkspace, words: str, nth: int = 1) -> Message:
    """The nth alert message, once its text shows `words`."""

    def found() -> Message | None:
        alerts = alert_messages(ws)
        if len(alerts) < nth:
            return None
        current = alerts[nth - 1]
        return current if words in text_of(current) else None

    try:
        message = ws.wait_for(found, timeout=DEADLINE, description=f"alert {words}")
    except TimeoutError as error:
        shown = [text_of(m) for m in alert_messages(ws)]
        raise AssertionError(f"no alert #{nth} showing {words!r}; alerts: {shown}") from error
    assert message is not None
    return message


def thread_texts(ws: SlackWorkspace, message: Message) -> list[str]:
    """The replies under a message."""
    return [text_of(m) for m in ws.thread(message.channel, message.ts)[1:]]


def alert_id(message: Message) -> str:
    """The alert's number, from its text."""
    return message.text.split("Alert #", 1)[1].split(":", 1)[0]


@pytest.fixture
def monitored(
    workspace: SlackWorkspace,
    settings: Settings,
    images: Images,
    docker_client: docker.DockerClient,
) -> Iterator[Monitored]:
    """A bot monitoring a fresh service name; what it deployed is removed afterwards."""
    service = f"mon{uuid.uuid4().hex[:6]}"
    port = free_port()
    clock = ShiftableClock()
    harness = start(workspace, settings, config_text(images, service, port), clock)
    running = Monitored(harness, service, port, clock, docker_client)
    yield running
    running.harness.bot.stop()
    running.harness.slack.close()
    remove_deployments(docker_client, service)
