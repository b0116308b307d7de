"""Deployments on the Docker engine: one plain container (integrations.docker_engine.
containers), or a Swarm service (integrations.docker_engine.swarm), per service and
environment, named and labelled as bot.core.naming says. Which versions the registry holds
is integrations.registry's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import docker
import httpx
from docker.errors import NotFound

from bot.core.clock import Clock
from bot.core.deploy.model import (
    DeployState,
    HealthTimings,
    Outcome,
    Progress,
    Running,
    Target,
)
from bot.core.errors import OpsloopError
from bot.core.naming import (
    LABEL_DEPLOY_ID,
    LABEL_ENV,
    LABEL_SERVICE,
    LABEL_VERSION,
    OCI_REVISION,
    deployment_name,
)
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.containers import ContainerRollout, settle_swap
from integrations.docker_engine.rollout_common import (
    HEALTH_DEADLINE,
    POLL,
    PROBE_TIMEOUT,
    SWARM_DEADLINE,
    SWARM_SETTLED,
    find_service,
    host_port,
)
from integrations.docker_engine.swarm import SwarmRollout

__all__ = ["HEALTH_DEADLINE", "DockerDeployments"]

T = TypeVar("T")


class DockerDeployments:
    """bot.core.deploy.model.DeployEngine on the engine `connection` reaches."""

    def __init__(
        self, connection: EngineConnection, clock: Clock, health_deadline: float = HEALTH_DEADLINE
    ) -> None:
        self._engine = connection
        self._clock = clock
        self._health_deadline = health_deadline

    def client(self) -> docker.DockerClient:
        """The engine's shared client (EngineUnavailable, saying why, when out of reach)."""
        return self._engine.client()

    def running(self, target: Target) -> Running:
        """The version and deploy id on the container or service, from its labels."""
        name = deployment_name(target.service, target.env)
        with self._engine.call(f"look up `{name}`") as client:
            return _running(client, target.kind, name)

    def settle(self, target: Target) -> Running:
        """What runs once the engine stops converging, for a deploy the bot lost track of:
        a Swarm update in progress is waited for (up to its deadline); a container swap cut
        short is finished or undone (integrations.docker_engine.containers.settle_swap).
        Healthy only when the deployment also answers its health path."""
        name = deployment_name(target.service, target.env)
        with self._engine.call(f"settle `{name}`") as client:
            if target.kind == "swarm":
                self.wait(lambda: _swarm_settled(client, name), SWARM_DEADLINE)
            else:
                settle_swap(client, name, partial(self._answers, target))
            running = _running(client, target.kind, name)
            if running.version is None or not running.healthy:
                return running
            port = target.publish
            if port is None and target.kind != "swarm":
                try:
                    port = host_port(client.containers.get(name), target.port)
                except NotFound:
                    return Running(None, None, False)
        if port is not None and not self.healthy(port, target.health, target.probe):
            return Running(running.version, running.deploy_id, False)
        return running

    def revision(self, image_ref: str) -> str | None:
        """Pull `image_ref` and read its revision label."""
        repository, _, tag = image_ref.rpartition(":")
        with self._engine.call(f"pull `{image_ref}`") as client:
            image = client.images.pull(repository, tag=tag)
        value = (image.labels or {}).get(OCI_REVISION)
        return str(value) if value else None

    def deploy(
        self, target: Target, image_ref: str, version: str, deploy_id: str, progress: Progress
    ) -> Outcome:
        """Roll out `image_ref`; never raises for a failed rollout, only reports it."""
        labels = {
            LABEL_SERVICE: target.service,
            LABEL_ENV: target.env,
            LABEL_VERSION: version,
            LABEL_DEPLOY_ID: deploy_id,
        }
        try:
            with self._engine.call(f"deploy `{image_ref}`"):
                if target.kind == "swarm":
                    return SwarmRollout(self, target, image_ref, labels, progress).run()
                return ContainerRollout(self, target, image_ref, labels, progress).run()
        except OpsloopError as error:
            return Outcome(DeployState.FAILED, error.message)

    def _answers(self, target: Target, container: Any) -> bool:
        port = host_port(container, target.port)
        return port is not None and self.healthy(port, target.health, target.probe)

    def close(self) -> None:
        """Close the engine's client (a later call connects again)."""
        self._engine.close()

    def wait(self, check: Callable[[], T], deadline: float) -> T:
        """Poll `check()` until it returns something truthy or `deadline` seconds pass."""
        until = self._clock.monotonic() + deadline
        while True:
            found = check()
            if found or self._clock.monotonic() >= until:
                return found
            threading.Event().wait(POLL)

    def healthy(self, port: int, path: str, probe: HealthTimings) -> bool:
        """Whether http://127.0.0.1:port/path answers 2xx in time: within the health
        deadline, or, with timings given, within start_period + interval * retries."""
        per_probe = probe.timeout or PROBE_TIMEOUT
        deadline = self._health_deadline
        if probe.given:
            deadline = (probe.start_period or 0.0) + (probe.interval or 1.0) * (probe.retries or 3)

        def answers() -> bool:
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=per_probe)
            except httpx.HTTPError:
                return False
            return reply.is_success

        return bool(self.wait(answers, deadline))


def _running(client: docker.DockerClient, kind: str, name: str) -> Running:
    try:
        if kind == "swarm":
            service = find_service(client, name)
            if service is None:
                return Running(None, None, False)
            labels = service.attrs["Spec"].get("Labels") or {}
            state = (service.attrs.get("UpdateStatus") or {}).get("State", "completed")
            healthy = state in ("completed", "rollback_completed")
        else:
            container = client.containers.get(name)
            labels = container.labels
            healthy = container.status == "running"
    except NotFound:
        return Running(None, None, False)
    return Running(labels.get(LABEL_VERSION), labels.get(LABEL_DEPLOY_ID), healthy)


def _swarm_settled(client: docker.DockerClient, name: str) -> bool:
    service = find_service(client, name)
    state = (service.attrs.get("UpdateStatus") or {}).get("State") if service else None
    return state is None or state in SWARM_SETTLED
