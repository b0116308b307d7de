"""Shared pieces for the deploy scenarios: a git repository and test images whose revision
labels point into it, pushed to the local registry; a bot with a clock the test can move;
free host ports; cleanup of what the deploys created on the engine."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest
from docker.errors import APIError, NotFound

from bot.app import build
from bot.config import Config, parse_config
from bot.core.naming import LABEL_SERVICE, OCI_REVISION
from bot.settings import Settings
from bot.workspace import SignedClient, SlackWorkspace
from bot.workspace.model import Message
from tests.scenarios.conftest import Harness
from tests.support.images import HTTPD_DOCKERFILE_TAIL, build_image, write_busybox_context
from tests.support.repos import commit, make_repo

DEADLINE = 90.0
GOOD, NEWER, BROKEN = "1.0.0", "2.0.0", "0.9.9"


class ShiftableClock:
    """The real clock, plus whatever time the test skips ahead."""

    def __init__(self) -> None:
        self._skew = timedelta()

    def now(self) -> datetime:
        """Now, plus the skew."""
        return datetime.now(UTC) + self._skew

    def monotonic(self) -> float:
        """The real monotonic clock (durations and rate limits stay real)."""
        import time

        return time.monotonic()

    def advance(self, seconds: float) -> None:
        """Skip ahead."""
        self._skew += timedelta(seconds=seconds)


@dataclass(frozen=True)
class Images:
    """GOOD and NEWER serve their version at /health; BROKEN answers 404 there."""

    repository: str
    repo_dir: Path
    revisions: dict[str, str]


def free_port() -> int:
    """A host port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def swarm(docker_client: docker.DockerClient) -> docker.DockerClient:
    """The engine, in Swarm mode (initialised once; a no-op when it already is)."""
    if docker_client.info().get("Swarm", {}).get("LocalNodeState") != "active":
        try:
            docker_client.swarm.init(advertise_addr="127.0.0.1")
        except APIError as error:
            if "already part of a swarm" not in str(error):
                raise
    return docker_client


@pytest.fixture(scope="module")
def images(
    docker_client: docker.DockerClient,
    registry_addr: str,
    busybox_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Images]:
    """The test images, built once per module and pushed under a unique repository."""
    root = tmp_path_factory.mktemp("deploy-images")
    repo_dir = make_repo(root / "src", {"README": "v1\n"}, "OPS-1 first release")
    revisions = {GOOD: _head(repo_dir)}
    revisions[NEWER] = commit(repo_dir, {"README": "v2\n"}, "OPS-2 faster pages")
    revisions[BROKEN] = commit(repo_dir, {"README": "bad\n"}, "OPS-3 break health")
    repository = f"{registry_addr}/opsloop-deploy-{uuid.uuid4().hex[:8]}"
    for version, sha in revisions.items():
        files = {"www/index.html": version} if version == BROKEN else {"www/health": version}
        context = write_busybox_context(
            root / f"ctx-{version}", busybox_path, files, HTTPD_DOCKERFILE_TAIL
        )
        build_image(docker_client, context, f"{repository}:{version}", {OCI_REVISION: sha})
        docker_client.images.push(repository, tag=version)
    yield Images(repository, repo_dir, revisions)
    for version in revisions:
        with contextlib.suppress(NotFound, APIError):
            docker_client.images.remove(f"{repository}:{version}", force=True)


def _head(repo: Path) -> str:
    import subprocess

    done = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def config_text(images: Images, service: str, ports: tuple[int, int, int]) -> str:
    """One service deployed as a container to prod (1 approval from @approvers) and to qa
    (2 approvals), and as a Swarm service to staging (no approval)."""
    prod_port, swarm_port, qa_port = ports
    return f"""
slack:
  ops_channel: C0OPS
services:
  {service}:
    repo: {images.repo_dir}
    image: {images.repository}
    port: 8080
    health: /health
    deploy:
      prod: {{target: container, publish: {prod_port}}}
      staging: {{target: swarm, publish: {swarm_port}}}
      qa: {{target: container, publish: {qa_port}}}
environments:
  staging: {{}}
  qa:
    approvals: 2
    approvers: [U0BOB, U0CAROL]
  prod:
    approvals: 1
    approvers: [S0APPROVERS]
    approval_timeout_minutes: 5
"""


def start(
    workspace: SlackWorkspace, settings: Settings, config: str | Config, clock: ShiftableClock
) -> Harness:
    """A started bot on `clock`."""
    parsed = parse_config(config, {}) if isinstance(config, str) else config
    bot = build(settings, parsed, clock=clock)
    server = bot.start()
    client = SignedClient(server.events_url, settings.signing_secret, workspace)
    workspace.connect_bot(client)
    return Harness(bot=bot, workspace=workspace, slack=client, settings=settings)


def _remove_container(container: Any) -> None:
    try:
        container.remove(force=True)
    except NotFound:
        pass
    except APIError as error:
        if error.status_code != 409:  # 409: the engine is removing it already
            raise


def remove_deployments(client: docker.DockerClient, service: str) -> None:
    """Remove every container and Swarm service the deploys of `service` created (found by
    their opsloop.service label, whatever their names). Works on an engine that is not in
    Swarm mode: there are no services to remove then."""
    label = {"label": f"{LABEL_SERVICE}={service}"}
    # Services first: a task container removed under its service is replaced or is being
    # removed by Swarm at the same moment (409 "removal ... already in progress").
    try:
        services = client.services.list(filters=label)
    except APIError as error:
        if error.status_code != 503:  # 503: not a swarm manager, it runs no services
            raise
        services = None
    for found in services or []:
        with contextlib.suppress(NotFound):
            found.remove()
    for container in client.containers.list(all=True, filters=label):
        _remove_container(container)
    if services is None:
        return  # an engine outside Swarm mode: what follows is Swarm's
    # A proxied deployment's network goes once the removed tasks let go of it.
    until = time.monotonic() + DEADLINE
    for network in client.networks.list(filters=label):
        while True:
            try:
                network.remove()
                break
            except NotFound:
                break
            except APIError:
                if time.monotonic() > until:
                    raise
                threading.Event().wait(0.25)


def answer(port: int, path: str = "/health") -> str:
    """What the published port answers (empty when nothing does)."""
    try:
        reply = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2)
    except httpx.HTTPError:
        return ""
    return reply.text.strip() if reply.is_success else f"HTTP {reply.status_code}"


def request_message(workspace: SlackWorkspace, channel: str, nth: int = 1) -> Message:
    """The nth deploy request message the bot posted in `channel`, waiting for it."""

    def found() -> list[Message]:
        return [
            m
            for m in workspace.messages(channel)
            if m.is_bot and ("Deploy #" in _text(m) or "Rollback #" in _text(m))
        ]

    try:
        workspace.wait_for(lambda: len(found()) >= nth, timeout=DEADLINE, description="request")
    except TimeoutError as error:
        said = [e.text for e in workspace.ephemerals()]
        raise AssertionError(f"no request message; the bot said: {said}") from error
    return found()[nth - 1]


def wait_state(
    workspace: SlackWorkspace, message: Message, state: str, timeout: float = DEADLINE
) -> Message:
    """Wait until the request message shows `state`, and return it."""

    def current() -> Message | None:
        now = workspace.message(message.channel, message.ts)
        return now if now is not None and f"— *{state}*" in _text(now) else None

    try:
        found = workspace.wait_for(current, timeout=timeout, description=f"state {state}")
    except TimeoutError as error:
        now = workspace.message(message.channel, message.ts)
        thread = [m.text for m in workspace.thread(message.channel, message.ts)]
        shown = text_of(now) if now else "(gone)"
        raise AssertionError(f"not {state}: {shown}\nthread: {thread}") from error
    assert found is not None
    return found


def text_of(message: Message) -> str:
    """The message's text and its sections."""
    return _text(message)


def _text(message: Message) -> str:
    parts = [message.text]
    for block in message.blocks or []:
        parts.append(str((block.get("text") or {}).get("text", "")))
    return "\n".join(parts)


def announcements(workspace: SlackWorkspace, service: str) -> list[str]:
    """The ops channel's announcements about `service`."""
    return [
        _text(m)
        for m in workspace.messages("C0OPS")
        if m.is_bot and f"`{service}`" in m.text and "Shipped:" in m.text
    ]


class Env:
    """A started bot, the service name it deploys and its published ports."""

    def __init__(
        self, harness: Harness, service: str, ports: tuple[int, int, int], clock: ShiftableClock
    ) -> None:
        self.harness, self.service, self.clock = harness, service, clock
        self.port, self.swarm_port, self.qa_port = ports

    @property
    def ws(self) -> SlackWorkspace:
        """The workspace."""
        return self.harness.workspace


@pytest.fixture
def env(
    workspace: SlackWorkspace,
    settings: Settings,
    images: Images,
    docker_client: docker.DockerClient,
) -> Iterator[Env]:
    """A bot deploying a fresh service name; what it deployed is removed afterwards."""
    service = f"svc{uuid.uuid4().hex[:6]}"
    ports = (free_port(), free_port(), free_port())
    clock = ShiftableClock()
    harness = start(workspace, settings, config_text(images, service, ports), clock)
    running = Env(harness, service, ports, clock)
    yield running
    running.harness.bot.stop()
    running.harness.slack.close()
    remove_deployments(docker_client, service)
