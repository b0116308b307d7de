"""What the container and Swarm rollouts share: their timings and how they reach the engine
(DockerDeployments, as a Protocol so the rollout modules do not import it back)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import docker
from docker.types import Healthcheck

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


def healthcheck(target: Target) -> Healthcheck:
    """The engine's own healthcheck of the target's health path (busybox wget inside the
    container, timings from the target's health settings): it runs over every kind of
    engine connection, and the container's or task's state says the result."""
    probe = ["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null",
             f"http://127.0.0.1:{target.port}{target.health}"]  # fmt: skip
    timings = target.probe
    return Healthcheck(
        test=probe,
        interval=_ns(timings.interval, 1.0),
        timeout=_ns(timings.timeout, 2.0),
        retries=timings.retries if timings.retries is not None else 3,
        start_period=_ns(timings.start_period, 1.0),
    )


def _ns(seconds: float | None, default: float) -> int:
    return int((seconds if seconds is not None else default) * SECOND)


def health_window(probe: HealthTimings) -> float:
    """How long a new container may take to be reported healthy: HEALTH_DEADLINE, or with
    timings given, the start period and retries intervals, plus one interval and probe for
    the engine's first check (it runs one interval after the start)."""
    if not probe.given:
        return HEALTH_DEADLINE
    interval = probe.interval or 1.0
    return (
        (probe.start_period or 0.0)
        + interval * ((probe.retries or 3) + 1)
        + (probe.timeout or PROBE_TIMEOUT)
    )


def engine_healthy(
    container: Any, wait: Callable[[Callable[[], str | None], float], str | None], within: float
) -> bool:
    """Whether the engine reports `container` healthy within `within` seconds (False as soon
    as it stops). A container with no healthcheck counts as healthy while it runs."""

    def state() -> str | None:
        container.reload()
        if container.status in ("exited", "dead"):
            return "down"
        health = (container.attrs.get("State") or {}).get("Health")
        if health is None:
            return "up" if container.status == "running" else None
        return "up" if health.get("Status") == "healthy" else None

    return wait(state, within) == "up"


def host_port(container: Any, port: int) -> int | None:
    """The host port the engine bound to the container's `port`, if any."""
    container.reload()
    bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{port}/tcp") or []
    return int(bindings[0]["HostPort"]) if bindings else None
