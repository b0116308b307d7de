"""Deployments on the Docker engine: one plain container, or a Swarm service, per service
and environment, named and labelled as bot.core.naming says.

Container target: the new image is first started as a candidate on an ephemeral loopback
port and probed on its health path. Only a healthy candidate goes on: the old container is
stopped (kept, renamed), the final container starts on the published port and is probed
again; if that fails the old one is started back. A host port cannot move between running
containers, so the window without an answer on the published port is from stopping the old
container until the new one answers its health path (about a second for a small service).

Swarm target: a service with a container healthcheck (busybox wget on the health path) and
an update policy whose failure action is rollback. Ports are published in host mode (the
ingress mesh needs IPVS). Two tasks cannot hold the same host port on one node, so with a
published port the update order is stop-first (start-first would leave the new task pending
for ever); without one it is start-first.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import docker
import httpx
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import (
    ContainerSpec,
    EndpointSpec,
    Healthcheck,
    RestartPolicy,
    ServiceMode,
    TaskTemplate,
    UpdateConfig,
)

from bot.core.clock import Clock
from bot.core.deploys import DeployState, Outcome, Progress, Running, Target
from bot.core.errors import EngineUnavailable, IntegrationError
from bot.core.naming import (
    LABEL_DEPLOY_ID,
    LABEL_ENV,
    LABEL_SERVICE,
    LABEL_VERSION,
    OCI_REVISION,
    deployment_name,
)
from integrations.docker_engine import connect
from integrations.registry import Registry, split_image

SECOND = 1_000_000_000
HEALTH_DEADLINE = 20.0
SWARM_DEADLINE = 120.0
POLL = 0.25
FINAL_ATTEMPTS = 5
_ENGINE_ERRORS = (DockerException, requests.RequestException, OSError)


class DockerDeployments:
    """bot.core.deploys.DeployEngine on docker-py; connects on first use."""

    def __init__(self, host: str | None, clock: Clock, health_deadline: float = HEALTH_DEADLINE):
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
                except _ENGINE_ERRORS as error:
                    raise EngineUnavailable("The Docker engine does not answer.") from error
            return self._client

    def running(self, target: Target) -> Running:
        """The version and deploy id on the container or service, from its labels."""
        client = self.client()
        name = deployment_name(target.service, target.env)
        try:
            if target.kind == "swarm":
                service = _find_service(client, name)
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
        except _ENGINE_ERRORS as error:
            raise EngineUnavailable("The Docker engine does not answer.") from error
        return Running(labels.get(LABEL_VERSION), labels.get(LABEL_DEPLOY_ID), healthy)

    def revision(self, image_ref: str) -> str | None:
        """Pull `image_ref` and read its revision label."""
        repository, _, tag = image_ref.rpartition(":")
        client = self.client()
        try:
            image = client.images.pull(repository, tag=tag)
        except (ImageNotFound, NotFound) as error:
            raise IntegrationError(f"`{image_ref}` could not be pulled.") from error
        except _ENGINE_ERRORS as error:
            raise EngineUnavailable(f"The engine could not pull `{image_ref}`.") from error
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
            if target.kind == "swarm":
                return _Swarm(self, target, image_ref, labels, progress).run()
            return _Container(self, target, image_ref, labels, progress).run()
        except APIError as error:
            return Outcome(DeployState.FAILED, f"The engine refused: {error.explanation}")
        except _ENGINE_ERRORS as error:
            return Outcome(DeployState.FAILED, f"The engine failed: {type(error).__name__}")

    def wait(self, check: Any, deadline: float) -> Any:
        """Poll `check()` until it returns something truthy or `deadline` seconds pass."""
        until = self._clock.monotonic() + deadline
        while True:
            found = check()
            if found or self._clock.monotonic() >= until:
                return found
            threading.Event().wait(POLL)

    def healthy(self, port: int, path: str) -> bool:
        """Whether http://127.0.0.1:port/path answers 2xx before the health deadline."""

        def answers() -> bool:
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2.0)
            except httpx.HTTPError:
                return False
            return reply.is_success

        return bool(self.wait(answers, self._health_deadline))


def _find_service(client: docker.DockerClient, name: str) -> Any:
    for service in client.services.list(filters={"name": name}):
        if service.name == name:
            return service
    return None


def _host_port(container: Any, port: int) -> int | None:
    container.reload()
    bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{port}/tcp") or []
    return int(bindings[0]["HostPort"]) if bindings else None


class _Container:
    def __init__(
        self, engine: DockerDeployments, target: Target, image_ref: str,
        labels: dict[str, str], progress: Progress,
    ) -> None:  # fmt: skip
        self.e, self.t, self.image_ref, self.labels, self.say = (
            engine, target, image_ref, labels, progress,
        )  # fmt: skip
        self.client = engine.client()
        self.name = deployment_name(target.service, target.env)

    def run(self) -> Outcome:
        t = self.t
        self.say(f"Pulling `{self.image_ref}`…")
        repository, _, tag = self.image_ref.rpartition(":")
        self.client.images.pull(repository, tag=tag)
        candidate = self._start(f"{self.name}-next", None)
        self.say(f"Started a candidate; probing `{t.health}`…")
        try:
            port = _host_port(candidate, t.port)
            ok = port is not None and self.e.healthy(port, t.health)
        finally:
            candidate.remove(force=True)
        if not ok:
            return Outcome(
                DeployState.FAILED,
                f"The new version never answered `{t.health}`; the running version keeps serving.",
            )
        old = self._existing()
        if old is not None:
            self.say("Candidate healthy; stopping the old container…")
            old.rename(f"{self.name}-old")
            old.stop(timeout=5)
        started: Any = self._start_final()
        final: Any = None if isinstance(started, str) else started
        error = started if isinstance(started, str) else ""
        port = t.publish or (_host_port(final, t.port) if final is not None else None)
        if final is not None and port is not None and self.e.healthy(port, t.health):
            if old is not None:
                old.remove(force=True)
            return Outcome(DeployState.SUCCEEDED, "The new version answers its health path.")
        if final is not None:
            final.remove(force=True)
        if error:
            self.say(f"The engine refused the new container: {error}")
        if old is not None:
            old.rename(self.name)
            old.start()
            return Outcome(
                DeployState.ROLLED_BACK, "The new container failed; the old one is back."
            )
        return Outcome(DeployState.FAILED, f"The new container never answered `{t.health}`.")

    def _start_final(self) -> Any:
        # The old container's port can take a moment to be released by the engine.
        for attempt in range(FINAL_ATTEMPTS):
            try:
                return self._start(self.name, self.t.publish)
            except APIError as error:
                if attempt == FINAL_ATTEMPTS - 1:
                    return str(error.explanation or error)
                threading.Event().wait(POLL * (attempt + 1))
        return "no attempt left"

    def _existing(self) -> Any:
        for name in (self.name, f"{self.name}-old"):
            try:
                container = self.client.containers.get(name)
            except NotFound:
                continue
            if name == self.name:
                return container
            # An earlier deploy was interrupted mid-swap: the old one is the one to keep.
            container.rename(self.name)
            return container
        return None

    def _start(self, name: str, publish: int | None) -> Any:
        with contextlib.suppress(NotFound):
            self.client.containers.get(name).remove(force=True)
        binding: Any = publish if publish is not None else ("127.0.0.1", None)
        run: Any = self.client.containers.run
        return run(
            self.image_ref, name=name, detach=True, labels=self.labels,
            ports={f"{self.t.port}/tcp": binding},
            restart_policy={"Name": "unless-stopped"} if name == self.name else None,
        )  # fmt: skip


class _Swarm:
    def __init__(
        self, engine: DockerDeployments, target: Target, image_ref: str,
        labels: dict[str, str], progress: Progress,
    ) -> None:  # fmt: skip
        self.e, self.t, self.image_ref, self.labels, self.say = (
            engine, target, image_ref, labels, progress,
        )  # fmt: skip
        self.client = engine.client()
        self.name = deployment_name(target.service, target.env)

    def run(self) -> Outcome:
        if self.client.info().get("Swarm", {}).get("LocalNodeState") != "active":
            return Outcome(DeployState.FAILED, "This Docker engine is not in Swarm mode.")
        existing = _find_service(self.client, self.name)
        if existing is None:
            return self._create()
        return self._update(existing)

    def _spec(self) -> dict[str, Any]:
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
            "name": self.name,
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
        service = services.get(api.create_service(**self._spec())["ID"])

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
        self.say(f"Rolling update of `{self.name}` to `{self.image_ref}`…")
        api: Any = self.client.api
        api.update_service(service.id, service.version, **self._spec())

        def status() -> str | None:
            service.reload()
            update = service.attrs.get("UpdateStatus") or {}
            if update.get("StartedAt") == before:
                return None
            state = str(update.get("State", ""))
            return state if state in _SETTLED else None

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
                task_template=previous["TaskTemplate"], name=self.name,
                labels=previous.get("Labels"), mode=previous.get("Mode"),
                update_config=previous.get("UpdateConfig"),
                rollback_config=previous.get("RollbackConfig"),
                endpoint_spec=previous.get("EndpointSpec"),
            )  # fmt: skip
            return Outcome(DeployState.ROLLED_BACK, "The update did not finish in time; reverted.")
        return Outcome(DeployState.FAILED, f"The update stopped ({state}).")


_SETTLED = frozenset({"completed", "rollback_completed", "paused", "rollback_paused"})


class RegistryImages:
    """bot.core.deploys.ImageIndex over the registries the images name."""

    def __init__(self) -> None:
        self._registries: dict[str, Registry] = {}
        self._guard = threading.Lock()

    def digest(self, image: str, version: str) -> str | None:
        """The digest of `image:version` in its registry, None when the tag is missing."""
        host, repository = split_image(image)
        with self._guard:
            registry = self._registries.setdefault(host, Registry(host))
        return registry.digest(repository, version)

    def close(self) -> None:
        """Close the registries' connections."""
        for registry in self._registries.values():
            registry.close()
