"""Alertmanager's API v2, for silences created from Slack: POST /api/v2/silences and
DELETE /api/v2/silence/{id}. Every call answers within five seconds or says Alertmanager
did not.

A silence's start and end are compared by Alertmanager with its own clock, so they are read
from this machine's (kept in time as Alertmanager's host is), never from the database's
clock the rest of opsloop tells time by: a database clock ahead would leave a new silence
pending, one behind would end it early."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx

from bot.core.clock import Clock, SystemClock
from bot.core.errors import IntegrationError

TIMEOUT = 5.0


class AlertmanagerSilences:
    """monitor.ports.Silencer on httpx."""

    def __init__(self, url: str, timeout: float = TIMEOUT, clock: Clock | None = None) -> None:
        self._base = url.rstrip("/")
        self._client = httpx.Client(timeout=timeout, trust_env=False)
        self._clock = clock or SystemClock()

    def create(
        self,
        matchers: Sequence[tuple[str, str]],
        lasting: timedelta,
        created_by: str,
        comment: str,
    ) -> str:
        """Create a silence with exact-match matchers, from now for `lasting`; its id."""
        starts = self._clock.now()
        body = {
            "matchers": [
                {"name": name, "value": value, "isRegex": False, "isEqual": True}
                for name, value in matchers
            ],
            "startsAt": _rfc3339(starts),
            "endsAt": _rfc3339(starts + lasting),
            "createdBy": created_by,
            "comment": comment,
        }
        answer = self._call("POST", "/api/v2/silences", body)
        try:
            return str(answer.json()["silenceID"])
        except (ValueError, KeyError, TypeError) as error:
            raise IntegrationError(
                "Alertmanager sent an unreadable answer to a silence."
            ) from error

    def expire(self, silence_id: str) -> None:
        """Expire a silence (one already expired or gone counts as done)."""
        self._call("DELETE", f"/api/v2/silence/{silence_id}", None, ok_missing=True)

    def close(self) -> None:
        """Let go of the connections."""
        self._client.close()

    def _call(
        self, method: str, path: str, body: object, ok_missing: bool = False
    ) -> httpx.Response:
        try:
            answer = self._client.request(method, self._base + path, json=body)
        except httpx.TimeoutException as error:
            raise IntegrationError(
                f"Alertmanager at {self._base} did not answer within {TIMEOUT:g} s; "
                "nothing was silenced or unsilenced."
            ) from error
        except httpx.HTTPError as error:
            raise IntegrationError(
                f"Alertmanager at {self._base} is out of reach ({type(error).__name__}); "
                "nothing was silenced or unsilenced."
            ) from error
        if ok_missing and answer.status_code == 404:
            return answer
        if answer.status_code >= 400:
            said = answer.text.strip()[:200]
            raise IntegrationError(f"Alertmanager refused it (HTTP {answer.status_code}): {said}")
        return answer


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
