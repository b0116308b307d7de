"""The alert desk: opens, resolves, acknowledges and silences alerts. Everything it decides is
stored first (compare-and-set on the alert's state), then recorded for Slack through
AlertMessages on the outbox, whose courier posts it: no caller waits on Slack, and what is
recorded once is posted once, whatever restarts in between."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.core.clock import Clock
from bot.core.errors import InvalidTransition, NotFound, UsageError
from bot.core.monitor.messages import AlertMessages
from bot.core.monitor.model import (
    MAX_SILENCE,
    Alert,
    AlertMove,
    AlertSource,
    AlertState,
    DeployFacts,
    NewAlert,
    Silence,
    move_target,
)
from bot.core.monitor.ports import DeployHistory, MonitorStore, Silencer
from bot.core.monitor.views import refire_line, where
from bot.core.replies import best_effort

log = logging.getLogger(__name__)
OPEN_STATES = (AlertState.OPEN, AlertState.ACKNOWLEDGED, AlertState.SILENCED)


@dataclass(frozen=True, slots=True)
class LabelNames:
    """Which Alertmanager labels name opsloop's service and environment."""

    service: str = "service"
    environment: str = "environment"


class AlertDesk:
    """The Monitor stage's rules for alerts and silences."""

    def __init__(
        self,
        *,
        store: MonitorStore,
        messages: AlertMessages,
        history: DeployHistory,
        clock: Clock,
        deploy_window: timedelta,
        silencer: Silencer | None = None,
        labels: LabelNames = LabelNames(),
    ) -> None:
        self.store = store
        self.messages = messages
        self.labels = labels
        self._history = history
        self._clock = clock
        self._window = deploy_window
        self._silencer = silencer

    # -- raised by checks and Alertmanager ---------------------------------------------------
    def raise_alert(self, new: NewAlert) -> Alert:
        """Open the alert (once per key while unresolved) and announce it, unless silenced."""
        existing = self.store.open_alert_for(new.key)
        if existing is not None:
            return existing
        previous = self.store.last_alert_for(new.key)
        facts = self._facts(new.service, new.env)
        now = self._clock.now()
        alert, created = self.store.open_alert(
            new, facts, AlertState.OPEN, now, previous.id if previous else None
        )
        if not created:
            return alert
        silence = next((s for s in self.store.silences(now) if s.covers(alert)), None)
        if silence is not None:
            by, until = silence.created_by, silence.until
            self.store.move(alert.id, (AlertState.OPEN,), AlertState.SILENCED, now,
                            silenced_by=by, silenced_until=until)  # fmt: skip
            return self._load(alert.id)
        self._later(self._announce, alert.id, facts)
        return alert

    def resolve_key(self, key: str) -> None:
        """The check or Alertmanager says it is over: resolve the open alert with this key."""
        alert = self.store.open_alert_for(key)
        if alert is not None:
            self._move(alert, AlertMove.RESOLVE, resolved_at=self._clock.now())

    # -- by people -----------------------------------------------------------------------
    def acknowledge(self, alert_id: int, user: str) -> Alert:
        """Someone is on it."""
        alert = self.find(alert_id)
        return self._move(alert, AlertMove.ACKNOWLEDGE, acknowledged_by=user,
                          acknowledged_at=self._clock.now())  # fmt: skip

    def resolve(self, alert_id: int, user: str) -> Alert:
        """Someone says it is over. A check's alert also asks, in the store, for its check
        to start over: whichever process runs the checks (maybe not this one) counts its
        failures from zero, so a check that still fails fires again after fail_after."""
        alert = self.find(alert_id)
        restart = alert.source is AlertSource.CHECK
        return self._move(alert, AlertMove.RESOLVE, restart_check=restart, resolved_by=user,
                          resolved_at=self._clock.now())  # fmt: skip

    def silence(
        self,
        *,
        user: str,
        seconds: int,
        reason: str,
        service: str | None = None,
        env: str | None = None,
        alert_id: int | None = None,
    ) -> Silence:
        """Silence a service's alerts (one environment or all), or one alert, for `seconds`;
        with Alertmanager configured, the silence is created there first."""
        if seconds > MAX_SILENCE.total_seconds():
            raise UsageError("A silence can last at most 30 days.")
        alert = self.find(alert_id) if alert_id is not None else None
        if alert is not None and alert.service is not None:
            service, env, alert_id = alert.service, alert.env, None
        now = self._clock.now()
        until = now + timedelta(seconds=seconds)
        matchers = self._matchers(service, env, alert)
        remote = None
        if self._silencer is not None and matchers:
            remote = self._silencer.create(matchers, until, user, reason or "opsloop", now)
        silence = self.store.add_silence(
            Silence(id=0, service=service, env=env, alert_id=alert_id, until=until,
                    reason=reason, created_by=user, created_at=now, alertmanager_id=remote,
                    matchers=matchers)
        )  # fmt: skip
        for covered in self._covered(silence):
            if covered.state is not AlertState.SILENCED:
                self._move(covered, AlertMove.SILENCE, silenced_by=user, silenced_until=until)
        return silence

    def unsilence(self, silences: Sequence[Silence], user: str) -> list[Silence]:
        """End silences (and their Alertmanager twins); their alerts open again."""
        now = self._clock.now()
        ended = [s for s in silences if self.store.end_silence(s.id, now, user)]
        for silence in ended:
            if self._silencer is not None and silence.alertmanager_id:
                self._silencer.expire(silence.alertmanager_id)
        self._wake(now)
        return ended

    def recover(self) -> None:
        """Record the messages of open alerts a stop cut short between storing the alert and
        recording its message (a firing check does not raise it again). Keyed per alert, so
        processes recovering at once still post each once."""
        for alert in self.store.alerts((AlertState.OPEN, AlertState.ACKNOWLEDGED), 1000):
            if alert.message_id is None:
                self._later(self._announce, alert.id, self._facts(alert.service, alert.env))

    def sweep(self) -> None:
        """Open again the alerts whose silences ran out."""
        self._wake(self._clock.now())

    def now(self) -> datetime:
        """The desk's clock."""
        return self._clock.now()

    def find(self, alert_id: int) -> Alert:
        """The alert, or NotFound."""
        alert = self.store.alert(alert_id)
        if alert is None:
            raise NotFound(f"There is no alert #{alert_id}. `/alerts` lists the open ones.")
        return alert

    def stop(self) -> None:
        """Nothing waits here: what is for Slack is in the outbox already."""

    # -- inside ----------------------------------------------------------------------------
    def _move(
        self, alert: Alert, move: AlertMove, *, restart_check: bool = False, **fields: Any
    ) -> Alert:
        target = move_target(alert.state, move)
        if target is None:
            raise InvalidTransition(
                f"Alert #{alert.id} is {alert.state.value}: it cannot {move.value} now."
            )
        now = self._clock.now()
        if not self.store.move(alert.id, (alert.state,), target, now,
                               restart_check=restart_check, **fields):  # fmt: skip
            raise InvalidTransition(f"Alert #{alert.id} changed meanwhile; look again.")
        moved = self._load(alert.id)
        self._later(self._show_change, alert.id)
        return moved

    def _wake(self, now: datetime) -> None:
        in_force = self.store.silences(now)
        for alert in self.store.alerts((AlertState.SILENCED,), 1000):
            if any(s.covers(alert) for s in in_force):
                continue
            self._move(alert, AlertMove.UNSILENCE, silenced_by=None, silenced_until=None)

    def _covered(self, silence: Silence) -> list[Alert]:
        return [a for a in self.store.alerts(OPEN_STATES, 1000) if silence.covers(a)]

    def _matchers(
        self, service: str | None, env: str | None, alert: Alert | None
    ) -> tuple[tuple[str, str], ...]:
        if alert is not None and service is None:
            return alert.labels
        found = [(self.labels.service, service)] if service else []
        found += [(self.labels.environment, env)] if env else []
        return tuple((name, value) for name, value in found if value)

    def _facts(self, service: str | None, env: str | None) -> DeployFacts | None:
        if service is None or env is None:
            return None
        try:
            return self._history.last_deploy(service, env)
        except Exception:
            log.exception("could not read the deploys of %s in %s", service, env)
            return None

    def _load(self, alert_id: int) -> Alert:
        alert = self.store.alert(alert_id)
        assert alert is not None
        return alert

    def _later(self, work: Callable[..., None], *args: Any) -> None:
        # The alert's state is stored already: a message that cannot be recorded is logged,
        # never raised into the check or command that moved the alert.
        best_effort("record an alert message", lambda: work(*args))

    def _announce(self, alert_id: int, facts: DeployFacts | None) -> None:
        alert = self._load(alert_id)
        if alert.message_id is not None:
            return
        previous = self._previous(alert)
        message_id = self.messages.post_alert(alert, previous)
        self.store.set_message_ids(alert.id, message_id=message_id)
        if previous is not None:
            self.messages.add_line(previous, refire_line(alert), key=f"alert-{alert.id}-refire")
        recent = facts is not None and self._clock.now() - facts.finished_at <= self._window
        if facts is not None and recent and facts.announcement_id and alert.deployed_by:
            thread_id = self.messages.post_in_deploy_thread(alert, facts.announcement_id)
            self.store.set_message_ids(alert.id, thread_message_id=thread_id)
        log.info("alert #%s opened for %s", alert.id, where(alert))

    def _show_change(self, alert_id: int) -> None:
        alert = self._load(alert_id)
        if alert.message_id is None:
            if alert.state is AlertState.OPEN:
                # Silenced from the start, never shown: it is news now.
                self._announce(alert.id, self._facts(alert.service, alert.env))
            return
        self.messages.show_alert(alert, self._previous(alert))
        self.messages.add_line(alert)

    def _previous(self, alert: Alert) -> Alert | None:
        """The alert this one fired again after, with where its message is in Slack (for the
        link), once that is known."""
        previous = self.store.alert(alert.previous_id) if alert.previous_id else None
        if previous is None or previous.message_ts or previous.message_id is None:
            return previous
        ref = self.messages.located(previous.message_id)
        if ref is None:
            return previous
        self.store.set_message(previous.id, ref.channel_id, ref.ts)
        return replace(previous, channel_id=ref.channel_id, message_ts=ref.ts)
