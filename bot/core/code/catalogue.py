"""Code: the service catalogue (what exists, where its code is, what runs where and whether
it answers) and the ports it reads the engine and the services through."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.core.blocks import escape
from bot.core.listing import Filters, Listing
from bot.core.redact import public_source


class Health(StrEnum):
    """What a service's health endpoint said."""

    UP = "up"
    DOWN = "down"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Deployment:
    """What runs a service in an environment, as the engine shows it."""

    name: str
    kind: str
    """`container` or `swarm`."""
    state: str
    version: str | None = None
    revision: str | None = None
    """The git commit the image was built from (org.opencontainers.image.revision)."""
    port: int | None = None
    """The port published on the host."""
    host: str | None = None
    """The host address the port is bound to (None or 0.0.0.0: every address)."""
    foreign: str | None = None
    """Set when the name is taken by another opsloop installation: its namespace. Nothing
    else about it is reported as this installation's."""
    running: int | None = None
    """Tasks running now (a container: 1 or 0); None when the listing did not say."""
    desired: int | None = None
    """Tasks that should run (a container: 1); None for a global Swarm service."""
    status: str = ""
    """The engine's own words, as `docker ps` shows them: `Up 3 minutes (healthy)`."""
    updating: str | None = None
    """Swarm's update state while an update or its rollback is under way."""


@dataclass(frozen=True, slots=True)
class Probe:
    """One health check's result."""

    health: Health
    detail: str = ""


class Inventory(Protocol):
    """What runs on the engine; read-only."""

    def deployment(self, service: str, env: str) -> Deployment | None:
        """The container or Swarm service running `service` in `env`, or None.
        EngineUnavailable when no engine answers."""
        ...

    def deployments(self) -> Mapping[tuple[str, str], Deployment]:
        """Every deployment opsloop made, by (service, environment), read from the engine
        in one listing (not one call per service). EngineUnavailable when none answers."""
        ...


class HealthProbe(Protocol):
    """Asks a service whether it is healthy."""

    def check(self, url: str) -> Probe:
        """GET `url` with a short timeout: up on 2xx/3xx, down otherwise or on no answer."""
        ...


@dataclass(frozen=True, slots=True)
class EnvironmentRow:
    """One service in one environment, for /services."""

    env: str
    deployment: Deployment | None
    endpoint: str | None
    probe: Probe


@dataclass(frozen=True, slots=True)
class CatalogueEntry:
    """One service of the catalogue."""

    service: str
    repo: str
    image: str
    rows: tuple[EnvironmentRow, ...]


def endpoint(deployment: Deployment | None, health_path: str) -> str | None:
    """http://<address>:<published port><health path>, when a port is published (the
    address it is bound to, or 127.0.0.1 when it is bound to every address)."""
    if deployment is None or deployment.port is None or deployment.foreign:
        return None
    host = deployment.host
    if host is None or host in ("0.0.0.0", "::"):  # noqa: S104 (read, not bound)
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{deployment.port}{health_path}"


PROBE_WORKERS = 16
"""Health checks in flight at once for one /services."""


def probe_all(probe: HealthProbe, urls: Iterable[str]) -> dict[str, Probe]:
    """Every URL's health, checked concurrently (at most PROBE_WORKERS at a time), so a
    large estate answers in about the time of its slowest few services."""
    unique = list(dict.fromkeys(urls))
    if not unique:
        return {}
    with ThreadPoolExecutor(min(PROBE_WORKERS, len(unique)), "opsloop-probe") as pool:
        return dict(zip(unique, pool.map(probe.check, unique), strict=True))


COLUMNS = (
    "service", "environment", "version", "revision", "state", "endpoint", "health", "detail",
    "repo", "image",
)  # fmt: skip


class ServiceState(StrEnum):
    """The states /services filters on."""

    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    UNDEPLOYED = "undeployed"
    DEPLOYING = "deploying"
    LOCKED = "locked"


@dataclass(frozen=True, slots=True)
class CatalogueContext:
    """What /services knows beside the entries: deploys in progress and locked
    environments (from the Deploy stage), and why the engine could not be read."""

    deploying: frozenset[tuple[str, str]] = frozenset()
    locked: frozenset[str] = frozenset()
    note: str | None = None


def services_listing(
    entries: Sequence[CatalogueEntry],
    context: CatalogueContext,
    filters: Filters,
    total: int,
    checking: bool = False,
) -> Listing:
    """/services as a list: one row per service (its environments on the same line), a
    summary first (of the `total` configured services, or of those the service filters
    name), and CSV records per environment for the export. `entries` are the services
    the service filters kept. With `checking`, health is still being checked: the page
    says so and counts no service unhealthy for its health path yet."""
    shown = [_filtered(entry, filters) for entry in entries]
    states = [_states(entry, context) for entry in shown]  # once per service, for all counts
    kept = [
        entry
        for entry, found in zip(shown, states, strict=True)
        if filters.service(entry.service)
        and (entry.rows or not filters.envs)
        and (not filters.states or filters.states & found)
    ]
    counts = {state: sum(state in found for found in states) for state in ServiceState}
    counted = f"{len(entries)} of {total}" if len(entries) != total else f"{total}"
    summary = f"{counted} services: " + ", ".join(
        CHECKING
        if checking and state is ServiceState.UNHEALTHY
        else f"{counts[state]} {state.value}"
        for state in (ServiceState.UNHEALTHY, ServiceState.DEPLOYING, ServiceState.LOCKED)
    )
    if len(kept) != len(entries):
        summary += f" · {len(kept)} shown"
    note = f"{escape(context.note)} Versions and health show as unknown." if context.note else ""
    return Listing(
        title="Services",
        summary=summary,
        rows=tuple(_line(entry, context, checking) for entry in kept),
        columns=COLUMNS,
        records=tuple(record for entry in kept for record in _records(entry)),
        empty="No service matches." if entries else "No services are configured.",
        note=note,
        pending="Health is being checked; this page updates when it is." if checking else "",
    )


CHECKING = "health being checked"


def _filtered(entry: CatalogueEntry, filters: Filters) -> CatalogueEntry:
    rows = tuple(row for row in entry.rows if filters.env(row.env))
    return CatalogueEntry(entry.service, entry.repo, entry.image, rows)


def _states(entry: CatalogueEntry, context: CatalogueContext) -> set[ServiceState]:
    states = set()
    if any(row.probe.health is Health.DOWN or _stopped(row) for row in entry.rows):
        states.add(ServiceState.UNHEALTHY)
    elif entry.rows and all(row.probe.health is Health.UP for row in entry.rows):
        states.add(ServiceState.HEALTHY)
    if not entry.rows or all(_ours(row.deployment) is None for row in entry.rows):
        states.add(ServiceState.UNDEPLOYED)
    if any((entry.service, row.env) in context.deploying for row in entry.rows):
        states.add(ServiceState.DEPLOYING)
    if any(row.env in context.locked for row in entry.rows):
        states.add(ServiceState.LOCKED)
    return states


def _stopped(row: EnvironmentRow) -> bool:
    """A container that is not running (exited, restarting, dead), or a Swarm service
    scaled to nothing, serves nobody whatever its health path would say."""
    running = row.deployment
    if running is None:
        return False
    if running.kind == "container":
        return running.state != "running"
    return running.state.startswith("0 ")


def _line(entry: CatalogueEntry, context: CatalogueContext, checking: bool) -> str:
    parts = [f"*{escape(entry.service)}*"]
    if not entry.rows:
        parts.append("_deploys nowhere yet_")
    parts += [_cell(entry.service, row, context, checking) for row in entry.rows]
    return " · ".join(parts)


def _cell(service: str, row: EnvironmentRow, context: CatalogueContext, checking: bool) -> str:
    health = row.probe.health
    icon = {Health.UP: ":large_green_circle:", Health.DOWN: ":red_circle:"}.get(
        health, ":hourglass_flowing_sand:" if checking and row.endpoint else ":white_circle:"
    )
    marks = ""
    if (service, row.env) in context.deploying:
        marks += " :arrows_counterclockwise: deploying"
    if row.env in context.locked:
        marks += " :lock: locked"
    running = row.deployment
    if running is None:
        return f"{icon} `{row.env}` not running{marks}"
    if running.foreign:
        return (
            f":white_circle: `{row.env}` `{escape(running.name)}` belongs to another opsloop "
            f"installation (namespace `{escape(running.foreign)}`), not this one{marks}"
        )
    version = escape(running.version or "unknown version")
    revision = f" ({running.revision[:7]})" if running.revision else ""
    if _stopped(row):
        icon = ":red_circle:"
        shown = escape(running.state)
    elif row.endpoint:
        shown = f"<{row.endpoint}|{'checking' if checking else health.value}>"
    else:
        shown = f"health {health.value}"
    why = f" {escape(row.probe.detail)}" if health is Health.DOWN else ""
    return f"{icon} `{row.env}` *{version}*{revision} {shown}{why}{marks}"


def _records(entry: CatalogueEntry) -> list[tuple[str, ...]]:
    if not entry.rows:
        return [(entry.service, "", "", "", "", "", "", "", public_source(entry.repo), entry.image)]
    records: list[tuple[str, ...]] = []
    for row in entry.rows:
        running = _ours(row.deployment)
        records.append((
            entry.service, row.env,
            (running.version or "") if running else "",
            (running.revision or "") if running else "",
            running.state if running else "not running",
            row.endpoint or "", row.probe.health.value, row.probe.detail,
            public_source(entry.repo), entry.image,
        ))  # fmt: skip
    return records


def _ours(deployment: Deployment | None) -> Deployment | None:
    """The deployment, unless it is another installation's (then nothing of ours runs)."""
    return None if deployment is None or deployment.foreign else deployment
