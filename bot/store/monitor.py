"""The Monitor stage's store: bot.core.monitor.ports.MonitorStore on SQLAlchemy.

Alert moves are UPDATE ... WHERE state IN (<sources>); an alert opens once per key while
unresolved (a unique `open_key`); an Alertmanager notification is taken once per digest.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from bot.core.leases import CurrentLease
from bot.core.monitor.model import (
    Alert,
    AlertSource,
    AlertState,
    CheckKind,
    CheckRecord,
    CheckRestart,
    CheckState,
    DeployFacts,
    NewAlert,
    Silence,
)
from bot.store.fencing import check_lease
from bot.store.monitor_tables import (
    alertmanager_receipts,
    monitor_alerts,
    monitor_check_restarts,
    monitor_checks,
    monitor_silences,
)
from bot.store.tables import as_utc

__all__ = ["SqlMonitorStore"]


class SqlMonitorStore:
    """Checks, alerts, silences and receipts in the store. The check loop's own store is
    `fence`d by the singletons' lease: a check's state is saved only while this process
    holds it, so a process that lost it can neither move a check nor fire its alert
    (LeaseLost, nothing written)."""

    def __init__(self, engine: Engine, fence: CurrentLease | None = None) -> None:
        self._engine = engine
        self._fence = fence

    # -- checks ------------------------------------------------------------------------------
    def checks(self) -> list[CheckRecord]:
        """Every check, by key."""
        with self._engine.connect() as connection:
            rows = connection.execute(select(monitor_checks).order_by(monitor_checks.c.key))
            return [_check(row) for row in rows.mappings()]

    def save_check(self, record: CheckRecord) -> None:
        """Insert or replace a check's state."""
        with self._engine.begin() as connection:
            if self._fence is not None:
                check_lease(connection, self._fence())
            _replace_check(connection, record)

    def restarts(self) -> list[CheckRestart]:
        """The restarts asked for and not taken yet, oldest first."""
        query = select(monitor_check_restarts).order_by(monitor_check_restarts.c.id)
        with self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [CheckRestart(row["id"], row["key"], row["alert_id"], as_utc(row["asked_at"]))
                for row in rows]  # fmt: skip

    def restarted(self, restart_id: int, record: CheckRecord | None) -> None:
        """Forget the request and save the check as it starts over (fenced like save_check)."""
        with self._engine.begin() as connection:
            if self._fence is not None:
                check_lease(connection, self._fence())
            connection.execute(
                delete(monitor_check_restarts).where(monitor_check_restarts.c.id == restart_id)
            )
            if record is not None:
                _replace_check(connection, record)

    # -- alerts ------------------------------------------------------------------------------
    def open_alert(
        self,
        new: NewAlert,
        facts: DeployFacts | None,
        state: AlertState,
        at: datetime,
        previous_id: int | None,
    ) -> tuple[Alert, bool]:
        """Store a new alert, or return the unresolved one with the same key."""
        values: dict[str, Any] = {
            "source": new.source.value, "key": new.key, "open_key": new.key,
            "service": new.service, "env": new.env, "title": new.title[:500],
            "detail": new.detail[:2000], "state": state.value, "since": new.since,
            "opened_at": at, "previous_id": previous_id, "labels": json.dumps(new.labels),
            "link": new.link,
        }  # fmt: skip
        if facts is not None:
            values |= {
                "version": facts.version, "deployed_by": facts.deployed_by,
                "previous_version": facts.previous_version, "deploy_id": facts.deploy_id,
            }  # fmt: skip
        try:
            with self._engine.begin() as connection:
                result = connection.execute(insert(monitor_alerts).values(**values))
                key: Any = result.inserted_primary_key
                alert_id = int(key[0])
        except IntegrityError:
            found = self.open_alert_for(new.key)
            if found is None:
                raise
            return found, False
        found = self.alert(alert_id)
        assert found is not None
        return found, True

    def alert(self, alert_id: int) -> Alert | None:
        """The alert, or None."""
        return self._one(select(monitor_alerts).where(monitor_alerts.c.id == alert_id))

    def open_alert_for(self, key: str) -> Alert | None:
        """The unresolved alert with this key."""
        return self._one(select(monitor_alerts).where(monitor_alerts.c.open_key == key))

    def last_alert_for(self, key: str) -> Alert | None:
        """The newest alert with this key."""
        query = (
            select(monitor_alerts)
            .where(monitor_alerts.c.key == key)
            .order_by(monitor_alerts.c.id.desc())
            .limit(1)
        )
        return self._one(query)

    def alerts(self, states: Sequence[AlertState], limit: int) -> list[Alert]:
        """Alerts in these states, newest first."""
        query = (
            select(monitor_alerts)
            .where(monitor_alerts.c.state.in_([s.value for s in states]))
            .order_by(monitor_alerts.c.id.desc())
            .limit(limit)
        )
        with self._engine.connect() as connection:
            return [_alert(row) for row in connection.execute(query).mappings()]

    def move(
        self,
        alert_id: int,
        sources: Sequence[AlertState],
        target: AlertState,
        at: datetime,
        *,
        restart_check: bool = False,
        **fields: Any,
    ) -> bool:
        """Compare-and-set the alert's state; a resolved alert lets go of its key. With
        `restart_check`, the same transaction asks for the alert's check to start over."""
        values = {"state": target.value, **fields}
        if target is AlertState.RESOLVED:
            values["open_key"] = None
        with self._engine.begin() as connection:
            result = connection.execute(
                update(monitor_alerts)
                .where(monitor_alerts.c.id == alert_id)
                .where(monitor_alerts.c.state.in_([s.value for s in sources]))
                .values(**values)
            )
            moved = result.rowcount == 1
            if moved and restart_check:
                key = connection.execute(
                    select(monitor_alerts.c.key).where(monitor_alerts.c.id == alert_id)
                ).scalar_one()
                connection.execute(
                    insert(monitor_check_restarts).values(key=key, alert_id=alert_id, asked_at=at)
                )
        return moved

    def set_message(self, alert_id: int, channel_id: str, ts: str) -> None:
        """Remember where the alert's message is."""
        self._set(alert_id, channel_id=channel_id, message_ts=ts)

    def set_message_ids(
        self, alert_id: int, message_id: int | None = None, thread_message_id: int | None = None
    ) -> None:
        """Remember the outbox rows of the alert's message and of its deploy-thread reply."""
        values = {"message_id": message_id, "thread_message_id": thread_message_id}
        self._set(alert_id, **{k: v for k, v in values.items() if v is not None})

    # -- silences ----------------------------------------------------------------------------
    def add_silence(self, silence: Silence) -> Silence:
        """Store a silence; the returned one has its id."""
        values = {
            "service": silence.service, "env": silence.env, "alert_id": silence.alert_id,
            "until": silence.until, "reason": silence.reason[:500],
            "created_by": silence.created_by, "created_at": silence.created_at,
            "alertmanager_id": silence.alertmanager_id,
            "matchers": json.dumps(silence.matchers),
        }  # fmt: skip
        with self._engine.begin() as connection:
            key: Any = connection.execute(insert(monitor_silences).values(**values))
            silence_id = int(key.inserted_primary_key[0])
        found = self.silence(silence_id)
        assert found is not None
        return found

    def silences(self, at: datetime) -> list[Silence]:
        """Silences in force at `at`, oldest first."""
        query = (
            select(monitor_silences)
            .where(monitor_silences.c.ended_at.is_(None), monitor_silences.c.until > at)
            .order_by(monitor_silences.c.id)
        )
        with self._engine.connect() as connection:
            return [_silence(row) for row in connection.execute(query).mappings()]

    def silence(self, silence_id: int) -> Silence | None:
        """The silence, or None."""
        query = select(monitor_silences).where(monitor_silences.c.id == silence_id)
        with self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else _silence(row)

    def end_silence(self, silence_id: int, at: datetime, by: str) -> bool:
        """End a silence that has not ended yet."""
        with self._engine.begin() as connection:
            result = connection.execute(
                update(monitor_silences)
                .where(and_(monitor_silences.c.id == silence_id,
                            monitor_silences.c.ended_at.is_(None)))
                .values(ended_at=at, ended_by=by)
            )  # fmt: skip
        return result.rowcount == 1

    def set_silence_remote(self, silence_id: int, alertmanager_id: str) -> None:
        """Remember the silence's twin in Alertmanager."""
        with self._engine.begin() as connection:
            connection.execute(
                update(monitor_silences)
                .where(monitor_silences.c.id == silence_id)
                .values(alertmanager_id=alertmanager_id)
            )

    def seen_receipt(self, digest: str) -> bool:
        """Whether this notification digest was taken before."""
        query = select(alertmanager_receipts.c.digest).where(
            alertmanager_receipts.c.digest == digest
        )
        with self._engine.connect() as connection:
            return connection.execute(query).first() is not None

    def receipt(self, digest: str, at: datetime) -> bool:
        """True the first time this notification digest is seen."""
        try:
            with self._engine.begin() as connection:
                row = {"digest": digest, "received_at": at}
                connection.execute(insert(alertmanager_receipts).values(**row))
        except IntegrityError:
            return False
        return True

    # -- inside ------------------------------------------------------------------------------
    def _one(self, query: Any) -> Alert | None:
        with self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return None if row is None else _alert(row)

    def _set(self, alert_id: int, **values: Any) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                update(monitor_alerts).where(monitor_alerts.c.id == alert_id).values(**values)
            )


def _replace_check(connection: Connection, record: CheckRecord) -> None:
    values = {
        "key": record.key, "service": record.service, "env": record.env,
        "instance": record.instance, "kind": record.kind.value, "state": record.state.value,
        "failures": record.failures, "passes": record.passes, "since": record.since,
        "last_detail": record.last_detail[:2000], "last_at": record.last_at,
        "latency_ms": record.latency_ms,
    }  # fmt: skip
    connection.execute(delete(monitor_checks).where(monitor_checks.c.key == record.key))
    connection.execute(insert(monitor_checks).values(**values))


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in json.loads(text))


def _check(row: Any) -> CheckRecord:
    return CheckRecord(
        key=row["key"], service=row["service"], env=row["env"], instance=row["instance"],
        kind=CheckKind(row["kind"]), state=CheckState(row["state"]),
        failures=int(row["failures"]), passes=int(row["passes"]), since=as_utc(row["since"]),
        last_detail=row["last_detail"], last_at=as_utc(row["last_at"]),
        latency_ms=row["latency_ms"],
    )  # fmt: skip


def _alert(row: Any) -> Alert:
    return Alert(
        id=int(row["id"]), source=AlertSource(row["source"]), key=row["key"],
        service=row["service"], env=row["env"], title=row["title"], detail=row["detail"],
        state=AlertState(row["state"]), since=as_utc(row["since"]),
        opened_at=as_utc(row["opened_at"]), version=row["version"],
        deployed_by=row["deployed_by"], previous_version=row["previous_version"],
        deploy_id=row["deploy_id"], acknowledged_by=row["acknowledged_by"],
        acknowledged_at=as_utc(row["acknowledged_at"]), silenced_by=row["silenced_by"],
        silenced_until=as_utc(row["silenced_until"]), resolved_by=row["resolved_by"],
        resolved_at=as_utc(row["resolved_at"]), channel_id=row["channel_id"],
        message_ts=row["message_ts"], thread_channel_id=row["thread_channel_id"],
        thread_ts=row["thread_ts"], previous_id=row["previous_id"],
        labels=_pairs(row["labels"]), link=row["link"], message_id=row["message_id"],
        thread_message_id=row["thread_message_id"],
    )  # fmt: skip


def _silence(row: Any) -> Silence:
    return Silence(
        id=int(row["id"]), service=row["service"], env=row["env"], alert_id=row["alert_id"],
        until=as_utc(row["until"]), reason=row["reason"], created_by=row["created_by"],
        created_at=as_utc(row["created_at"]), ended_at=as_utc(row["ended_at"]),
        ended_by=row["ended_by"], alertmanager_id=row["alertmanager_id"],
        matchers=_pairs(row["matchers"]),
    )  # fmt: skip
