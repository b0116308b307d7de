"""Monitor: what is checked, the two state machines (a check's, an alert's) and the values
they carry. Pure: the store, the engine, HTTP and Slack are reached through monitor.ports.

A check, per deployment instance and kind (http, cpu, memory)::

    ok ──fail──▶ failing ──fire (fail_after in a row)──▶ firing
     ▲              │                                   │
     └──recover─────┘              resolve (resolve_after passes in a row)
                                                        ▼
                                                     resolved
    resolved ──fail──▶ failing            (resolved otherwise behaves like ok)

An alert::

    open ──acknowledge──▶ acknowledged
    open | acknowledged ──silence──▶ silenced ──unsilence──▶ open
    open | acknowledged | silenced ──resolve──▶ resolved   (final: firing again opens a new one)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

MAX_SILENCE = timedelta(days=30)


class CheckKind(StrEnum):
    """What a check measures."""

    HTTP = "http"
    CPU = "cpu"
    MEMORY = "memory"


class CheckState(StrEnum):
    """Where a check is in its life."""

    OK = "ok"
    FAILING = "failing"
    FIRING = "firing"
    RESOLVED = "resolved"


class CheckMove(StrEnum):
    """The named transitions of a check; STAY when a result changes no state."""

    FAIL = "fail"
    FIRE = "fire"
    RECOVER = "recover"
    RESOLVE = "resolve"
    STAY = "stay"


@dataclass(frozen=True, slots=True)
class CheckPolicy:
    """How one service's checks run (services.<name>.checks), as plain values."""

    interval: float = 15.0
    timeout: float = 2.0
    fail_after: int = 3
    resolve_after: int = 2
    cpu: float | None = None
    """Percent of the container's CPU limit (of one core when it has none)."""
    memory: float | None = None
    """Percent of the container's memory limit (of the host when it has none)."""
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class Watched:
    """One deployment the bot checks: a service in an environment, as deployed."""

    service: str
    env: str
    target: str
    """`container` or `swarm`."""
    port: int | None
    health: str
    policy: CheckPolicy


@dataclass(frozen=True, slots=True)
class Result:
    """One observation: passed or not, what was seen, how long the HTTP answer took."""

    passed: bool
    detail: str
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class CheckRecord:
    """A check's state as stored: survives restarts."""

    key: str
    service: str
    env: str
    instance: str
    kind: CheckKind
    state: CheckState = CheckState.OK
    failures: int = 0
    passes: int = 0
    since: datetime | None = None
    """When the current run of failures began."""
    last_detail: str = ""
    last_at: datetime | None = None
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class CheckRestart:
    """Someone resolved a check's alert by hand: the process that runs the checks starts
    that check's count over (a check that still fails fires again after fail_after)."""

    id: int
    key: str
    alert_id: int
    asked_at: datetime


def check_key(service: str, env: str, instance: str, kind: CheckKind) -> str:
    """`web/prod/container/http`: stable across deploys, so a check follows its deployment."""
    return f"{service}/{env}/{instance}/{kind.value}"


def step(
    record: CheckRecord, result: Result, policy: CheckPolicy, at: datetime
) -> tuple[CheckRecord, CheckMove]:
    """The check after one more result, and the transition that result made."""
    seen = replace(record, last_detail=result.detail, last_at=at, latency_ms=result.latency_ms)
    state = record.state
    if not result.passed:
        failures = record.failures + 1
        since = record.since if record.failures else at
        if state is CheckState.FIRING:
            return replace(seen, failures=failures, passes=0, since=since), CheckMove.STAY
        if failures >= policy.fail_after:
            firing = replace(
                seen, state=CheckState.FIRING, failures=failures, passes=0, since=since
            )
            return firing, CheckMove.FIRE
        failing = replace(seen, state=CheckState.FAILING, failures=failures, passes=0, since=since)
        return failing, (CheckMove.STAY if state is CheckState.FAILING else CheckMove.FAIL)
    if state is CheckState.FAILING:
        return replace(
            seen, state=CheckState.OK, failures=0, passes=1, since=None
        ), CheckMove.RECOVER
    if state is CheckState.FIRING:
        passes = record.passes + 1
        if passes >= policy.resolve_after:
            resolved = replace(
                seen, state=CheckState.RESOLVED, failures=0, passes=passes, since=None
            )
            return resolved, CheckMove.RESOLVE
        return replace(seen, passes=passes), CheckMove.STAY
    return replace(seen, failures=0, passes=record.passes + 1, since=None), CheckMove.STAY


def must_store(before: CheckRecord, after: CheckRecord) -> bool:
    """Whether a result has to reach the store: a check's first result, a change of state,
    and each failure in a row while it is failing (so that a restart goes on counting towards
    fail_after). Passes of a healthy check and failures of a firing one change nothing a
    restart needs; /monitor reads the last result from memory."""
    if before.last_at is None or before.state is not after.state:
        return True
    return after.state is CheckState.FAILING and before.failures != after.failures


class AlertState(StrEnum):
    """Where an alert is in its life."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SILENCED = "silenced"
    RESOLVED = "resolved"


class AlertMove(StrEnum):
    """The named transitions of an alert."""

    ACKNOWLEDGE = "acknowledge"
    SILENCE = "silence"
    UNSILENCE = "unsilence"
    RESOLVE = "resolve"


ALERT_MOVES: dict[AlertMove, tuple[frozenset[AlertState], AlertState]] = {
    AlertMove.ACKNOWLEDGE: (frozenset({AlertState.OPEN}), AlertState.ACKNOWLEDGED),
    AlertMove.SILENCE: (
        frozenset({AlertState.OPEN, AlertState.ACKNOWLEDGED}),
        AlertState.SILENCED,
    ),
    AlertMove.UNSILENCE: (frozenset({AlertState.SILENCED}), AlertState.OPEN),
    AlertMove.RESOLVE: (
        frozenset({AlertState.OPEN, AlertState.ACKNOWLEDGED, AlertState.SILENCED}),
        AlertState.RESOLVED,
    ),
}
"""Each move: the states it may start from, and where it leads."""


def move_target(state: AlertState, move: AlertMove) -> AlertState | None:
    """Where `move` takes an alert in `state`; None when the machine has no such move."""
    sources, target = ALERT_MOVES[move]
    return target if state in sources else None


class AlertSource(StrEnum):
    """Who raised the alert: our own checks or Alertmanager."""

    CHECK = "check"
    ALERTMANAGER = "alertmanager"


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert about to be opened."""

    source: AlertSource
    key: str
    """The check key, or Alertmanager's fingerprint."""
    service: str | None
    env: str | None
    title: str
    detail: str
    since: datetime
    labels: tuple[tuple[str, str], ...] = ()
    link: str | None = None
    """Alertmanager's generatorURL."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One stored alert, with who moved it and when."""

    id: int
    source: AlertSource
    key: str
    service: str | None
    env: str | None
    title: str
    detail: str
    state: AlertState
    since: datetime
    opened_at: datetime
    version: str | None = None
    deployed_by: str | None = None
    previous_version: str | None = None
    deploy_id: int | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    silenced_by: str | None = None
    silenced_until: datetime | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    channel_id: str | None = None
    message_ts: str | None = None
    thread_channel_id: str | None = None
    thread_ts: str | None = None
    previous_id: int | None = None
    labels: tuple[tuple[str, str], ...] = ()
    link: str | None = None
    message_id: int | None = None
    """The outbox row of its message (channel_id and message_ts follow once it is posted)."""
    thread_message_id: int | None = None
    """The outbox row of its reply in the deploy's thread."""

    @property
    def open(self) -> bool:
        """Not resolved yet."""
        return self.state is not AlertState.RESOLVED


@dataclass(frozen=True, slots=True)
class Silence:
    """Quiet for a service's alerts (one environment or all), or for one alert, until a time."""

    id: int
    service: str | None
    env: str | None
    alert_id: int | None
    until: datetime
    reason: str
    created_by: str
    created_at: datetime
    ended_at: datetime | None = None
    ended_by: str | None = None
    alertmanager_id: str | None = None
    matchers: tuple[tuple[str, str], ...] = field(default=())

    def active(self, at: datetime) -> bool:
        """In force at `at`."""
        return self.ended_at is None and at < self.until

    def covers(self, alert: Alert) -> bool:
        """Whether this silence applies to the alert."""
        if self.alert_id is not None:
            return alert.id == self.alert_id
        return alert.service == self.service and self.env in (None, alert.env)


@dataclass(frozen=True, slots=True)
class DeployFacts:
    """What the deploy store says about the deployment an alert is about."""

    deploy_id: int
    version: str
    previous_version: str | None
    deployed_by: str
    finished_at: datetime
    announcement_id: int | None = None
    """The outbox row of the deploy's announcement in the ops channel (its outcome's, else
    its start's), whose thread the alert is replied in."""
