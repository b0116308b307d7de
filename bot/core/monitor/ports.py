"""The ports the Monitor stage talks through: the store, the engine's view of what runs,
HTTP, the deploy history and Alertmanager. Adapters: bot/store/monitor.py,
integrations/http_checker.py, integrations/docker_engine/fleet.py, integrations/alertmanager.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.core.monitor.model import (
    Alert,
    AlertState,
    CheckRecord,
    CheckRestart,
    DeployFacts,
    NewAlert,
    Result,
    Silence,
)

PROXY = "proxy"
"""The instance name of a deployment's reverse proxy: it passes while its port answers at
all (the copies behind it are checked on their own), so it fails only when the proxy is
down. A deployment with only its proxy listed has nothing running; the proxy has no CPU or
memory checks (it runs without limits)."""


@dataclass(frozen=True, slots=True)
class Instance:
    """One running copy of a deployment: the container, or one Swarm task; or the reverse
    proxy publishing its port (PROXY)."""

    name: str
    """`container`, `task-<slot>` for a Swarm task (stable across updates), or PROXY."""
    container_id: str
    url: str | None
    """Where its health path answers from this host; None when it cannot be reached."""
    version: str | None


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU and memory of one container, as percent of its limit (or of one core / the host)."""

    cpu_percent: float | None
    memory_percent: float | None


class Fleet(Protocol):
    """What runs on the engine, read-only."""

    def instances(self, service: str, env: str, port: int | None, health: str) -> list[Instance]:
        """The running copies of a deployment (empty when none runs). EngineUnavailable when
        the engine does not answer."""
        ...

    def usage(self, container_id: str) -> Usage:
        """One stats snapshot of a container; CPU needs the previous snapshot, so the first
        call for a container says None for it."""
        ...


class HttpChecker(Protocol):
    """GETs health paths without tying up a thread per request."""

    def submit(self, url: str, timeout: float, done: Callable[[Result], None]) -> None:
        """Start a GET; `done` is called once with the result (pass on 2xx/3xx)."""
        ...


class DeployHistory(Protocol):
    """What the Deploy stage knows about a deployment."""

    def last_deploy(self, service: str, env: str) -> DeployFacts | None:
        """The newest succeeded deploy of `service` to `env`."""
        ...

    def deploying(self, service: str, env: str) -> bool:
        """Whether a deploy of `service` to `env` is running now (a planned swap)."""
        ...


class MonitorStore(Protocol):
    """Checks, alerts, silences and Alertmanager receipts, kept across restarts."""

    def checks(self) -> list[CheckRecord]:
        """Every check, by key."""
        ...

    def save_check(self, record: CheckRecord) -> None:
        """Insert or replace a check's state."""
        ...

    def restarts(self) -> list[CheckRestart]:
        """The restarts asked for and not taken yet, oldest first."""
        ...

    def restarted(self, restart_id: int, record: CheckRecord | None) -> None:
        """Take a restart: forget the request and, when given, save the check as it starts
        over, in one transaction."""
        ...

    def open_alert(self, new: NewAlert, facts: DeployFacts | None, state: AlertState,
                   at: datetime, previous_id: int | None) -> tuple[Alert, bool]:  # fmt: skip
        """Store a new alert and say True; or return the unresolved alert with the same key
        and False (an alert opens once, whoever asks twice)."""
        ...

    def alert(self, alert_id: int) -> Alert | None:
        """The alert, or None."""
        ...

    def open_alert_for(self, key: str) -> Alert | None:
        """The unresolved alert with this key."""
        ...

    def last_alert_for(self, key: str) -> Alert | None:
        """The newest alert with this key, resolved or not."""
        ...

    def alerts(self, states: Sequence[AlertState], limit: int) -> list[Alert]:
        """Alerts in these states, newest first."""
        ...

    def move(self, alert_id: int, sources: Sequence[AlertState], target: AlertState,
             at: datetime, *, restart_check: bool = False, **fields: Any) -> bool:  # fmt: skip
        """Compare-and-set the alert's state, with the fields that record who and when;
        False when it was in none of `sources`. With `restart_check`, the same transaction
        asks whichever process runs the checks to start the alert's check over (a
        CheckRestart, taken through `restarts` and `restarted`)."""
        ...

    def set_message(self, alert_id: int, channel_id: str, ts: str) -> None:
        """Remember where the alert's message is in Slack, once it was posted."""
        ...

    def set_message_ids(
        self, alert_id: int, message_id: int | None = None, thread_message_id: int | None = None
    ) -> None:
        """Remember the outbox rows of the alert's message and of its deploy-thread reply
        (the ones given)."""
        ...

    def add_silence(self, silence: Silence) -> Silence:
        """Store a silence; the returned one has its id."""
        ...

    def silences(self, at: datetime) -> list[Silence]:
        """Silences in force at `at`."""
        ...

    def silence(self, silence_id: int) -> Silence | None:
        """The silence, or None."""
        ...

    def end_silence(self, silence_id: int, at: datetime, by: str) -> bool:
        """End a silence in force; False when it had already ended."""
        ...

    def set_silence_remote(self, silence_id: int, alertmanager_id: str) -> None:
        """Remember the silence's twin in Alertmanager."""
        ...

    def seen_receipt(self, digest: str) -> bool:
        """Whether an Alertmanager notification with this digest was taken before."""
        ...

    def receipt(self, digest: str, at: datetime) -> bool:
        """Record an Alertmanager notification by its digest: True the first time only."""
        ...


class Silencer(Protocol):
    """Alertmanager's silences (API v2)."""

    def create(self, matchers: Sequence[tuple[str, str]], until: datetime, created_by: str,
               comment: str, starts: datetime) -> str:  # fmt: skip
        """Create a silence; its id. IntegrationError when Alertmanager does not answer in 5 s."""
        ...

    def expire(self, silence_id: str) -> None:
        """Expire a silence. IntegrationError when Alertmanager does not answer in 5 s."""
        ...
