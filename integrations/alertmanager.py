"""Alertmanager's API v2, for silences created from Slack: POST /api/v2/silences and
DELETE /api/v2/silence/{id}. Every call answers within five seconds or says Alertmanager
did not."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import httpx

from bot.core.errors import IntegrationError

TIMEOUT = 5.0


class AlertmanagerSilences:
    """monitor.ports.Silencer on httpx."""

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        self._base = url.rstrip("/")
        self._client = httpx.Client(timeout=timeout, trust_env=False)

    def create(
        self,
        matchers: Sequence[tuple[str, str]],
        until: datetime,
        created_by: str,
        comment: str,
        starts: datetime,
    ) -> str:
        """Create a silence with exact-match matchers; its id."""
        body = {
            "matchers": [
                {"name": name, "value": value, "isRegex": False, "isEqual": True}
                for name, value in matchers
            ],
            "startsAt": _rfc3339(starts),
            "endsAt": _rfc3339(until),
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
