"""What runs on the Docker engine, read-only: the container or Swarm service named
deployment_name(namespace, service, env) (or one made before namespaces: see
integrations/docker_engine/ownership.py), its opsloop labels, its image's revision and its
port. One under this installation's name that carries another installation's namespace is
reported as that installation's (Deployment.foreign), never with its version.

The Deploy stage creates these (integrations/docker_engine/deployments.py); this module
only reads them, through the engine's one shared connection; /services and /changes run it
in the background with a deadline, so they stay quick when the engine is slow and say
"unknown", with the reason, when it is gone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import docker
from docker.errors import APIError, NotFound

from bot.core.code.catalogue import Deployment
from bot.core.naming import (
    LABEL_ENV,
    LABEL_SERVICE,
    LABEL_VERSION,
    OCI_REVISION,
    deployment_name,
    foreign_namespace,
    legacy_deployment_name,
    proxy_name,
)
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.ownership import (
    ForeignDeployment,
    container_of,
    is_legacy_of,
    is_not_swarm_manager,
    swarm_service_of,
)


class DockerInventory:
    """The Inventory port on the engine `connection` reaches."""

    def __init__(self, connection: EngineConnection, namespace: str) -> None:
        self._engine = connection
        self._namespace = namespace

    def deployment(self, service: str, env: str) -> Deployment | None:
        """The container (or else Swarm service) running `service` in `env`, or None; one of
        another installation is a Deployment with only `foreign` set. EngineUnavailable,
        saying why, when the engine cannot be reached."""
        name = deployment_name(self._namespace, service, env)
        try:
            with self._engine.call(f"look up `{name}`") as client:
                found = self._container(client, service, env)
                return found if found is not None else self._swarm_service(client, service, env)
        except ForeignDeployment as error:
            return Deployment(name=error.name, kind="", state="", foreign=error.namespace)

    def deployments(self) -> dict[tuple[str, str], Deployment]:
        """Every container and Swarm service opsloop labelled, by (service, environment):
        one container listing and one service listing, as `docker ps` and `docker service
        ls` would, plus one image inspection per distinct Swarm image for its revision.
        The two listings are asked for at once, and the inspections REVISION_READS at a
        time, so the view waits for the slowest of them, not their sum."""
        proxies: dict[tuple[str, str], tuple[int, str | None]] = {}
        with (
            self._engine.call("list what opsloop deployed") as client,
            ThreadPoolExecutor(REVISION_READS, "opsloop-inventory") as pool,
        ):
            containers = pool.submit(self._labelled_containers, client, proxies)
            found = self._labelled_services(client, pool)
            # A container wins over a Swarm service of the same name, as in deployment().
            found.update(containers.result())
        for key, (port, host) in proxies.items():
            if key in found and found[key].port is None:
                found[key] = replace(found[key], port=port, host=host)
        return found

    def _labelled_containers(
        self, client: docker.DockerClient, proxies: dict[tuple[str, str], tuple[int, str | None]]
    ) -> dict[tuple[str, str], Deployment]:
        """The deployments' containers; the ports this installation's reverse proxies
        publish go into `proxies` (a proxied Swarm service publishes none itself)."""
        # The low-level listing is one request, like `docker ps`; the high-level one would
        # inspect every container after it.
        rows = client.api.containers(all=True, filters={"label": LABEL_SERVICE})
        found: dict[tuple[str, str], Deployment] = {}
        for row in rows:
            labels: Mapping[str, str] = row.get("Labels") or {}
            key = (labels.get(LABEL_SERVICE, ""), labels.get(LABEL_ENV, ""))
            name = str((row.get("Names") or [""])[0]).lstrip("/")
            published = [p for p in row.get("Ports") or [] if p.get("PublicPort")]
            if name == proxy_name(self._namespace, *key) and published:
                host = str(published[0].get("IP") or "") or None
                proxies[key] = (int(published[0]["PublicPort"]), host)
            if not self._keep(found, key, name, labels):
                continue  # a candidate, a Swarm task, a leftover of a swap, another's own
            if (other := foreign_namespace(labels, self._namespace)) is not None:
                found[key] = Deployment(name, kind="", state="", foreign=other)
                continue
            found[key] = Deployment(
                name=name,
                kind="container",
                state=str(row.get("State", "")),
                version=labels.get(LABEL_VERSION),
                # Containers carry their image's labels, so no image inspection is needed.
                revision=labels.get(OCI_REVISION),
                port=int(published[0]["PublicPort"]) if published else None,
                host=str(published[0].get("IP") or "") or None if published else None,
                running=1 if row.get("State") == "running" else 0,
                desired=1,
                status=str(row.get("Status") or ""),
            )
        return found

    def _labelled_services(
        self, client: docker.DockerClient, pool: Executor
    ) -> dict[tuple[str, str], Deployment]:
        try:
            # With status, the engine counts each service's running and desired tasks
            # itself (as `docker service ls` shows them): no task listing is needed.
            services = client.services.list(filters={"label": LABEL_SERVICE}, status=True)
        except APIError as error:
            if error.status_code == 503:  # not a swarm manager: no Swarm services here
                return {}
            raise
        found: dict[tuple[str, str], Deployment] = {}
        ours: dict[tuple[str, str], Any] = {}
        for service in services:
            attrs: Mapping[str, Any] = service.attrs
            labels = (attrs.get("Spec") or {}).get("Labels") or {}
            key = (labels.get(LABEL_SERVICE, ""), labels.get(LABEL_ENV, ""))
            if not self._keep(found, key, str(service.name), labels):
                continue
            if (other := foreign_namespace(labels, self._namespace)) is not None:
                found[key] = Deployment(str(service.name), kind="", state="", foreign=other)
                continue
            found[key] = Deployment(str(service.name), kind="swarm", state="")  # placeholder
            ours[key] = service
        images = {_service_image(service.attrs) for service in ours.values()}
        revisions = dict(
            zip(images, pool.map(lambda image: self._revision(client, image), images), strict=True)
        )
        for key, service in ours.items():
            found[key] = self._service_deployment(client, service.name, service.attrs, revisions)
        return found

    def _keep(
        self,
        found: Mapping[tuple[str, str], Deployment],
        key: tuple[str, str],
        name: str,
        labels: Mapping[str, str],
    ) -> bool:
        """Whether the container or service `name` is the deployment of `key` as this
        installation sees it: under its own name (whoever's label it carries), or made before
        namespaces when nothing under its own name was found. Candidates, leftovers of a swap
        and other installations' deployments under their own names are not."""
        if name == deployment_name(self._namespace, *key):
            return True
        legacy = name == legacy_deployment_name(*key) and is_legacy_of(labels, *key)
        return legacy and key not in found

    def _container(self, client: docker.DockerClient, service: str, env: str) -> Deployment | None:
        container = container_of(client, self._namespace, service, env)
        if container is None:
            return None
        labels: Mapping[str, str] = container.labels or {}
        ports = container.ports or {}
        if _host_port(ports) is None:  # behind its reverse proxy: the port is the proxy's
            with contextlib.suppress(NotFound):
                proxy = client.containers.get(proxy_name(self._namespace, service, env))
                ports = proxy.ports or {}
        return Deployment(
            name=str(container.name),
            kind="container",
            state=str(container.status),
            version=labels.get(LABEL_VERSION),
            revision=self._revision(client, str(container.attrs["Image"])),
            port=_host_port(ports),
            host=_host_ip(ports),
        )

    def _swarm_service(
        self, client: docker.DockerClient, service_name: str, env: str
    ) -> Deployment | None:
        try:
            service = swarm_service_of(client, self._namespace, service_name, env)
        except APIError as error:
            if is_not_swarm_manager(error):  # no Swarm services here
                return None
            raise
        if service is None:
            return None
        found = self._service_deployment(client, str(service.name), service.attrs, {})
        if found.port is not None:
            return found
        try:  # behind its reverse proxy: the port is the proxy's
            proxy = client.containers.get(proxy_name(self._namespace, service_name, env))
        except NotFound:
            return found
        ports = proxy.ports or {}
        return replace(found, port=_host_port(ports), host=_host_ip(ports))

    def _service_deployment(
        self,
        client: docker.DockerClient,
        name: str,
        attrs: Mapping[str, Any],
        revisions: dict[str, str | None],
    ) -> Deployment:
        spec = attrs.get("Spec") or {}
        labels = labels_of_service_attrs(attrs)
        image = _service_image(attrs)
        ports = (attrs.get("Endpoint") or {}).get("Ports") or []
        replicas = ((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas")
        if image not in revisions:
            revisions[image] = self._revision(client, image)
        counted = attrs.get("ServiceStatus") or {}
        running = counted.get("RunningTasks")
        update = str((attrs.get("UpdateStatus") or {}).get("State") or "")
        return Deployment(
            name=name,
            kind="swarm",
            state=f"{replicas} replicas" if replicas is not None else "global",
            version=labels.get(LABEL_VERSION),
            revision=revisions[image],
            port=int(ports[0]["PublishedPort"]) if ports else None,
            running=int(running) if running is not None else None,
            desired=int(replicas) if replicas is not None else None,
            updating=update if update in ("updating", "rollback_started", "paused") else None,
        )

    @staticmethod
    def _revision(client: docker.DockerClient, image: str) -> str | None:
        try:
            labels = client.images.get(image).labels or {}
        except NotFound:
            return None
        revision = labels.get(OCI_REVISION)
        return str(revision) if revision else None


REVISION_READS = 8
"""Image inspections in flight at once for one listing (one per distinct Swarm image)."""


def _service_image(attrs: Mapping[str, Any]) -> str:
    spec = attrs.get("Spec") or {}
    return str(((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image"))


def _host_port(ports: Mapping[str, Any]) -> int | None:
    for bindings in ports.values():
        if bindings:
            return int(bindings[0]["HostPort"])
    return None


def _host_ip(ports: Mapping[str, Any]) -> str | None:
    for bindings in ports.values():
        if bindings:
            return str(bindings[0].get("HostIp") or "") or None
    return None


def labels_of_service_attrs(attrs: Mapping[str, Any]) -> Mapping[str, str]:
    """A Swarm service's own labels, from its attributes."""
    return dict((attrs.get("Spec") or {}).get("Labels") or {})
