"""What the Monitor stage checks on the engine, read-only: the running copies of a deployment
(its container, or each running task of its Swarm service) and their CPU and memory.

A container is reached on its published host port (on loopback); a Swarm task on its own
container's address on a bridge network (routable from the engine's host), so each task is
checked by itself. A task that sits only on overlay networks (which the host cannot reach)
is checked on its leg on docker_gwbridge, which every container on an overlay has and the
host can reach (tasks on other nodes of a multi-node Swarm are not reachable this way). Tasks
or a container behind a reverse proxy are also checked through the proxy, as the instance
`proxy`, on the port it publishes (so a proxy that is down raises the alert).
Stats are one snapshot per container (`one_shot`); CPU is the difference to the previous
snapshot of the same container, so the first one says nothing about CPU.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from ipaddress import ip_address
from typing import Any

import docker
from docker.errors import APIError, NotFound

from bot.core.monitor.ports import PROXY, Instance, Usage
from bot.core.naming import LABEL_VERSION, deployment_name, proxy_name
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.ownership import service_named as find_service
from integrations.docker_engine.proxy_config import published

GATEWAY_BRIDGE = "docker_gwbridge"


class DockerFleet:
    """monitor.ports.Fleet on the shared engine connection (its failures become the error
    tree there, as for every other engine call)."""

    def __init__(self, engine: EngineConnection, namespace: str) -> None:
        self._engine = engine
        self._namespace = namespace
        self._lock = threading.Lock()
        self._last_cpu: dict[str, tuple[int, int]] = {}

    def instances(self, service: str, env: str, port: int | None, health: str) -> list[Instance]:
        """The container, or every running task of the Swarm service, named for the deployment."""
        name = deployment_name(self._namespace, service, env)
        with self._engine.call(f"list the copies of {name}") as client:
            found = self._container(client, name, port, health)
            copies = [found] if found is not None else self._tasks(client, name, port, health)
            proxy = self._proxy(client, proxy_name(self._namespace, service, env), health)
            return [*copies, proxy] if proxy is not None else copies

    def usage(self, container_id: str) -> Usage:
        """CPU (percent of its CPU limit, or of one core) and memory (percent of its limit,
        or of the host) from one stats snapshot."""
        with self._engine.call("read a container's stats") as client:
            api: Any = client.api
            try:
                stats = api.stats(container_id, stream=False, one_shot=True)
                limits = api.inspect_container(container_id)["HostConfig"]
            except NotFound:
                return Usage(None, None)
        return Usage(self._cpu(container_id, stats, limits), _memory(stats, limits))

    def _cpu(
        self, container_id: str, stats: Mapping[str, Any], limits: Mapping[str, Any]
    ) -> float | None:
        cpu = stats.get("cpu_stats") or {}
        total = int((cpu.get("cpu_usage") or {}).get("total_usage") or 0)
        system = int(cpu.get("system_cpu_usage") or 0)
        cores = int(cpu.get("online_cpus") or 1)
        with self._lock:
            before = self._last_cpu.get(container_id)
            self._last_cpu[container_id] = (total, system)
        if before is None or system <= before[1]:
            return None
        of_one_core = (total - before[0]) / (system - before[1]) * cores * 100
        limit = _cpu_limit(limits)
        return of_one_core / limit if limit else of_one_core

    @staticmethod
    def _container(
        client: docker.DockerClient, name: str, port: int | None, health: str
    ) -> Instance | None:
        try:
            container = client.containers.get(name)
        except NotFound:
            return None
        if container.status != "running":
            return Instance("container", str(container.id), None, _version(container.labels))
        url = None
        if port is not None:
            bindings = (container.ports or {}).get(f"{port}/tcp") or []
            if bindings:
                url = f"http://127.0.0.1:{bindings[0]['HostPort']}{health}"
            elif address := _address(container.attrs):
                url = f"http://{address}:{port}{health}"
        return Instance("container", str(container.id), url, _version(container.labels))

    @staticmethod
    def _proxy(client: docker.DockerClient, name: str, health: str) -> Instance | None:
        try:
            container = client.containers.get(name)
        except NotFound:
            return None
        host, port = published(container.attrs)
        if not host or ip_address(host).is_unspecified:
            host = "127.0.0.1"
        where = f"[{host}]" if ":" in host else host
        url = f"http://{where}:{port}{health}" if port else None
        return Instance(PROXY, str(container.id), url, None)

    @staticmethod
    def _tasks(
        client: docker.DockerClient, name: str, port: int | None, health: str
    ) -> list[Instance]:
        try:
            service = find_service(client, name)
        except APIError as error:
            if error.status_code == 503:  # not a Swarm manager: no Swarm services here
                return []
            raise
        if service is None:
            return []
        version = _version((service.attrs.get("Spec") or {}).get("Labels"))
        gateways = _gateway_addresses(client)
        found = []
        for task in service.tasks(filters={"desired-state": "running"}):
            status = task.get("Status") or {}
            container_id = (status.get("ContainerStatus") or {}).get("ContainerID")
            if status.get("State") != "running" or not container_id:
                continue
            url = None
            try:
                attrs = client.api.inspect_container(container_id)
            except NotFound:
                continue
            address = _address(attrs, _overlays(task)) or gateways.get(str(container_id))
            if port is not None and address:
                url = f"http://{address}:{port}{health}"
            found.append(Instance(f"task-{task.get('Slot', 0)}", str(container_id), url, version))
        return found


def _gateway_addresses(client: docker.DockerClient) -> dict[str, str]:
    """Container id -> its address on docker_gwbridge, the bridge this node's Swarm
    containers reach the host through (empty when the node has none)."""
    try:
        network = client.api.inspect_network(GATEWAY_BRIDGE)
    except NotFound:
        return {}
    found = {}
    for container_id, endpoint in (network.get("Containers") or {}).items():
        address = str((endpoint or {}).get("IPv4Address") or "").split("/")[0]
        if address:
            found[container_id] = address
    return found


def _version(labels: Mapping[str, str] | None) -> str | None:
    return (labels or {}).get(LABEL_VERSION)


def _overlays(task: Mapping[str, Any]) -> set[str]:
    """The names of the task's overlay networks (not reachable from the host)."""
    return {
        str(spec.get("Name"))
        for attachment in task.get("NetworksAttachments") or []
        if ((spec := (attachment.get("Network") or {}).get("Spec") or {}).get(
            "DriverConfiguration") or {}).get("Name") == "overlay"
    }  # fmt: skip


def _address(attrs: Mapping[str, Any], skip: set[str] | None = None) -> str | None:
    networks = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    for name, network in networks.items():
        if name in (skip or set()):
            continue
        if network.get("IPAddress"):
            return str(network["IPAddress"])
    return None


def _cpu_limit(limits: Mapping[str, Any]) -> float | None:
    """The container's CPU limit in cores, None when it has none."""
    if limits.get("NanoCpus"):
        return int(limits["NanoCpus"]) / 1e9
    quota, period = limits.get("CpuQuota") or 0, limits.get("CpuPeriod") or 0
    return quota / period if quota > 0 and period > 0 else None


def _memory(stats: Mapping[str, Any], limits: Mapping[str, Any]) -> float | None:
    memory = stats.get("memory_stats") or {}
    usage = memory.get("usage")
    if usage is None:
        return None
    details = memory.get("stats") or {}
    # The page cache is not what the container holds on to: docker stats leaves it out too.
    used = int(usage) - int(details.get("inactive_file") or details.get("total_inactive_file") or 0)
    limit = int(limits.get("Memory") or 0) or int(memory.get("limit") or 0)
    return used / limit * 100 if limit else None
