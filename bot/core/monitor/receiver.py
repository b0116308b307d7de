"""Alertmanager's webhook (payload version 4) into alerts, shown like the bot's own.

The request must carry `Authorization: Bearer <token>` (401 otherwise, nothing stored). A body
that is not a version-4 payload, or is larger than MAX_BODY, gets 400 and changes nothing. Each
alert is stored before the answer (200): a firing one opens (once per fingerprint while
unresolved), a resolved one resolves. Alertmanager resends a group on group_interval and
retries on 5xx: a repeat of a notification already taken changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core.monitor.desk import AlertDesk
from bot.core.monitor.model import AlertSource, NewAlert

log = logging.getLogger(__name__)
MAX_BODY = 1_000_000
MAX_ALERTS = 1000
PATH = "/alertmanager"


@dataclass(frozen=True, slots=True)
class Answer:
    """What the receiver says back over HTTP."""

    status: int
    message: str


class BadPayload(ValueError):
    """The body is not an Alertmanager webhook payload (version 4)."""


@dataclass(frozen=True, slots=True)
class Notified:
    """One alert of a notification."""

    fingerprint: str
    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    generator_url: str


class AlertmanagerReceiver:
    """Turns webhook requests into alerts on the desk."""

    def __init__(
        self,
        desk: AlertDesk,
        token: str,
        services: frozenset[str],
        environments: frozenset[str],
    ) -> None:
        self._desk = desk
        self._token = token.encode()
        self._services = services
        self._environments = environments

    def receive(self, authorization: str | None, body: bytes) -> Answer:
        """Check, store, answer."""
        if not self._authorized(authorization):
            return Answer(401, "missing or wrong bearer token")
        if len(body) > MAX_BODY:
            return Answer(400, f"body larger than {MAX_BODY} bytes")
        try:
            alerts = parse(body)
        except BadPayload as error:
            return Answer(400, str(error))
        digest = hashlib.sha256(body).hexdigest()
        now = self._desk.now()
        if self._desk.store.seen_receipt(digest):
            return Answer(200, "already taken")
        for alert in alerts:
            self._take(alert)
        self._desk.store.receipt(digest, now)
        return Answer(200, f"took {len(alerts)} alert(s)")

    def _authorized(self, header: str | None) -> bool:
        scheme, _, given = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            return False
        return hmac.compare_digest(given.strip().encode(), self._token)

    def _take(self, alert: Notified) -> None:
        key = f"am:{alert.fingerprint}"
        if alert.status == "resolved":
            self._desk.resolve_key(key)
            return
        names = self._desk.labels
        service = alert.labels.get(names.service)
        env = alert.labels.get(names.environment)
        known = service in self._services
        title = alert.labels.get("alertname", "Alertmanager alert")
        detail = (
            alert.annotations.get("summary")
            or alert.annotations.get("description")
            or ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))
        )
        self._desk.raise_alert(
            NewAlert(
                source=AlertSource.ALERTMANAGER, key=key,
                service=service if known else None,
                env=env if known and env in self._environments else None,
                title=title[:200], detail=detail[:1000], since=alert.starts_at,
                labels=tuple(sorted(alert.labels.items())), link=alert.generator_url or None,
            )
        )  # fmt: skip


def parse(body: bytes) -> list[Notified]:
    """The alerts of a version-4 webhook payload; BadPayload naming the first problem."""
    try:
        doc = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BadPayload(f"not JSON: {error}") from error
    if not isinstance(doc, dict):
        raise BadPayload("the payload must be a JSON object")
    if doc.get("version") != "4":
        raise BadPayload('only webhook payload version "4" is understood')
    for field in ("receiver", "status", "groupKey"):
        if not isinstance(doc.get(field), str):
            raise BadPayload(f"{field} must be a string")
    alerts = doc.get("alerts")
    if not isinstance(alerts, list) or len(alerts) > MAX_ALERTS:
        raise BadPayload(f"alerts must be a list of at most {MAX_ALERTS}")
    return [_alert(item, index) for index, item in enumerate(alerts)]


def _alert(item: Any, index: int) -> Notified:
    at = f"alerts[{index}]"
    if not isinstance(item, dict):
        raise BadPayload(f"{at} must be an object")
    status, fingerprint = item.get("status"), item.get("fingerprint")
    if status not in ("firing", "resolved"):
        raise BadPayload(f"{at}.status must be firing or resolved")
    if not isinstance(fingerprint, str) or not 1 <= len(fingerprint) <= 64:
        raise BadPayload(f"{at}.fingerprint must be a string of 1 to 64 characters")
    return Notified(
        fingerprint=fingerprint, status=status,
        labels=_strings(item.get("labels"), f"{at}.labels"),
        annotations=_strings(item.get("annotations", {}), f"{at}.annotations"),
        starts_at=_time(item.get("startsAt"), f"{at}.startsAt"),
        generator_url=str(item.get("generatorURL") or "")[:500],
    )  # fmt: skip


def _strings(value: Any, at: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise BadPayload(f"{at} must map strings to strings")
    return {str(k)[:200]: str(v)[:1000] for k, v in value.items()}


def _time(value: Any, at: str) -> datetime:
    if not isinstance(value, str):
        raise BadPayload(f"{at} must be an RFC 3339 time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise BadPayload(f"{at} must be an RFC 3339 time") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
