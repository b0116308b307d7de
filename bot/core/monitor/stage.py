"""The Monitor stage as the commands see it, and the plain values it is built from (the
composition root turns opsloop.yml into MonitorSettings; core never reads the config)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from bot.core.clock import Clock
from bot.core.monitor.desk import OPEN_STATES, AlertDesk, LabelNames
from bot.core.monitor.messages import AlertMessages
from bot.core.monitor.model import Alert, CheckRecord, Silence, Watched
from bot.core.monitor.ports import DeployHistory, Fleet, HttpChecker, MonitorStore, Silencer
from bot.core.monitor.watch import CheckLoop
from bot.core.outbox import Outbox


@dataclass(frozen=True, slots=True)
class MonitorSettings:
    """What the Monitor stage needs from opsloop.yml."""

    channel_id: str
    deploy_window: timedelta
    watched: tuple[Watched, ...]
    labels: LabelNames = field(default_factory=LabelNames)
    services: frozenset[str] = frozenset()
    environments: frozenset[str] = frozenset()


class Monitoring:
    """Checks, alerts and silences: what /monitor and /alerts read and change."""

    def __init__(self, desk: AlertDesk, loop: CheckLoop, settings: MonitorSettings) -> None:
        self.desk = desk
        self.loop = loop
        self.settings = settings

    def checks(self) -> list[CheckRecord]:
        """Every check with its state and last result."""
        return self.loop.records()

    def open_alerts(self, limit: int = 50) -> list[Alert]:
        """Unresolved alerts, newest first."""
        return self.desk.store.alerts(OPEN_STATES, limit)

    def silences(self) -> list[Silence]:
        """Silences in force now."""
        return self.desk.store.silences(self.desk.now())

    def start(self) -> None:
        """Record what a stop left unannounced, then start checking."""
        self.desk.recover()
        self.loop.start()

    def stop(self) -> None:
        """Stop checking (what is for Slack is in the outbox)."""
        self.loop.stop()
        self.desk.stop()


def build_monitoring(
    *,
    settings: MonitorSettings,
    store: MonitorStore,
    outbox: Outbox,
    clock: Clock,
    fleet: Fleet,
    http: HttpChecker,
    history: DeployHistory,
    silencer: Silencer | None,
    check_store: MonitorStore | None = None,
) -> Monitoring:
    """The stage wired over its ports; start() it to begin checking. The check loop writes
    through `check_store` when given (the lease-fenced one), the rest through `store`."""
    desk = AlertDesk(
        store=store, messages=AlertMessages(outbox, settings.channel_id),
        history=history, clock=clock, deploy_window=settings.deploy_window,
        silencer=silencer, labels=settings.labels,
    )  # fmt: skip
    loop = CheckLoop(watched=settings.watched, fleet=fleet, http=http, history=history,
                     store=check_store or store, desk=desk, clock=clock)  # fmt: skip
    return Monitoring(desk, loop, settings)


def watched_of(records: Sequence[CheckRecord], service: str, env: str | None) -> list[CheckRecord]:
    """The checks of one service (in one environment, or all)."""
    return [r for r in records if r.service == service and env in (None, r.env)]
