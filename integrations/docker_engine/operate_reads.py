"""Reading what runs for Operate: a Swarm service's tasks (or the container), their limits,
and their CPU and memory from the engine's stats. Pure readers of docker-py's dictionaries
are kept apart from the calls, so the arithmetic is plain to test."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import docker
from docker.errors import NotFound

from bot.core.naming import LABEL_VERSION, OCI_REVISION, proxy_name
from bot.core.operate.model import Placement, ProxyState, Status, TaskState, Usage
from integrations.docker_engine.proxy_config import published

NANO = 1_000_000_000


def parse_time(value: object) -> datetime | None:
    """The engine's RFC 3339 times (nanoseconds, `Z`) as aware datetimes; None for the
    zero time or anything unreadable."""
    if not isinstance(value, str) or not value or value.startswith("0001-"):
        return None
    head, _, fraction = value.rstrip("Z").partition(".")
    zone = "+00:00"
    if "+" in fraction:
        fraction, _, offset = fraction.partition("+")
        zone = "+" + offset
    try:
        return datetime.fromisoformat(f"{head}.{(fraction + '000000')[:6]}{zone}")
    except ValueError:
        return None


def swarm_status(
    name: str, attrs: Mapping[str, Any], tasks: list[Mapping[str, Any]], nodes: Mapping[str, str]
) -> Status:
    """The Status of a Swarm service from its inspect data, its tasks and node names. The
    current task of each slot is shown, with the tasks that slot went through before it
    counted as restarts (Swarm keeps a few)."""
    spec = attrs.get("Spec") or {}
    template = spec.get("TaskTemplate") or {}
    limits = (template.get("Resources") or {}).get("Limits") or {}
    image = str((template.get("ContainerSpec") or {}).get("Image") or "")
    replicas = ((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas")
    slots: dict[object, list[Mapping[str, Any]]] = defaultdict(list)
    for task in tasks:
        slots[task.get("Slot") or task.get("NodeID")].append(task)
    shown: list[TaskState] = []
    for slot_tasks in slots.values():
        slot_tasks.sort(key=lambda t: str(t.get("CreatedAt", "")), reverse=True)
        wanted = [t for t in slot_tasks if t.get("DesiredState") == "running"]
        if not wanted:  # a slot scaled away, or replaced by an update
            continue
        current = wanted[0]
        status = current.get("Status") or {}
        shown.append(
            TaskState(
                id=str(current.get("ID", ""))[:12],
                state=str(status.get("State", "unknown")),
                node=nodes.get(str(current.get("NodeID", "")), str(current.get("NodeID", ""))[:12]),
                since=parse_time(status.get("Timestamp")),
                health=None,
                restarts=len(slot_tasks) - 1,
                error=str(status.get("Err") or ""),
            )
        )
    running = [t for t in tasks if t.get("DesiredState") == "running"
               and (t.get("Status") or {}).get("State") == "running"]  # fmt: skip
    update = str((attrs.get("UpdateStatus") or {}).get("State") or "")
    nano = limits.get("NanoCPUs")
    memory = limits.get("MemoryBytes")
    index = (attrs.get("Version") or {}).get("Index")
    return Status(
        name=name,
        kind="swarm",
        exists=True,
        version=(spec.get("Labels") or {}).get(LABEL_VERSION),
        image=image.split("@", 1)[0],
        desired=int(replicas or 0),
        running=len(running),
        tasks=tuple(sorted(shown, key=lambda t: t.id)),
        cpu_limit=int(nano) / NANO if nano else None,
        memory_limit=int(memory) if memory else None,
        updating=update if update in ("updating", "rollback_started", "paused") else None,
        spec_version=int(index) if index is not None else None,
    )


def container_status(name: str, attrs: Mapping[str, Any]) -> Status:
    """The Status of a plain container from its inspect data."""
    state = attrs.get("State") or {}
    config = attrs.get("Config") or {}
    host = attrs.get("HostConfig") or {}
    health = (state.get("Health") or {}).get("Status")
    running = state.get("Status") == "running"
    nano = host.get("NanoCpus")
    memory = host.get("Memory")
    task = TaskState(
        id=str(attrs.get("Id", ""))[:12],
        state=str(state.get("Status", "unknown")),
        node="this engine",
        since=parse_time(state.get("StartedAt") if running else state.get("FinishedAt")),
        health=str(health) if health else None,
        restarts=int(attrs.get("RestartCount") or 0),
        error=str(state.get("Error") or ""),
    )
    return Status(
        name=name,
        kind="container",
        exists=True,
        version=(config.get("Labels") or {}).get(LABEL_VERSION),
        image=str(config.get("Image") or ""),
        desired=1,
        running=1 if running else 0,
        tasks=(task,),
        cpu_limit=int(nano) / NANO if nano else None,
        memory_limit=int(memory) if memory else None,
    )


def image_revision(labels: Mapping[str, str] | None) -> str | None:
    """The image's revision label, if any."""
    value = (labels or {}).get(OCI_REVISION)
    return str(value) if value else None


def usage_of(
    task_id: str, stats: Mapping[str, Any], cpu_limit: float | None, memory_limit: int | None
) -> Usage:
    """One container's stats as percent of its limits. CPU without a limit is measured
    against the engine's CPUs; memory without a limit gives no reading. A first sample
    (no earlier one to compare) gives no CPU reading."""
    now = stats.get("cpu_stats") or {}
    before = stats.get("precpu_stats") or {}
    cpu: float | None = None
    used = (now.get("cpu_usage") or {}).get("total_usage")
    used_before = (before.get("cpu_usage") or {}).get("total_usage")
    system, system_before = now.get("system_cpu_usage"), before.get("system_cpu_usage")
    online = now.get("online_cpus") or len((now.get("cpu_usage") or {}).get("percpu_usage") or [])
    samples = (used, used_before, system, system_before)
    if all(isinstance(v, int) for v in samples) and online:
        elapsed = int(str(system)) - int(str(system_before))
        if elapsed > 0:
            cores = (int(str(used)) - int(str(used_before))) / elapsed * int(online)
            cpu = round(100.0 * cores / (cpu_limit or int(online)), 1)
    memory: float | None = None
    figures = stats.get("memory_stats") or {}
    if memory_limit and "usage" in figures:
        detail = figures.get("stats") or {}
        inactive = detail.get("inactive_file", detail.get("total_inactive_file", 0))
        memory = round(100.0 * max(int(figures["usage"]) - int(inactive), 0) / memory_limit, 1)
    return Usage(task_id, cpu, memory)


def proxy_state(
    client: docker.DockerClient, namespace: str, placement: Placement
) -> ProxyState | None:
    """The deployment's reverse proxy as the engine shows it (state, published address);
    None when it has none."""
    name = proxy_name(namespace, placement.service, placement.env)
    try:
        container = client.containers.get(name)
    except NotFound:
        return None
    host, port = published(container.attrs)
    address = (f"{host}:{port}" if host else f"port {port} of every address") if port else None
    return ProxyState(name, str(container.status), address)
