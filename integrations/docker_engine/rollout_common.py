"""What the container and Swarm rollouts share: their timings, the engine errors that mean
"the engine failed", and how they reach the engine (DockerDeployments, as a Protocol so the
rollout modules do not import it back)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import docker
import requests
from docker.errors import DockerException

SECOND = 1_000_000_000
HEALTH_DEADLINE = 20.0
SWARM_DEADLINE = 120.0
POLL = 0.25
FINAL_ATTEMPTS = 5
ENGINE_ERRORS = (DockerException, requests.RequestException, OSError)
SWARM_SETTLED = frozenset({"completed", "rollback_completed", "paused", "rollback_paused"})
"""UpdateStatus states in which Swarm stopped converging."""

T = TypeVar("T")


class EngineAccess(Protocol):
    """The engine as a rollout uses it."""

    def client(self) -> docker.DockerClient:
        """The engine client (EngineUnavailable when the engine does not answer)."""
        ...

    def wait(self, check: Callable[[], T], deadline: float) -> T:
        """Poll `check()` until it returns something truthy or `deadline` seconds pass."""
        ...

    def healthy(self, port: int, path: str) -> bool:
        """Whether http://127.0.0.1:port/path answers 2xx before the health deadline."""
        ...


def find_service(client: docker.DockerClient, name: str) -> Any:
    """The Swarm service named exactly `name` (the engine's filter matches prefixes)."""
    for service in client.services.list(filters={"name": name}):
        if service.name == name:
            return service
    return None


def host_port(container: Any, port: int) -> int | None:
    """The host port the engine bound to the container's `port`, if any."""
    container.reload()
    bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{port}/tcp") or []
    return int(bindings[0]["HostPort"]) if bindings else None
