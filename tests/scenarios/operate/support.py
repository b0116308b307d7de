"""Shared pieces for the Operate scenarios: busybox images (a web service that logs a line
with a secret in it every tenth of a second, one that crashes at once, one that burns CPU
until a given time, one that writes 1,500 lines of 3,000 characters at start, one that
writes 600 short lines at start), Swarm
services and containers created straight on the engine under the names opsloop gives
them, a bot on those settings, and cleanup of what the tests made."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import docker
import pytest
from docker.errors import APIError, NotFound
from docker.types import EndpointSpec, Resources, RestartPolicy, ServiceMode, UpdateConfig

from bot.app import build
from bot.config import Config, parse_config
from bot.core.naming import (
    LABEL_ENV,
    LABEL_NAMESPACE,
    LABEL_SERVICE,
    LABEL_VERSION,
    deployment_name,
)
from bot.settings import Settings
from bot.workspace import SignedClient, SlackWorkspace
from tests.scenarios.conftest import Harness
from tests.scenarios.deploy.support import free_port, swarm
from tests.support.images import build_image, write_busybox_context

__all__ = ["swarm"]
T = TypeVar("T")

DEADLINE = 120.0
SECRET = "opsloopsecret42"
SECOND = 1_000_000_000

_WEB = f"""\
COPY www /www
CMD ["/bin/sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i token={SECRET}; \
sleep 0.1; done & exec /bin/busybox httpd -f -p 8080 -h /www"]
"""
_CRASH = 'CMD ["/bin/sh", "-c", "echo starting; echo boom >&2; exit 3"]\n'
_BURN = (
    'CMD ["/bin/sh", "-c", "while [ $(date +%s) -lt $BURN_UNTIL ]; do :; done; '
    'exec /bin/busybox sleep 100000"]\n'
)

# Shell form: the quotes keep the padding's spaces in each line.
_LOUD = (
    "CMD pad=$(printf %3000s x); i=0; while [ $i -lt 1500 ]; do i=$((i+1)); "
    'echo "loud $i $pad"; done; exec /bin/busybox sleep 100000\n'
)
_BURST = (
    'CMD ["/bin/sh", "-c", "i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo burst $i; done; '
    'exec /bin/busybox sleep 100000"]\n'
)
BURST_LINES = 600


@dataclass(frozen=True)
class Images:
    """The pushed test images: web (serves /health, logs), crash, burn, loud, burst (600
    short lines at start, then quiet)."""

    web: str
    crash: str
    burn: str
    loud: str
    burst: str


NAMESPACE = "optest"
"""The namespace of the bots these scenarios start (docker.namespace)."""


@pytest.fixture(scope="package")
def operate_images(
    docker_client: docker.DockerClient,
    registry_addr: str,
    busybox_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Images]:
    """The images, built and pushed once for the Operate scenarios."""
    root = tmp_path_factory.mktemp("operate-images")
    repository = f"{registry_addr}/opsloop-operate-{uuid.uuid4().hex[:8]}"
    tails = {"web": _WEB, "crash": _CRASH, "burn": _BURN, "loud": _LOUD, "burst": _BURST}
    refs = {}
    for name, tail in tails.items():
        files = {"www/health": "ok"} if name == "web" else {}
        context = write_busybox_context(root / name, busybox_path, files, tail)
        build_image(docker_client, context, f"{repository}:{name}")
        docker_client.images.push(repository, tag=name)
        refs[name] = f"{repository}:{name}"
    yield Images(**refs)
    for ref in refs.values():
        with contextlib.suppress(NotFound, APIError):
            docker_client.images.remove(ref, force=True)


def create_service(
    client: docker.DockerClient,
    service: str,
    env: str,
    image: str,
    replicas: int,
    *,
    cpu: float | None = None,
    environment: list[str] | None = None,
    publish: int | None = None,
) -> None:
    """A Swarm service named and labelled as a deploy of `service` to `env` would be."""
    labels = {LABEL_NAMESPACE: NAMESPACE, LABEL_SERVICE: service, LABEL_ENV: env,
              LABEL_VERSION: "1.0.0"}  # fmt: skip
    client.services.create(
        image,
        name=deployment_name(NAMESPACE, service, env),
        labels=labels,
        container_labels=labels,
        mode=ServiceMode("replicated", replicas),
        env=environment or [],
        resources=Resources(cpu_limit=int(cpu * SECOND)) if cpu else None,
        restart_policy=RestartPolicy("any", delay=SECOND),
        update_config=UpdateConfig(parallelism=1, order="stop-first", monitor=SECOND),
        endpoint_spec=EndpointSpec(ports={publish: (8080, "tcp", "host")}) if publish else None,
    )


def create_container(client: docker.DockerClient, service: str, env: str, image: str) -> None:
    """A plain container as a container deploy of `service` to `env` would run it."""
    labels = {LABEL_NAMESPACE: NAMESPACE, LABEL_SERVICE: service, LABEL_ENV: env,
              LABEL_VERSION: "1.0.0"}  # fmt: skip
    client.containers.run(
        image, name=deployment_name(NAMESPACE, service, env), detach=True, labels=labels,
        ports={"8080/tcp": ("127.0.0.1", None)},
    )  # fmt: skip


def running(client: docker.DockerClient, service: str, env: str) -> list[str]:
    """The ids of the service's tasks that run and should."""
    found = client.services.get(deployment_name(NAMESPACE, service, env))
    return sorted(
        t["ID"]
        for t in found.tasks(filters={"desired-state": "running"})
        if t["Status"]["State"] == "running"
    )


def replicas(client: docker.DockerClient, service: str, env: str) -> int:
    """The service's desired replicas."""
    found = client.services.get(deployment_name(NAMESPACE, service, env))
    return int(found.attrs["Spec"]["Mode"]["Replicated"]["Replicas"])


def wait_running(
    ws: SlackWorkspace, client: docker.DockerClient, service: str, env: str, count: int
) -> list[str]:
    """Wait until exactly `count` tasks run, and return their ids."""

    del ws

    def done() -> list[str] | None:
        ids = running(client, service, env)
        return ids if len(ids) == count else None

    return poll(done, DEADLINE, f"{count} running task(s) of {service}")


def poll(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Call `check` until it returns something truthy (deadline `timeout` s)."""
    until = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > until:
            raise AssertionError(f"timed out waiting for {what}")
        threading.Event().wait(0.25)


def remove_all(client: docker.DockerClient, service: str) -> None:
    """Remove every service and container named after `service`."""
    for found in client.services.list(filters={"name": f"opsloop-{NAMESPACE}-{service}-"}):
        found.remove()
    # Sparse: a Swarm task's container can go with its service between listing and inspecting.
    named = {"name": f"opsloop-{NAMESPACE}-{service}-"}
    for container in client.containers.list(all=True, filters=named, sparse=True):
        with contextlib.suppress(NotFound, APIError):
            container.remove(force=True)


def config_text(service: str, image: str, extra: str = "") -> str:
    """`service` as a Swarm service in staging (no approval, max 4) and prod (one approval
    from U0BOB), and as a container in box; its repository URL carries a secret."""
    return f"""
slack:
  ops_channel: C0OPS
docker:
  namespace: {NAMESPACE}
services:
  {service}:
    repo: https://bot:{SECRET}@git.example.com/web.git
    image: {image.rpartition(":")[0]}
    port: 8080
    health: /health
    deploy:
      staging: {{target: swarm, max_replicas: 4{extra}}}
      prod: {{target: swarm}}
      box: {{target: container, publish: {free_port()}}}
environments:
  staging: {{}}
  box: {{}}
  prod:
    approvals: 1
    approvers: [U0BOB]
"""


class Bot:
    """A started bot on a fresh service name, with the engine client for checks."""

    def __init__(self, harness: Harness, service: str, client: docker.DockerClient) -> None:
        self.harness, self.service, self.client = harness, service, client

    @property
    def ws(self) -> SlackWorkspace:
        """The workspace."""
        return self.harness.workspace

    def say(self, user: str, command: str, text: str) -> None:
        """A user types a slash command in #dev."""
        self.ws.user_command(user, "C0DEV", command, text)


def start_bot(
    workspace: SlackWorkspace,
    settings: Settings,
    config: str | Config,
    autoscale_seconds: float = 15.0,
) -> Harness:
    """A started bot whose autoscaler evaluates every `autoscale_seconds`."""
    parsed = parse_config(config, {}) if isinstance(config, str) else config
    bot = build(settings, parsed, autoscale_seconds=autoscale_seconds)
    server = bot.start()
    client = SignedClient(server.events_url, settings.signing_secret, workspace)
    workspace.connect_bot(client)
    return Harness(bot=bot, workspace=workspace, slack=client, settings=settings)


@pytest.fixture
def bot(
    workspace: SlackWorkspace,
    settings: Settings,
    operate_images: Images,
    swarm: docker.DockerClient,
) -> Iterator[Bot]:
    """A bot operating a fresh service name; what the test created is removed afterwards."""
    service = f"op{uuid.uuid4().hex[:6]}"
    harness = start_bot(workspace, settings, config_text(service, operate_images.web))
    running_bot = Bot(harness, service, swarm)
    yield running_bot
    running_bot.harness.bot.stop()
    running_bot.harness.slack.close()
    remove_all(swarm, service)
