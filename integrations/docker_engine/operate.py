"""bot.core.operate.model.OperateEngine on docker-py: status, stats, scale, restart and logs of
the container or Swarm service named deployment_name(namespace, service, env) (or one made
before namespaces; another installation's is refused: integrations/docker_engine/ownership.py).

Reads are bounded: logs stop at a line and byte cap and a time limit, so a chatty service
cannot stall the bot (integrations/docker_engine/log_reading.py); stats of the tasks are
read in parallel (each takes about a second, the engine's own sampling interval).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import docker
from docker.errors import APIError, NotFound

from bot.core.clock import Clock
from bot.core.deploy.model import DeployEngine, DeployState, Outcome, Progress
from bot.core.errors import IntegrationError, UsageError
from bot.core.errors import NotFound as NotFound_
from bot.core.naming import LABEL_DEPLOY_ID, LABEL_VERSION, deployment_name
from bot.core.operate.model import LogBatch, LogLine, Placement, Status, Usage
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.failures import NOT_SWARM
from integrations.docker_engine.log_reading import read_all
from integrations.docker_engine.operate_reads import (
    container_status,
    image_revision,
    proxy_state,
    swarm_status,
    usage_of,
)
from integrations.docker_engine.ownership import container_of, swarm_service_of
from integrations.docker_engine.placement import refuse_unplaceable
from integrations.docker_engine.proxy import DeploymentProxy
from integrations.docker_engine.rollout_common import POLL, SWARM_DEADLINE
from integrations.docker_engine.task_logs import container_log_source, task_log_sources

T = TypeVar("T")
LOG_BYTES = 2_000_000
LOG_SECONDS = 10.0
STATS_THREADS = 8


class DockerOperations:
    """Operate's engine calls, on the shared engine connection (which reconnects after the
    engine was down and turns its failures into the error tree)."""

    def __init__(
        self, engine: EngineConnection, clock: Clock, rollouts: DeployEngine, *, namespace: str
    ) -> None:
        self.namespace = namespace
        self._connection = engine
        self._clock = clock
        self._rollouts = rollouts
        self._stats = ThreadPoolExecutor(STATS_THREADS, thread_name_prefix="opsloop-stats")

    def _call(self, work: Callable[[docker.DockerClient], T]) -> T:
        with self._connection.call("operate a deployment") as client:
            return work(client)

    # -- reading ---------------------------------------------------------------------------
    def status(self, placement: Placement) -> Status:
        """What runs, its tasks and limits; `exists` False when nothing does."""
        return self._call(lambda client: self._status(client, placement))

    def _status(self, client: docker.DockerClient, placement: Placement) -> Status:
        name = deployment_name(self.namespace, placement.service, placement.env)
        if placement.swarm:
            service = swarm_service_of(client, self.namespace, placement.service, placement.env)
            if service is None:
                return Status(name=name, kind="swarm", exists=False)
            name = str(service.name)
            nodes = {
                str(n.id): str(n.attrs["Description"]["Hostname"]) for n in client.nodes.list()
            }
            status = swarm_status(name, service.attrs, service.tasks(), nodes)
            status = replace(status, proxy=proxy_state(client, self.namespace, placement))
        else:
            container = container_of(client, self.namespace, placement.service, placement.env)
            if container is None:
                return Status(name=name, kind="container", exists=False)
            name = str(container.name)
            status = container_status(name, container.attrs)
            status = replace(status, proxy=proxy_state(client, self.namespace, placement))
        return _with_revision(client, status)

    def usage(self, placement: Placement) -> list[Usage]:
        """Every running task's CPU and memory now (tasks on other nodes give none)."""
        return self._call(lambda client: self._usage(client, placement))

    def _usage(self, client: docker.DockerClient, placement: Placement) -> list[Usage]:
        status = self._status(client, placement)
        containers = _running_containers(client, self.namespace, placement, status)

        def one(pair: tuple[str, str]) -> Usage:
            task_id, container_id = pair
            try:
                stats = client.api.stats(container_id, stream=False)
            except (NotFound, APIError):
                return Usage(task_id, None, None)
            return usage_of(task_id, stats, status.cpu_limit, status.memory_limit)

        return list(self._stats.map(one, containers))

    def logs(self, placement: Placement, since_seconds: int | None, tail: int) -> LogBatch:
        """The last `tail` lines of every task, oldest first, each with its task and time."""
        return self._call(lambda client: self._logs(client, placement, since_seconds, tail))

    def _logs(
        self, client: docker.DockerClient, placement: Placement, since: int | None, tail: int
    ) -> LogBatch:
        after = int(self._clock.now().timestamp()) - since if since else None
        options: dict[str, Any] = {"stdout": True, "stderr": True, "timestamps": True,
                                   "tail": tail, "follow": False}  # fmt: skip
        if after is not None:
            options["since"] = after
        if placement.swarm:
            service = swarm_service_of(client, self.namespace, placement.service, placement.env)
            if service is None:
                return LogBatch(())
            sources = task_log_sources(client, service.tasks(), options)
        else:
            container = container_of(client, self.namespace, placement.service, placement.env)
            if container is None:
                return LogBatch(())
            source = container_log_source(client, str(container.id), str(container.name), options)
            sources = [source] if source is not None else []
        found = read_all(
            sources, max_bytes=LOG_BYTES, seconds=LOG_SECONDS,
            monotonic=self._clock.monotonic,
        )  # fmt: skip
        return LogBatch(tuple(sorted(found.lines, key=_when)), found.capped)

    # -- changing --------------------------------------------------------------------------
    def scale(self, placement: Placement, replicas: int, progress: Progress) -> Outcome:
        """Set the service's replicas and wait (up to the Swarm deadline) until that many
        tasks run."""
        return self._call(lambda client: self._scale(client, placement, replicas, progress))

    def _scale(
        self, client: docker.DockerClient, placement: Placement, replicas: int, progress: Progress
    ) -> Outcome:
        if not placement.swarm:
            raise UsageError("A container target runs one copy; it cannot be scaled.")
        service = _swarm_service(client, self.namespace, placement)
        proxy = _proxy(client, self.namespace, placement)
        service.scale(replicas)
        progress(f"Asked Swarm for {replicas} replica(s); waiting for them to run…")

        def settled() -> Status | None:
            if proxy is not None:
                proxy.follow(service)
            status = self._status(client, placement)
            if not status.exists:
                return status  # removed meanwhile: nothing will ever run
            return status if status.running == replicas and status.desired == replicas else None

        reached = self._wait(settled, SWARM_DEADLINE)
        if reached is not None and not reached.exists:
            return Outcome(DeployState.FAILED, "The service was removed while it scaled.")
        if proxy is not None:
            proxy.follow(service)
        if reached is not None:
            return Outcome(DeployState.SUCCEEDED, f"{replicas} replica(s) are running.")
        now = self._status(client, placement)
        return Outcome(
            DeployState.FAILED,
            f"Swarm runs {now.running} of {replicas} replica(s) after {SWARM_DEADLINE:.0f} s; "
            f"`/status {placement.service} {placement.env}` shows the tasks.",
        )

    def placeable(self, placement: Placement, replicas: int) -> None:
        """UsageError (integrations.docker_engine.placement) when host-mode ports would
        need more nodes than the Swarm has for `replicas`; nothing is changed."""
        if placement.swarm and placement.target is not None:
            target = placement.target
            self._call(lambda client: refuse_unplaceable(client, target, replicas))

    def restart(self, placement: Placement, progress: Progress) -> Outcome:
        """Swarm: a forced update under the service's update config (one task at a time,
        rolled back on failure). Container: replaced with the same image, health-gated."""
        if placement.swarm:
            return self._call(lambda client: self._restart_swarm(client, placement, progress))
        if placement.target is None:
            raise UsageError(
                f"`{placement.service}` has no `port` in opsloop.yml, so a restarted container "
                "cannot be health-checked; opsloop restarts only what it can check."
            )
        attrs = self._call(lambda client: _container(client, self.namespace, placement).attrs)
        labels = (attrs.get("Config") or {}).get("Labels") or {}
        image = str((attrs.get("Config") or {}).get("Image") or "")
        return self._rollouts.deploy(
            placement.target, image, str(labels.get(LABEL_VERSION) or ""),
            str(labels.get(LABEL_DEPLOY_ID) or ""), progress,
        )  # fmt: skip

    def _restart_swarm(
        self, client: docker.DockerClient, placement: Placement, progress: Progress
    ) -> Outcome:
        service = _swarm_service(client, self.namespace, placement)
        proxy = _proxy(client, self.namespace, placement)
        before = (service.attrs.get("UpdateStatus") or {}).get("StartedAt")
        service.force_update()
        progress("Swarm is replacing the tasks one by one…")

        def state() -> str | None:
            if proxy is not None:
                proxy.follow(service)
            service.reload()
            update = service.attrs.get("UpdateStatus") or {}
            if update.get("StartedAt") == before:
                return None
            found = str(update.get("State", ""))
            return found if found in ("completed", "rollback_completed", "paused") else None

        ended = self._wait(state, SWARM_DEADLINE)
        if proxy is not None:
            proxy.follow(service)
        if ended == "completed":
            return Outcome(DeployState.SUCCEEDED, "Every task was replaced and is running.")
        if ended == "rollback_completed":
            return Outcome(DeployState.ROLLED_BACK, "New tasks failed; Swarm rolled back.")
        return Outcome(DeployState.FAILED, f"The restart did not finish ({ended or 'timed out'}).")

    def close(self) -> None:
        """Stop the stats threads (the shared connection is the composition root's)."""
        self._stats.shutdown(wait=False, cancel_futures=True)

    def _wait(self, check: Callable[[], T], deadline: float) -> T:
        until = self._clock.monotonic() + deadline
        while True:
            found = check()
            if found or self._clock.monotonic() >= until:
                return found
            threading.Event().wait(POLL)


def _swarm_service(client: docker.DockerClient, namespace: str, placement: Placement) -> Any:
    if client.info().get("Swarm", {}).get("LocalNodeState") != "active":
        raise IntegrationError(NOT_SWARM)
    service = swarm_service_of(client, namespace, placement.service, placement.env)
    if service is None:
        raise NotFound_(
            f"Nothing runs for `{placement.service}` in `{placement.env}`: deploy it first."
        )
    return service


def _proxy(
    client: docker.DockerClient, namespace: str, placement: Placement
) -> DeploymentProxy | None:
    """The deployment's reverse proxy, followed while Swarm changes the tasks (so a task
    leaves the upstreams before it stops); None when it has none. ProxyDown, before
    anything changes, when it is down."""
    target = placement.target
    if target is None or not target.proxied:
        return None
    proxy = DeploymentProxy(client, namespace, target)
    proxy.check()
    return proxy


def _container(client: docker.DockerClient, namespace: str, placement: Placement) -> Any:
    container = container_of(client, namespace, placement.service, placement.env)
    if container is None:
        raise NotFound_(
            f"Nothing runs for `{placement.service}` in `{placement.env}`: deploy it first."
        )
    return container


def _with_revision(client: docker.DockerClient, status: Status) -> Status:
    if not status.image:
        return status
    try:
        labels = client.images.get(status.image).labels
    except (NotFound, APIError):
        return status
    return replace(status, revision=image_revision(labels))


def _running_containers(
    client: docker.DockerClient, namespace: str, placement: Placement, status: Status
) -> list[tuple[str, str]]:
    if not placement.swarm:
        return [(t.id, t.id) for t in status.tasks if t.state == "running"]
    service = swarm_service_of(client, namespace, placement.service, placement.env)
    found = []
    for task in service.tasks(filters={"desired-state": "running"}) if service else []:
        state = task.get("Status") or {}
        container = (state.get("ContainerStatus") or {}).get("ContainerID")
        if state.get("State") == "running" and container:
            found.append((str(task["ID"])[:12], str(container)))
    return found


def _when(line: LogLine) -> datetime:
    return line.at or datetime.min.replace(tzinfo=UTC)
