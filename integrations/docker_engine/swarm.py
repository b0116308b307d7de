"""A rollout to a Swarm service per service and environment.

The service has a container healthcheck (busybox wget on the health path) and an update
policy whose failure action is rollback. Ports are published in host mode (the ingress mesh
needs IPVS). Two tasks cannot hold the same host port on one node, so with a published port
the update order is stop-first (start-first would leave the new task pending for ever);
without one it is start-first.
"""

from __future__ import annotations

from typing import Any

from docker.types import (
    ContainerSpec,
    EndpointSpec,
    Healthcheck,
    RestartPolicy,
    ServiceMode,
    TaskTemplate,
    UpdateConfig,
)

from bot.core.deploy.model import DeployState, Outcome
from integrations.docker_engine.ownership import swarm_service_of
from integrations.docker_engine.rollout_common import (
    NOT_SWARM,
    SECOND,
    SWARM_DEADLINE,
    SWARM_SETTLED,
    Rollout,
)


class SwarmRollout(Rollout):
    """One rollout of `image_ref` to the target's Swarm service (see the module's docstring)."""

    def run(self) -> Outcome:
        """Roll out; an Outcome for a failed rollout, engine errors raised."""
        if self.client.info().get("Swarm", {}).get("LocalNodeState") != "active":
            return Outcome(DeployState.FAILED, NOT_SWARM)
        t = self.t
        existing = swarm_service_of(self.client, self.e.namespace, t.service, t.env)
        if existing is None:
            return self._create()
        return self._update(existing)

    def _spec(self, name: str) -> dict[str, Any]:
        t = self.t
        probe = ["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null",
                 f"http://127.0.0.1:{t.port}{t.health}"]  # fmt: skip
        health = Healthcheck(
            test=probe, interval=SECOND, timeout=2 * SECOND, retries=3, start_period=SECOND
        )
        order: Any = "stop-first" if t.publish else "start-first"
        ports: Any = {t.publish: (t.port, "tcp", "host")} if t.publish else None
        return {
            "task_template": TaskTemplate(
                ContainerSpec(self.image_ref, labels=self.labels, healthcheck=health),
                restart_policy=RestartPolicy("any", delay=SECOND),
            ),
            "name": name,
            "labels": self.labels,
            "mode": ServiceMode("replicated", t.replicas),
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
        service = services.get(api.create_service(**self._spec(self.name))["ID"])

        def settled() -> str | None:
            tasks = service.tasks()
            ready = [t for t in tasks if t["Status"]["State"] == "running"]
            if len(ready) >= self.t.replicas:
                return "ok"
            failed = [t for t in tasks if t["Status"]["State"] in ("failed", "rejected")]
            return "failed" if len(failed) >= 3 else None

        if self.e.wait(settled, SWARM_DEADLINE) == "ok":
            return Outcome(DeployState.SUCCEEDED, "The service's tasks are running and healthy.")
        service.remove()
        return Outcome(DeployState.FAILED, "The new service never became healthy; removed it.")

    def _update(self, service: Any) -> Outcome:
        before = (service.attrs.get("UpdateStatus") or {}).get("StartedAt")
        previous = service.attrs["Spec"]
        # A service made before namespaces keeps its name (Swarm cannot rename one); the
        # update gives it this installation's labels.
        name = str(service.name)
        self.say(f"Rolling update of `{name}` to `{self.image_ref}`…")
        api: Any = self.client.api
        api.update_service(service.id, service.version, **self._spec(name))

        def status() -> str | None:
            service.reload()
            update = service.attrs.get("UpdateStatus") or {}
            if update.get("StartedAt") == before:
                return None
            state = str(update.get("State", ""))
            return state if state in SWARM_SETTLED else None

        state = self.e.wait(status, SWARM_DEADLINE)
        if state == "completed":
            return Outcome(DeployState.SUCCEEDED, "Rolling update completed; tasks are healthy.")
        if state == "rollback_completed":
            return Outcome(
                DeployState.ROLLED_BACK,
                "The new tasks failed their health check; Swarm rolled back.",
            )
        if state is None:
            service.reload()
            api.update_service(
                service.id, service.version, fetch_current_spec=False,
                task_template=previous["TaskTemplate"], name=name,
                labels=previous.get("Labels"), mode=previous.get("Mode"),
                update_config=previous.get("UpdateConfig"),
                rollback_config=previous.get("RollbackConfig"),
                endpoint_spec=previous.get("EndpointSpec"),
            )  # fmt: skip
            return Outcome(DeployState.ROLLED_BACK, "The update did not finish in time; reverted.")
        return Outcome(DeployState.FAILED, f"The update stopped ({state}).")
