"""Deployments on the Docker engine: one plain container (integrations.docker_engine.
containers), or a Swarm service (integrations.docker_engine.swarm), per service and
environment, named and labelled as bot.core.naming says. Which versions the registry holds
is integrations.registry's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import docker
import httpx
from docker.errors import APIError, ImageNotFound, NotFound

from bot.core.clock import Clock
from bot.core.deploy.model import DeployState, Outcome, Progress, Running, Target
from bot.core.errors import EngineUnavailable, IntegrationError
from bot.core.naming import (
    LABEL_DEPLOY_ID,
    LABEL_ENV,
    LABEL_NAMESPACE,
    LABEL_SERVICE,
    LABEL_VERSION,
    OCI_REVISION,
    deployment_name,
    foreign_namespace,
)
from integrations.docker_engine import connect
from integrations.docker_engine.containers import ContainerRollout
from integrations.docker_engine.ownership import (
    ForeignDeployment,
    container_of,
    labels_of_service,
    swarm_service_of,
)
from integrations.docker_engine.rollout_common import (
    ENGINE_ERRORS,
    HEALTH_DEADLINE,
    NOT_MANAGER,
    NOT_SWARM,
    POLL,
    SWARM_DEADLINE,
    SWARM_SETTLED,
    engine_error,
    host_port,
)
from integrations.docker_engine.swarm import SwarmRollout

__all__ = ["HEALTH_DEADLINE", "DockerDeployments"]

T = TypeVar("T")


class DockerDeployments:
    """bot.core.deploy.model.DeployEngine on docker-py; connects on first use. Everything it
    creates carries `namespace` (bot.core.naming); it never changes another installation's
    containers or services (ForeignDeployment, a Conflict, says so instead)."""

    def __init__(
        self,
        host: str | None,
        clock: Clock,
        *,
        namespace: str,
        health_deadline: float = HEALTH_DEADLINE,
    ) -> None:
        self.namespace = namespace
        self._host = host
        self._clock = clock
        self._health_deadline = health_deadline
        self._client: docker.DockerClient | None = None
        self._guard = threading.Lock()

    def client(self) -> docker.DockerClient:
        """The engine client (EngineUnavailable when the engine does not answer)."""
        with self._guard:
            if self._client is None:
                self._client = connect(self._host)
            else:
                try:
                    self._client.ping()
                except ENGINE_ERRORS as error:
                    raise EngineUnavailable("The Docker engine does not answer.") from error
            return self._client

    def preflight(self, target: Target) -> None:
        """Before approval: the engine answers; for a Swarm target it is an active Swarm
        manager; the deployment's name is not another installation's (ForeignDeployment)."""
        client = self.client()
        try:
            if target.kind == "swarm":
                swarm = client.info().get("Swarm") or {}
                if swarm.get("LocalNodeState") != "active":
                    raise IntegrationError(NOT_SWARM)
                if not swarm.get("ControlAvailable"):
                    raise IntegrationError(NOT_MANAGER)
                swarm_service_of(client, self.namespace, target.service, target.env)
            else:
                container_of(client, self.namespace, target.service, target.env)
        except ENGINE_ERRORS as error:
            raise engine_error(error) from error

    def running(self, target: Target) -> Running:
        """The version and deploy id on the container or service, from its labels."""
        client = self.client()
        try:
            if target.kind == "swarm":
                service = swarm_service_of(client, self.namespace, target.service, target.env)
                if service is None:
                    return Running(None, None, False)
                labels = labels_of_service(service)
                state = (service.attrs.get("UpdateStatus") or {}).get("State", "completed")
                healthy = state in ("completed", "rollback_completed")
            else:
                container = container_of(client, self.namespace, target.service, target.env)
                if container is None:
                    return Running(None, None, False)
                labels = container.labels
                healthy = container.status == "running"
        except NotFound:
            return Running(None, None, False)
        except ENGINE_ERRORS as error:
            raise engine_error(error) from error
        return Running(labels.get(LABEL_VERSION), labels.get(LABEL_DEPLOY_ID), healthy)

    def settle(self, target: Target) -> Running:
        """What runs once the engine stops converging, for a deploy the bot lost track of:
        a Swarm update in progress is waited for (up to its deadline); a container swap cut
        short (old container set aside, no new one) is undone by starting the old one again.
        Healthy only when the deployment also answers its health path."""
        client = self.client()
        name = deployment_name(self.namespace, target.service, target.env)
        try:
            if target.kind == "swarm":
                self.wait(lambda: _swarm_settled(client, self.namespace, target), SWARM_DEADLINE)
            else:
                _undo_interrupted_swap(client, name, self.namespace)
            running = self.running(target)
            if running.version is None or not running.healthy:
                return running
            port = target.publish
            if port is None and target.kind != "swarm":
                container = container_of(client, self.namespace, target.service, target.env)
                port = host_port(container, target.port) if container is not None else None
        except NotFound:
            return Running(None, None, False)
        except ENGINE_ERRORS as error:
            raise engine_error(error) from error
        if port is not None and not self.healthy(port, target.health, target.probe_host):
            return Running(running.version, running.deploy_id, False)
        return running

    def revision(self, image_ref: str) -> str | None:
        """Pull `image_ref` and read its revision label."""
        repository, _, tag = image_ref.rpartition(":")
        client = self.client()
        try:
            image = client.images.pull(repository, tag=tag)
        except (ImageNotFound, NotFound) as error:
            raise IntegrationError(f"`{image_ref}` could not be pulled.") from error
        except ENGINE_ERRORS as error:
            raise EngineUnavailable(f"The engine could not pull `{image_ref}`.") from error
        value = (image.labels or {}).get(OCI_REVISION)
        return str(value) if value else None

    def deploy(
        self, target: Target, image_ref: str, version: str, deploy_id: str, progress: Progress
    ) -> Outcome:
        """Roll out `image_ref`; never raises for a failed rollout, only reports it."""
        labels = {
            LABEL_NAMESPACE: self.namespace,
            LABEL_SERVICE: target.service,
            LABEL_ENV: target.env,
            LABEL_VERSION: version,
            LABEL_DEPLOY_ID: deploy_id,
        }
        try:
            if target.kind == "swarm":
                return SwarmRollout(self, target, image_ref, labels, progress).run()
            return ContainerRollout(self, target, image_ref, labels, progress).run()
        except ForeignDeployment as error:
            return Outcome(DeployState.FAILED, f"{error.message} Nothing was deployed.")
        except APIError as error:
            return Outcome(DeployState.FAILED, f"The engine refused: {error.explanation}")
        except ENGINE_ERRORS as error:
            return Outcome(DeployState.FAILED, f"The engine failed: {type(error).__name__}")

    def close(self) -> None:
        """Close the engine client (a later call connects again)."""
        with self._guard:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def wait(self, check: Callable[[], T], deadline: float) -> T:
        """Poll `check()` until it returns something truthy or `deadline` seconds pass."""
        until = self._clock.monotonic() + deadline
        while True:
            found = check()
            if found or self._clock.monotonic() >= until:
                return found
            threading.Event().wait(POLL)

    def healthy(self, port: int, path: str, host: str = "127.0.0.1") -> bool:
        """Whether http://host:port/path answers 2xx before the health deadline."""
        where = f"[{host}]" if ":" in host else host

        def answers() -> bool:
            try:
                reply = httpx.get(f"http://{where}:{port}{path}", timeout=2.0)
            except httpx.HTTPError:
                return False
            return reply.is_success

        return bool(self.wait(answers, self._health_deadline))


def _swarm_settled(client: docker.DockerClient, namespace: str, target: Target) -> bool:
    service = swarm_service_of(client, namespace, target.service, target.env)
    state = (service.attrs.get("UpdateStatus") or {}).get("State") if service else None
    return state is None or state in SWARM_SETTLED


def _undo_interrupted_swap(client: docker.DockerClient, name: str, namespace: str) -> None:
    try:
        client.containers.get(name)
        return
    except NotFound:
        pass
    try:
        old = client.containers.get(f"{name}-old")
    except NotFound:
        return
    if foreign_namespace(old.labels, namespace) is not None:
        return  # another installation's: not ours to start
    old.rename(name)
    old.start()
