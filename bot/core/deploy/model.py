"""Deploy requests: their states, the values they carry, and the ports the deploy stage
talks through (the store, the engine and the registry).

    pending ──approve──▶ approved ──start──▶ running ──▶ succeeded | failed | rolled_back
       ├──reject──▶ rejected
       ├──expire──▶ expired
       └──fail────▶ failed (its message could not be posted)
    approved ──▶ failed (refused at start: a lock)

Every move is a compare-and-set in the store (`transition`), so a request is approved,
started and finished at most once, whatever reactions, clicks and retries arrive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from ipaddress import ip_address
from typing import Protocol

from bot.core.values import Block


class DeployState(StrEnum):
    """Where a deploy request is in its life."""

    PENDING = "pending"
    APPROVED = "approved"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def active(self) -> bool:
        """Still waiting or running: it holds the service's slot in its environment."""
        return self in (DeployState.PENDING, DeployState.APPROVED, DeployState.RUNNING)


TRANSITIONS: dict[DeployState, frozenset[DeployState]] = {
    DeployState.PENDING: frozenset(
        {DeployState.APPROVED, DeployState.REJECTED, DeployState.EXPIRED, DeployState.FAILED}
    ),
    DeployState.APPROVED: frozenset({DeployState.RUNNING, DeployState.FAILED}),
    DeployState.RUNNING: frozenset(
        {DeployState.SUCCEEDED, DeployState.FAILED, DeployState.ROLLED_BACK}
    ),
}


def allowed(source: DeployState, target: DeployState) -> bool:
    """Whether the state machine has the move `source` → `target`."""
    return target in TRANSITIONS.get(source, frozenset())


class DeployKind(StrEnum):
    """A deploy of a new version, a rollback to an earlier one, or an Operate change that
    goes through the same requests (approvals, locks, one at a time): a scale or a restart."""

    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    SCALE = "scale"
    RESTART = "restart"

    @property
    def ships(self) -> bool:
        """Whether it rolls out a version (deploy, rollback), rather than changing how the
        running version runs."""
        return self in (DeployKind.DEPLOY, DeployKind.ROLLBACK)


@dataclass(frozen=True, slots=True)
class HealthTimings:
    """How a new deployment's health path is probed (opsloop.yml's health keys, in seconds;
    None: the default of each target). Like Docker's healthcheck: failures in the first
    `start_period` do not count; then it is unhealthy after `retries` failed probes made
    every `interval`, each allowed `timeout`."""

    start_period: float | None = None
    interval: float | None = None
    timeout: float | None = None
    retries: int | None = None

    @property
    def given(self) -> bool:
        """Whether any timing was set."""
        return any(v is not None for v in (self.start_period, self.interval, self.timeout,
                                            self.retries))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Target:
    """How one service runs in one environment (from opsloop.yml)."""

    service: str
    env: str
    image: str
    kind: str
    port: int
    health: str
    publish: int | None
    """The host port the service is published on."""
    replicas: int
    probe: HealthTimings = HealthTimings()
    publish_host: str | None = None
    """The host address that port is bound to; None for every address."""
    publish_mode: str = "proxy"
    """How the port is published: `proxy` (a reverse proxy opsloop owns forwards to the
    tasks or the container, which publish nothing), `host` (each task, or the container,
    binds the host port) or `ingress` (Swarm's routing mesh; Swarm only)."""
    autoscale_max: int | None = None
    """The most replicas the autoscaler may set, when it scales the deployment."""

    @property
    def proxied(self) -> bool:
        """Whether the deployment's published port is its reverse proxy's."""
        return self.publish is not None and self.publish_mode == "proxy"

    @property
    def probe_host(self) -> str:
        """Where the published port answers on this host: its address, or loopback when it
        is bound to every address."""
        host = self.publish_host
        return "127.0.0.1" if host is None or ip_address(host).is_unspecified else host


@dataclass(frozen=True, slots=True)
class NewDeploy:
    """What a user asked for, before it is stored."""

    kind: DeployKind
    service: str
    env: str
    version: str
    from_version: str | None
    image: str
    digest: str
    requester: str
    channel_id: str
    approvals_needed: int
    created_at: datetime
    expires_at: datetime | None
    shipped: str
    changes: tuple[Block, ...]
    replicas: int | None = None
    from_replicas: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class DeployRequest:
    """One stored deploy request, with the approvals and rejections it got so far."""

    id: int
    kind: DeployKind
    service: str
    env: str
    version: str
    from_version: str | None
    image: str
    digest: str
    requester: str
    channel_id: str
    message_ts: str | None
    state: DeployState
    approvals_needed: int
    created_at: datetime
    expires_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    detail: str
    shipped: str
    changes: tuple[Block, ...]
    approved_by: tuple[str, ...] = ()
    rejected_by: tuple[str, ...] = ()
    mirror_channel_id: str | None = None
    """Where the request's mirror is: the channel it was asked in, when the request itself
    went to the approval channel. Votes count on either message."""
    mirror_ts: str | None = None
    replicas: int | None = None
    """A scale's new replica count."""
    from_replicas: int | None = None
    reason: str = ""
    """Why, as the requester typed it (scale, restart)."""

    @property
    def image_ref(self) -> str:
        """`127.0.0.1:5000/web:1.2.0`."""
        return f"{self.image}:{self.version}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an execution on the engine ended."""

    state: DeployState
    detail: str


@dataclass(frozen=True, slots=True)
class Running:
    """What the engine runs now for a service in an environment."""

    version: str | None
    deploy_id: str | None
    healthy: bool


Progress = Callable[[str], None]


class Operation(Protocol):
    """How the runner carries out a request that is not a rollout (a scale, a restart)."""

    def run(self, request: DeployRequest, progress: Progress) -> Outcome:
        """Do it; an Outcome for a failure, OpsloopError when the engine is out of reach."""
        ...

    def settle(self, request: DeployRequest) -> Outcome:
        """After a restart cut it short: how it ended, from what the engine runs now."""
        ...


class DeployStore(Protocol):
    """Deploy requests and their votes, kept across restarts."""

    def create(self, new: NewDeploy) -> tuple[DeployRequest, bool]:
        """Store a request and say True; or, when an active request already holds the
        service's slot in that environment, return that one and False."""
        ...

    def get(self, request_id: int) -> DeployRequest | None:
        """The request, or None."""
        ...

    def by_message(self, channel_id: str, ts: str) -> DeployRequest | None:
        """The request whose approval message, or its mirror, this is."""
        ...

    def set_message(self, request_id: int, channel_id: str, ts: str) -> None:
        """Remember where the request's message is."""
        ...

    def set_mirror(self, request_id: int, channel_id: str, ts: str) -> None:
        """Remember where the request's mirror is (in the channel it was asked in)."""
        ...

    def transition(
        self,
        request_id: int,
        source: DeployState,
        target: DeployState,
        at: datetime,
        detail: str | None = None,
    ) -> bool:
        """Move the request from `source` to `target`; False when it was not in `source`."""
        ...

    def vote(self, request_id: int, user_id: str, mark: str, added: bool, at: datetime) -> None:
        """Record (or withdraw) one user's approving or rejecting mark as of `at`; an event
        older than the one already stored for that mark changes nothing."""
        ...

    def in_states(self, states: Sequence[DeployState]) -> list[DeployRequest]:
        """Requests in these states, oldest first."""
        ...

    def recent(self, env: str | None, limit: int) -> list[DeployRequest]:
        """The newest requests (in one environment, or all), newest first."""
        ...

    def last_succeeded(self, service: str, env: str, limit: int) -> list[DeployRequest]:
        """The newest succeeded deploys of a service to an environment, newest first."""
        ...

    def latest_succeeded(self) -> dict[tuple[str, str], DeployRequest]:
        """Every (service, environment)'s newest succeeded request, read at once (for a
        view of the whole estate)."""
        ...


class DeployEngine(Protocol):
    """Runs images: containers or Swarm services, named and labelled per bot.core.naming."""

    def preflight(self, target: Target) -> None:
        """What can be checked before anyone is asked to approve a deploy to `target`: the
        engine answers, a Swarm target's engine is a Swarm manager, and the deployment's
        name is not another installation's. IntegrationError or Conflict saying which."""
        ...

    def running(self, target: Target) -> Running:
        """What runs now (version None when nothing does). EngineUnavailable when down."""
        ...

    def settle(self, target: Target) -> Running:
        """What runs once the engine stops converging (after a restart cut a deploy short);
        healthy only when it answers its health path. EngineUnavailable when down."""
        ...

    def revision(self, image_ref: str) -> str | None:
        """The image's org.opencontainers.image.revision label (pulling it if needed)."""
        ...

    def deploy(self, target: Target, image_ref: str, version: str, deploy_id: str,
               progress: Progress) -> Outcome:  # fmt: skip
        """Roll `image_ref` out; SUCCEEDED, or FAILED / ROLLED_BACK with the old version
        still serving."""
        ...

    def close(self) -> None:
        """Let go of the engine's connections (the bot is stopping)."""
        ...


class ImageIndex(Protocol):
    """The registry: which versions of an image exist."""

    def digest(self, image: str, version: str) -> str | None:
        """The manifest digest of `image:version`, None when there is no such tag.
        UsageError when `image` names no registry host."""
        ...

    def close(self) -> None:
        """Let go of the registries' connections (the bot is stopping)."""
        ...
