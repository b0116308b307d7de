"""What Operate knows and talks through: where each service runs (from opsloop.yml, as frozen
values), what the engine reports about it, and the ports to the engine and the store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.core.deploy.model import Outcome, Progress, Target
from bot.core.errors import NotFound, UsageError

DEFAULT_WINDOW_SECONDS = 300


@dataclass(frozen=True, slots=True)
class AutoscalePolicy:
    """deploy.<env>.autoscale: replicas between `low` and `high`, aiming at `cpu` percent of
    the CPU limit (and `memory` percent of the memory limit, when given)."""

    low: int
    high: int
    cpu: int
    memory: int | None = None
    window_seconds: int = DEFAULT_WINDOW_SECONDS


@dataclass(frozen=True, slots=True)
class Placement:
    """One service in one environment, as Operate sees it. `target` is None when the
    service has no port (a container restart cannot be health-gated without one)."""

    service: str
    env: str
    kind: str
    image: str
    replicas: int
    max_replicas: int
    autoscale: AutoscalePolicy | None = None
    target: Target | None = None

    @property
    def swarm(self) -> bool:
        """Whether it runs as a Swarm service (the only kind that scales)."""
        return self.kind == "swarm"


@dataclass(frozen=True, slots=True)
class Fleet:
    """Every service and environment Operate may act on."""

    ops_channel: str
    placements: Mapping[tuple[str, str], Placement] = field(default_factory=dict)

    def placement(self, service: str, env: str) -> Placement:
        """Where `service` runs in `env`; NotFound or a UsageError naming the missing setting."""
        found = self.placements.get((service, env))
        if found is not None:
            return found
        envs = [e for s, e in self.placements if s == service]
        known = ", ".join(f"`{e}`" for e in envs) or "none"
        raise UsageError(
            f"`{service}` has no deploy settings for `{env}` (services.{service}.deploy.{env} "
            f"in opsloop.yml). It runs in: {known}."
        )

    def of_service(self, service: str) -> list[Placement]:
        """Every environment `service` runs in."""
        found = [p for (s, _e), p in self.placements.items() if s == service]
        if not found:
            raise NotFound(f"`{service}` has no deploy settings in opsloop.yml.")
        return found

    def autoscaled(self) -> list[Placement]:
        """The placements with an autoscale policy."""
        return [p for p in self.placements.values() if p.autoscale is not None and p.swarm]


@dataclass(frozen=True, slots=True)
class TaskState:
    """One Swarm task or the container: its state, where, since when, how it is."""

    id: str
    state: str
    node: str
    since: datetime | None
    health: str | None
    restarts: int | None = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    """One task's CPU and memory now, in percent of its limit (None: no reading)."""

    task_id: str
    cpu: float | None
    memory: float | None


@dataclass(frozen=True, slots=True)
class Status:
    """What the engine runs for one placement. `exists` False when nothing runs."""

    name: str
    kind: str
    exists: bool
    version: str | None = None
    revision: str | None = None
    image: str | None = None
    desired: int = 0
    running: int = 0
    tasks: tuple[TaskState, ...] = ()
    cpu_limit: float | None = None
    """CPU cores each task may use (None: no limit)."""
    memory_limit: int | None = None
    """Bytes each task may use (None: no limit)."""
    updating: str | None = None
    """Swarm's update state while one is under way."""
    proxy: ProxyState | None = None
    """The reverse proxy publishing the deployment's port, when it has one."""
    spec_version: int | None = None
    """The Swarm service's version index: every change of its spec (a scale) moves it."""


@dataclass(frozen=True, slots=True)
class ProxyState:
    """The reverse proxy in front of a deployment, as the engine shows it."""

    name: str
    state: str
    """The container's state: `running`, `exited`, …"""
    address: str | None
    """Where it publishes the port (`127.0.0.1:18080`, `0.0.0.0:18080`)."""


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of a task's output."""

    task: str
    at: datetime | None
    text: str


@dataclass(frozen=True, slots=True)
class LogBatch:
    """The lines read, oldest first, and whether the size or time cap cut them short."""

    lines: tuple[LogLine, ...]
    capped: bool = False


class OperateEngine(Protocol):
    """The engine as Operate uses it; every call raises EngineUnavailable when it is down."""

    def status(self, placement: Placement) -> Status:
        """The container or Swarm service, its tasks and limits (no CPU readings: slow)."""
        ...

    def usage(self, placement: Placement) -> list[Usage]:
        """CPU and memory of every running task now (about a second: two samples)."""
        ...

    def scale(self, placement: Placement, replicas: int, progress: Progress) -> Outcome:
        """Set the Swarm service's replicas and wait for them to run."""
        ...

    def placeable(self, placement: Placement, replicas: int) -> None:
        """UsageError, with the reason and the fix, when `replicas` copies could never all
        run as the placement publishes its port (host mode, more replicas than nodes)."""
        ...

    def restart(self, placement: Placement, progress: Progress) -> Outcome:
        """A rolling restart: Swarm force-updates, a container is replaced health-gated."""
        ...

    def logs(self, placement: Placement, since_seconds: int | None, tail: int) -> LogBatch:
        """The last `tail` lines of every task (since `since_seconds` ago), capped in size
        and time."""
        ...


@dataclass(frozen=True, slots=True)
class AutoscaleState:
    """What the autoscaler remembers per placement across restarts."""

    service: str
    env: str
    paused: bool = False
    paused_by: str | None = None
    history: tuple[tuple[datetime, int], ...] = ()


class AutoscaleStore(Protocol):
    """The autoscaler's memory: paused flags and recent recommendations."""

    def get(self, service: str, env: str) -> AutoscaleState:
        """The state (a fresh one, unpaused, when none was saved)."""
        ...

    def save(self, state: AutoscaleState, at: datetime) -> None:
        """Store the state."""
        ...


class DeployActivity(Protocol):
    """Whether a deploy runs on a placement now (the autoscaler waits for it)."""

    def deploying(self, service: str, env: str) -> bool:
        """True while a deploy or rollback of `service` to `env` is running."""
        ...


class FileShare(Protocol):
    """Uploads a file (Slack's files upload v2)."""

    def upload(
        self,
        channel_id: str,
        filename: str,
        content: bytes,
        comment: str,
        thread_ts: str | None = None,
    ) -> None:
        """Share `content` as `filename` (in the thread when `thread_ts` is given); secrets
        are redacted on the way."""
        ...


def readings(usage: Sequence[Usage], desired: int, what: str) -> tuple[float | None, ...]:
    """`desired` readings of `what` ("cpu" or "memory"): one per running task, and None for
    every task that should run but gave none (not yet started, on another node)."""
    found: list[float | None] = [getattr(u, what) for u in usage]
    return tuple(found + [None] * max(desired - len(found), 0))
