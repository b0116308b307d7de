"""A rollout to a Swarm service per service and environment.

The service has a container healthcheck (busybox wget on the health path; its timings from
the target's health settings) and an update policy whose failure action is rollback.

How a published port is served depends on `publish_mode`:

- `proxy` (the default): the tasks publish nothing and sit on a network of their own; the
  deployment's reverse proxy (integrations.docker_engine.proxy) publishes the port and is
  pointed at the healthy tasks while Swarm updates start-first, so no request fails and any
  number of replicas runs on one node.
- `host`: each task binds the host port; two tasks cannot hold it on one node, so the
  update is stop-first (start-first would leave the new task pending for ever).
- `ingress`: Swarm's routing mesh (it needs IPVS on every node), start-first.

A failed deploy never takes away what served before it: a failed update is rolled back to
the previous spec (by Swarm, or by us when Swarm paused or a replica cannot be placed), and
a new service that did not come up is removed only when none of its tasks runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from docker.types import (
    ContainerSpec,
    EndpointSpec,
    RestartPolicy,
    ServiceMode,
    TaskTemplate,
    UpdateConfig,
)

from bot.core.deploy.model import DeployState, Outcome
from bot.core.deploy.replicas import LABEL_REPLICAS, replicas_for_deploy
from bot.core.errors import IntegrationError, OpsloopError
from bot.core.naming import LABEL_DEPLOY_ID
from integrations.docker_engine.failures import NOT_SWARM
from integrations.docker_engine.ownership import swarm_service_of
from integrations.docker_engine.proxy import DeploymentProxy
from integrations.docker_engine.rollout_common import (
    FINAL_ATTEMPTS,
    POLL,
    SECOND,
    SWARM_DEADLINE,
    SWARM_SETTLED,
    Rollout,
    healthcheck,
)

FAILED_TASKS = 3
"""Failed tasks of a new service after which it counts as failed."""
T = TypeVar("T")


class SwarmRollout(Rollout):
    """One rollout of `image_ref` to the target's Swarm service (see the module's docstring)."""

    def run(self) -> Outcome:
        """Roll out; an Outcome for a failed rollout, engine errors raised."""
        if self.client.info().get("Swarm", {}).get("LocalNodeState") != "active":
            return Outcome(DeployState.FAILED, NOT_SWARM)
        t = self.t
        existing = swarm_service_of(self.client, self.e.namespace, t.service, t.env)
        self.proxy: DeploymentProxy | None = None
        if not t.proxied:
            return self._create() if existing is None else self._update(existing)
        return self._behind_proxy(existing)

    def _behind_proxy(self, existing: Any) -> Outcome:
        """The rollout with the deployment's proxy in front; the proxy is started first
        (so a host port held by something else changes nothing), except when the service
        itself still holds the port (published before proxies): then after the update."""
        proxy = self.proxy = self.e.proxy(self.t)
        proxy.check()
        _, made_network = proxy.network_id()
        holds_port = existing is not None and _publishes(existing)
        made_proxy = False
        if not holds_port:
            try:
                made_proxy = proxy.ensure([])
            except OpsloopError:
                if made_network:
                    proxy.remove(network=True)
                raise
            if existing is not None:
                proxy.follow(existing)
        if existing is None:
            outcome = self._create()
            if outcome.state is not DeployState.SUCCEEDED and made_proxy and not self._exists():
                proxy.remove(network=True)
            return outcome
        outcome = self._update(existing)
        if holds_port and not _publishes(_reloaded(existing)):
            self.say("The service no longer binds the host port; starting its proxy…")
            self._start_proxy_on_released_port(proxy)
        proxy.follow(_reloaded(existing))
        return outcome

    def _start_proxy_on_released_port(self, proxy: DeploymentProxy) -> None:
        # The engine can take a moment to release the port of the task that just stopped.
        for attempt in range(FINAL_ATTEMPTS):
            try:
                proxy.ensure([])
                return
            except IntegrationError:
                if attempt == FINAL_ATTEMPTS - 1:
                    raise
                threading.Event().wait(POLL * (attempt + 1))

    def _exists(self) -> bool:
        return (
            swarm_service_of(self.client, self.e.namespace, self.t.service, self.t.env) is not None
        )

    def _following(self, service: Any, check: Callable[[], T]) -> Callable[[], T]:
        """`check`, pointing the proxy (if any) at the service's running tasks first."""

        def step() -> T:
            if self.proxy is not None:
                self.proxy.follow(service)
            return check()

        return step

    @property
    def deadline(self) -> float:
        """How long Swarm may take: the usual deadline plus the health start period."""
        return SWARM_DEADLINE + (self.t.probe.start_period or 0.0)

    def _spec(self, name: str, replicas: int) -> dict[str, Any]:
        t = self.t
        health = healthcheck(t)
        host_mode = t.publish is not None and t.publish_mode == "host"
        order: Any = "stop-first" if host_mode else "start-first"
        ports: Any = None
        if t.publish is not None and not t.proxied:
            ports = {t.publish: (t.port, "tcp", "host" if host_mode else "ingress")}
        networks: Any = [self.proxy.network] if self.proxy is not None else None
        return {
            "task_template": TaskTemplate(
                ContainerSpec(self.image_ref, labels=self.labels, healthcheck=health),
                restart_policy=RestartPolicy("any", delay=SECOND),
                networks=networks,
            ),
            "name": name,
            "labels": {**self.labels, LABEL_REPLICAS: str(t.replicas)},
            "mode": ServiceMode("replicated", replicas),
            "update_config": UpdateConfig(
                parallelism=1,
                order=order,
                failure_action="rollback",
                monitor=5 * SECOND,
                max_failure_ratio=0.0,
            ),
            "rollback_config": UpdateConfig(parallelism=1, order=order, failure_action="pause"),
            "endpoint_spec": EndpointSpec(ports=ports) if ports else None,
        }

    def _create(self) -> Outcome:
        self.say(f"Creating Swarm service `{self.name}`…")
        api: Any = self.client.api
        services: Any = self.client.services
        service = services.get(api.create_service(**self._spec(self.name, self.t.replicas))["ID"])
        verdict = self.e.wait(
            self._following(service, lambda: _tasks_verdict(service.tasks(), self.t.replicas)),
            self.deadline,
        )
        if verdict == "ok":
            return Outcome(DeployState.SUCCEEDED, "The service's tasks are running and healthy.")
        why = _task_error(service.tasks())
        if _running(service.tasks()):
            return Outcome(
                DeployState.FAILED,
                f"Not every replica of the new service came up ({why}); the replicas that "
                "run keep serving.",
            )
        service.remove()
        return Outcome(
            DeployState.FAILED,
            f"The new service never became healthy ({why}); nothing served before it, and it "
            "is removed.",
        )

    def _update(self, service: Any) -> Outcome:
        before = (service.attrs.get("UpdateStatus") or {}).get("StartedAt")
        previous = service.attrs["Spec"]
        # A service made before namespaces keeps its name (Swarm cannot rename one); the
        # update gives it this installation's labels.
        name = str(service.name)
        # /scale and the autoscaler own the count of a running service (bot.core.deploy.replicas).
        replicas = replicas_for_deploy(
            self.t.replicas,
            ((previous.get("Mode") or {}).get("Replicated") or {}).get("Replicas"),
            (previous.get("Labels") or {}).get(LABEL_REPLICAS),
        )
        self.say(f"Rolling update of `{name}` to `{self.image_ref}`…")
        api: Any = self.client.api
        api.update_service(service.id, service.version, **self._spec(name, replicas))

        deploy_id = self.labels.get(LABEL_DEPLOY_ID)

        def status() -> str | None:
            service.reload()
            update = service.attrs.get("UpdateStatus") or {}
            state = str(update.get("State", "")) if update.get("StartedAt") != before else ""
            if state and state != "completed":
                return state if state in SWARM_SETTLED else None
            # Completed, or a change Swarm applies without a rolling update (the replica
            # count): the new tasks themselves say whether it worked.
            verdict = _tasks_verdict(_current_tasks(service, deploy_id), replicas)
            return {"ok": "completed", "failed": "paused"}.get(verdict or "")

        state = self.e.wait(self._following(service, status), self.deadline)
        if state == "completed":
            return Outcome(DeployState.SUCCEEDED, "Rolling update completed; tasks are healthy.")
        if state == "rollback_completed":
            return Outcome(
                DeployState.ROLLED_BACK,
                "The new tasks failed their health check; Swarm rolled back.",
            )
        tasks = _current_tasks(service, deploy_id)
        why = _task_error(tasks) if state else "it did not finish in time"
        self._restore(service, previous)
        return Outcome(
            DeployState.ROLLED_BACK,
            f"The update failed ({why}); rolled back to the version that served before.",
        )

    def _restore(self, service: Any, previous: dict[str, Any]) -> None:
        """Put the spec that served before back, and wait for its tasks."""
        service.reload()
        api: Any = self.client.api
        api.update_service(
            service.id, service.version, fetch_current_spec=False,
            task_template=previous["TaskTemplate"], name=str(service.name),
            labels=previous.get("Labels"), mode=previous.get("Mode"),
            update_config=previous.get("UpdateConfig"),
            rollback_config=previous.get("RollbackConfig"),
            endpoint_spec=previous.get("EndpointSpec"),
        )  # fmt: skip
        replicas = int(((previous.get("Mode") or {}).get("Replicated") or {}).get("Replicas", 1))
        deploy_id = (previous.get("Labels") or {}).get(LABEL_DEPLOY_ID)
        started = (service.attrs.get("UpdateStatus") or {}).get("StartedAt")

        def restored() -> bool:
            service.reload()
            update = service.attrs.get("UpdateStatus") or {}
            if update.get("StartedAt") != started and update.get("State") not in SWARM_SETTLED:
                return False
            return _tasks_verdict(_current_tasks(service, deploy_id), replicas) == "ok"

        self.e.wait(self._following(service, restored), self.deadline)


def _publishes(service: Any) -> bool:
    """Whether the service publishes a port itself."""
    return bool(((service.attrs.get("Spec") or {}).get("EndpointSpec") or {}).get("Ports"))


def _reloaded(service: Any) -> Any:
    service.reload()
    return service


def _current_tasks(service: Any, deploy_id: str | None) -> list[dict[str, Any]]:
    """The tasks of deploy `deploy_id` that Swarm wants running (not ones shutting down)."""
    tasks: list[dict[str, Any]] = service.tasks()
    return [t for t in tasks if t.get("DesiredState") == "running"
            and _labels(t).get(LABEL_DEPLOY_ID) == deploy_id]  # fmt: skip


def _labels(task: dict[str, Any]) -> dict[str, str]:
    spec = (task.get("Spec") or {}).get("ContainerSpec") or {}
    return spec.get("Labels") or {}


def _running(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [t for t in tasks if t["Status"]["State"] == "running"]


def _tasks_verdict(tasks: list[dict[str, Any]], replicas: int) -> str | None:
    """ "ok" when `replicas` tasks run, "failed" when tasks keep failing or one cannot be
    placed (a pending task with an error, such as a host port already in use), else None."""
    if len(_running(tasks)) >= replicas:
        return "ok"
    failed = [t for t in tasks if t["Status"]["State"] in ("failed", "rejected")]
    wanted = [t for t in tasks if t.get("DesiredState") == "running"]
    stuck = [t for t in wanted if t["Status"]["State"] == "pending" and t["Status"].get("Err")]
    # Stuck counts once every other task has come up: what can run is then running.
    settled = len(stuck) + len(_running(wanted)) == len(wanted)
    return "failed" if len(failed) >= FAILED_TASKS or (stuck and settled) else None


def _task_error(tasks: list[dict[str, Any]]) -> str:
    for task in tasks:
        error = task["Status"].get("Err")
        if error:
            return str(error)
    return "its tasks did not become healthy"
