"""What the container and Swarm rollouts share: their timings and how they reach the engine
(DockerDeployments, as a Protocol so the rollout modules do not import it back)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import docker

from bot.core.deploy.model import HealthTimings, Progress, Target
from bot.core.naming import deployment_name
from integrations.docker_engine.proxy import DeploymentProxy

SECOND = 1_000_000_000
HEALTH_DEADLINE = 20.0
SWARM_DEADLINE = 120.0
POLL = 0.25
PROBE_TIMEOUT = 2.0
FINAL_ATTEMPTS = 5
SWARM_SETTLED = frozenset({"completed", "rollback_completed", "paused", "rollback_paused"})
"""UpdateStatus states in which Swarm stopped converging."""

T = TypeVar("T")
log = logging.getLogger(__name__)


def quiet(progress: Progress) -> Progress:
    """`progress` that never raises: a progress message that cannot be shown must not cut a
    rollout short (above all between stopping the old container and restoring it)."""

    def say(text: str) -> None:
        try:
            progress(text)
        except Exception:
            log.warning("could not show deploy progress: %s", text, exc_info=True)

    return say


class EngineAccess(Protocol):
    """The engine as a rollout uses it."""

    namespace: str
    """This installation's namespace (bot.core.naming)."""

    def client(self) -> docker.DockerClient:
        """The engine client (EngineUnavailable when the engine does not answer)."""
        ...

    def wait(self, check: Callable[[], T], deadline: float) -> T:
        """Poll `check()` until it returns something truthy or `deadline` seconds pass."""
        ...

    def healthy(self, port: int, path: str, probe: HealthTimings, host: str = "127.0.0.1") -> bool:
        """Whether http://host:port/path answers 2xx before the health deadline."""
        ...

    def proxy(self, target: Target) -> DeploymentProxy:
        """The target's reverse proxy (which may not exist yet)."""
        ...


class Rollout:
    """What every rollout of `image_ref` to a target starts from: the engine's client, the
    deployment's name, the labels to set, and progress that never raises."""

    def __init__(
        self,
        engine: EngineAccess,
        target: Target,
        image_ref: str,
        labels: dict[str, str],
        progress: Progress,
    ) -> None:
        self.e = engine
        self.t = target
        self.image_ref = image_ref
        self.labels = labels
        self.say = quiet(progress)
        self.client = engine.client()
        self.name = deployment_name(engine.namespace, target.service, target.env)


def host_port(container: Any, port: int) -> int | None:
    """The host port the engine bound to the container's `port`, if any."""
    container.reload()
    bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{port}/tcp") or []
    return int(bindings[0]["HostPort"]) if bindings else None
