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
from bot.core.errors import IntegrationError, OpsloopError
from bot.core.naming import (
    LABEL_DEPLOY_ID,
    LABEL_ENV,
    LABEL_NAMESPACE,
    LABEL_SERVICE,
    LABEL_VERSION,
    OCI_REVISION,
    deployment_name,
)
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.containers import ContainerRollout, settle_swap
from integrations.docker_engine.failures import NOT_MANAGER, NOT_SWARM
from integrations.docker_engine.ownership import (
    ForeignDeployment,
    container_of,
    labels_of_service,
    swarm_service_of,
)
from integrations.docker_engine.placement import refuse_unplaceable
from integrations.docker_engine.proxied_container import ProxiedContainerRollout, settle_proxied
from integrations.docker_engine.proxy import DeploymentProxy
from integrations.docker_engine.proxy_image import caddy_available, proxy_image
from integrations.docker_engine.rollout_common import (
    HEALTH_DEADLINE,
    POLL,
    PROBE_TIMEOUT,
    SWARM_DEADLINE,
    SWARM_SETTLED,
    engine_healthy,
    health_window,
    host_port,
)
from integrations.docker_engine.swarm import SwarmRollout

__all__ = ["HEALTH_DEADLINE", "DockerDeployments"]

T = TypeVar("T")


class DockerDeployments:
    """bot.core.deploy.model.DeployEngine on the engine `connection` reaches. Everything it
    creates carries `namespace` (bot.core.naming); it never changes another installation's
    containers or services (ForeignDeployment, a Conflict, says so instead)."""

    def __init__(
        self,
        connection: EngineConnection,
        clock: Clock,
        *,
        namespace: str,
        health_deadline: float = HEALTH_DEADLINE,
        proxy_image: str | None = None,
    ) -> None:
        self.namespace = namespace
        self._proxy_image = proxy_image
        self._engine = connection
        self._clock = clock
        self._health_deadline = health_deadline

    def client(self) -> docker.DockerClient:
        """The engine's shared client (EngineUnavailable, saying why, when out of reach)."""
        return self._engine.client()

    def preflight(self, target: Target) -> None:
        """Before approval: the engine answers; for a Swarm target it is an active Swarm
        manager and host-mode ports fit its nodes; a proxied one's proxy is not down
        (ProxyDown) and can be built; the deployment's name is not another installation's
        (ForeignDeployment)."""
        name = deployment_name(self.namespace, target.service, target.env)
        with self._engine.call(f"check `{name}`") as client:
            if target.kind == "swarm":
                swarm = client.info().get("Swarm") or {}
                if swarm.get("LocalNodeState") != "active":
                    raise IntegrationError(NOT_SWARM)
                if not swarm.get("ControlAvailable"):
                    raise IntegrationError(NOT_MANAGER)
                swarm_service_of(client, self.namespace, target.service, target.env)
                refuse_unplaceable(client, target)
            else:
                container_of(client, self.namespace, target.service, target.env)
            if target.proxied:
                DeploymentProxy(client, self.namespace, target).check()
                if self._proxy_image is None:
                    caddy_available()

    def proxy(self, target: Target) -> DeploymentProxy:
        """The target's reverse proxy on the shared client; its image is built (or the
        configured one used) only when the proxy has to be created."""
        client = self._engine.client()
        return DeploymentProxy(client, self.namespace, target, partial(self._image, client))

    def _image(self, client: docker.DockerClient) -> str:
        return self._proxy_image or proxy_image(client, self.namespace)

    def running(self, target: Target) -> Running:
        """The version and deploy id on the container or service, from its labels."""
        name = deployment_name(self.namespace, target.service, target.env)
        with self._engine.call(f"look up `{name}`") as client:
            return _running(client, self.namespace, target)

    def settle(self, target: Target) -> Running:
        """What runs once the engine stops converging, for a deploy the bot lost track of:
        a Swarm update in progress is waited for (up to its deadline); a container swap cut
        short is finished or undone (integrations.docker_engine.containers.settle_swap).
        Healthy only when the deployment also answers its health path."""
        name = deployment_name(self.namespace, target.service, target.env)
        with self._engine.call(f"settle `{name}`") as client:
            if target.kind == "swarm":
                self.wait(lambda: _swarm_settled(client, self.namespace, target), SWARM_DEADLINE)
                self._follow(client, target)
            elif target.proxied:
                proxy = DeploymentProxy(client, self.namespace, target)
                healthy = partial(_engine_healthy, self.wait, target)
                settle_proxied(client, name, proxy, self.namespace, healthy)
            else:
                answers = partial(self._answers, target)
                settle_swap(client, name, answers, self.namespace)
            running = _running(client, self.namespace, target)
            if running.version is None or not running.healthy:
                return running
            port = target.publish
            if port is None and target.kind != "swarm":
                container = container_of(client, self.namespace, target.service, target.env)
                if container is None:
                    return Running(None, None, False)
                port = host_port(container, target.port)
        if port is not None and not self.healthy(
            port, target.health, target.probe, target.probe_host
        ):
            return Running(running.version, running.deploy_id, False)
        return running

    def _follow(self, client: docker.DockerClient, target: Target) -> None:
        # The proxy's upstreams are derived from the engine again, whatever happened since.
        service = swarm_service_of(client, self.namespace, target.service, target.env)
        if target.proxied and service is not None:
            DeploymentProxy(client, self.namespace, target).follow(service)

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
            LABEL_NAMESPACE: self.namespace,
            LABEL_SERVICE: target.service,
            LABEL_ENV: target.env,
            LABEL_VERSION: version,
            LABEL_DEPLOY_ID: deploy_id,
        }
        try:
            with self._engine.call(f"deploy `{image_ref}`"):
                if target.kind == "swarm":
                    return SwarmRollout(self, target, image_ref, labels, progress).run()
                if target.proxied:
                    rollout = ProxiedContainerRollout(self, target, image_ref, labels, progress)
                    return rollout.run()
                return ContainerRollout(self, target, image_ref, labels, progress).run()
        except ForeignDeployment as error:
            return Outcome(DeployState.FAILED, f"{error.message} Nothing was deployed.")
        except OpsloopError as error:
            return Outcome(DeployState.FAILED, error.message)

    def _answers(self, target: Target, container: Any) -> bool:
        name = deployment_name(self.namespace, target.service, target.env)
        published = container.name == name and target.publish is not None
        port = target.publish if published else host_port(container, target.port)
        host = target.probe_host if published else "127.0.0.1"
        return port is not None and self.healthy(port, target.health, target.probe, host)

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

    def healthy(self, port: int, path: str, probe: HealthTimings, host: str = "127.0.0.1") -> bool:
        """Whether http://host:port/path answers 2xx in time: within the health deadline,
        or, with timings given, within start_period + interval * retries."""
        per_probe = probe.timeout or PROBE_TIMEOUT
        deadline = self._health_deadline
        if probe.given:
            deadline = (probe.start_period or 0.0) + (probe.interval or 1.0) * (probe.retries or 3)
        where = f"[{host}]" if ":" in host else host

        def answers() -> bool:
            try:
                reply = httpx.get(f"http://{where}:{port}{path}", timeout=per_probe)
            except httpx.HTTPError:
                return False
            return reply.is_success

        return bool(self.wait(answers, deadline))


def _running(client: docker.DockerClient, namespace: str, target: Target) -> Running:
    try:
        if target.kind == "swarm":
            service = swarm_service_of(client, namespace, target.service, target.env)
            if service is None:
                return Running(None, None, False)
            labels = labels_of_service(service)
            state = (service.attrs.get("UpdateStatus") or {}).get("State", "completed")
            healthy = state in ("completed", "rollback_completed")
        else:
            container = container_of(client, namespace, target.service, target.env)
            if container is None:
                return Running(None, None, False)
            labels = container.labels
            healthy = container.status == "running"
    except NotFound:
        return Running(None, None, False)
    return Running(labels.get(LABEL_VERSION), labels.get(LABEL_DEPLOY_ID), healthy)


def _engine_healthy(wait: Any, target: Target, container: Any) -> bool:
    return engine_healthy(container, wait, health_window(target.probe))


def _swarm_settled(client: docker.DockerClient, namespace: str, target: Target) -> bool:
    service = swarm_service_of(client, namespace, target.service, target.env)
    state = (service.attrs.get("UpdateStatus") or {}).get("State") if service else None
    return state is None or state in SWARM_SETTLED
