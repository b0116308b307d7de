"""Keeps each proxy's upstreams on what the engine runs when nobody deploys (README, Design:
zero-downtime deploys): Swarm replaces a task that crashed, or one on a node that went away,
on its own, and a container the engine restarted may come back on another address. The
rollouts and Operate follow the tasks while they change a service; this follows them the
rest of the time, as singleton work under the lease (bot/app.py), every FOLLOW_SECONDS.

Everything is read from the engine each round (the tasks, and the proxy's own config file),
so it holds nothing in memory that a restart or another process could make stale, and a
round that finds the proxy already right changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import docker

from bot.core.deploy.model import Target
from bot.core.errors import OpsloopError
from bot.core.naming import deployment_name
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.containers import ASIDE, CANDIDATE, get_container
from integrations.docker_engine.ownership import swarm_service_of
from integrations.docker_engine.proxy import DeploymentProxy
from integrations.docker_engine.proxy_config import task_upstreams

FOLLOW_SECONDS = 1.0
log = logging.getLogger(__name__)


class ProxyFollower:
    """follow_all() points every proxied deployment's running proxy at what runs now."""

    def __init__(
        self, engine: EngineConnection, namespace: str, targets: Callable[[], Sequence[Target]]
    ) -> None:
        self._engine = engine
        self._namespace = namespace
        self._targets = targets
        self._failures: dict[str, str] = {}
        """The last failure said per deployment, until a round of it goes through."""

    def follow_all(self) -> list[str]:
        """One round; the deployments whose upstreams it changed (`service/env`). One that
        fails is logged and the others still follow."""
        changed = []
        for target in self._targets():
            if not target.proxied:
                continue
            key = f"{target.service}/{target.env}"
            try:
                with self._engine.call("follow a deployment's tasks") as client:
                    if self._follow(client, target):
                        changed.append(key)
            except OpsloopError as error:
                # An engine that does not answer is said once, not every second in the log.
                if self._failures.get(key) != str(error):
                    log.warning("proxy follower: %s: %s", key, error)
                self._failures[key] = str(error)
            except Exception:
                log.warning("proxy follower: %s failed", key, exc_info=True)
            else:
                if self._failures.pop(key, None) is not None:
                    log.info("proxy follower: %s follows again", key)
        return changed

    def _follow(self, client: docker.DockerClient, target: Target) -> bool:
        proxy = DeploymentProxy(client, self._namespace, target)
        box = proxy.container()
        if box is None or box.status != "running":
            return False  # a missing or stopped proxy is reported (Monitor, /status), not made
        wanted = self._wanted(client, proxy, target)
        if wanted is None or wanted == proxy.upstreams():
            return False
        proxy.point_at(wanted)
        log.info("proxy follower: %s/%s now forwards to %s", target.service, target.env, wanted)
        return True

    def _wanted(
        self, client: docker.DockerClient, proxy: DeploymentProxy, target: Target
    ) -> list[str] | None:
        """The upstreams the engine says; None when there is nothing to follow now."""
        if target.kind == "swarm":
            service = swarm_service_of(client, self._namespace, target.service, target.env)
            networks = client.networks.list(names=[proxy.network])
            network = next((n for n in networks if n.name == proxy.network), None)
            if service is None or network is None:
                return None
            return task_upstreams(service.tasks(), str(network.id), target.port)
        name = deployment_name(self._namespace, target.service, target.env)
        if any(get_container(client, name + s) is not None for s in (CANDIDATE, ASIDE)):
            return None  # a rollout is under way (or was cut short: its settling follows)
        container = get_container(client, name)
        if container is None or container.status != "running":
            return None
        address = proxy.address_of(container)
        return [address] if address else None
