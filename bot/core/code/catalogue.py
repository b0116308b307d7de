"""Code: the service catalogue (what exists, where its code is, what runs where and whether
it answers) and the ports it reads the engine and the services through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.core.blocks import escape
from bot.core.plan.views import fit
from bot.core.redact import public_source
from bot.core.values import Reply


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
    """http://127.0.0.1:<published port><health path>, when a port is published."""
    if deployment is None or deployment.port is None:
        return None
    return f"http://127.0.0.1:{deployment.port}{health_path}"


def services_view(entries: Sequence[CatalogueEntry], engine_note: str | None) -> Reply:
    """/services: each service, its repository, and per environment the running version,
    endpoint and health."""
    if not entries:
        return Reply(text="No services are configured (services: in opsloop.yml).")
    paragraphs = []
    if engine_note:
        paragraphs.append(f":warning: {escape(engine_note)} Versions and health show as unknown.")
    for entry in entries:
        # Credentials come out before escaping: escaped, a password with & no longer
        # matches what the redactor knows.
        repo = escape(public_source(entry.repo))
        name, image = escape(entry.service), escape(entry.image)
        lines = [f"*{name}* · repo `{repo}` · image `{image}`"]
        if not entry.rows:
            lines.append("  _deploys nowhere yet_")
        lines += [_row(row) for row in entry.rows]
        paragraphs.append("\n".join(lines))
    return fit(f"{len(entries)} services", paragraphs, None)


def _row(row: EnvironmentRow) -> str:
    icon = {Health.UP: ":large_green_circle:", Health.DOWN: ":red_circle:"}.get(
        row.probe.health, ":white_circle:"
    )
    running = row.deployment
    if running is None:
        return f"  {icon} `{row.env}`: not running · health {row.probe.health.value}"
    version = running.version or "unknown version"
    revision = f" ({running.revision[:7]})" if running.revision else ""
    where = f" · {row.endpoint}" if row.endpoint else " · no published port"
    detail = f" ({escape(row.probe.detail)})" if row.probe.detail else ""
    return (
        f"  {icon} `{row.env}`: *{escape(version)}*{revision} · {running.state}{where}"
        f" · health {row.probe.health.value}{detail}"
    )
