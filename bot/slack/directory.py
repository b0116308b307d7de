"""The Directory port on the Web API: users.info and usergroups.users.list, cached briefly
so an approval burst does not spend Slack's rate limit."""

from __future__ import annotations

import threading
from typing import TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core.clock import Clock
from bot.core.errors import IntegrationError

CACHE_SECONDS = 60.0
_T = TypeVar("_T")


class SlackDirectory:
    """Looks people and user groups up in the workspace."""

    def __init__(self, client: WebClient, clock: Clock) -> None:
        self._client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._emails: dict[str, tuple[float, str | None]] = {}
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}

    def email(self, user_id: str) -> str | None:
        """users.info's profile.email (needs users:read.email)."""
        cached = self._cached(self._emails, user_id)
        if cached is not None:
            return cached[1]
        try:
            profile = self._client.users_info(user=user_id)["user"]["profile"]
        except SlackApiError as error:
            raise IntegrationError(
                f"Slack could not look up <@{user_id}>: {_code(error)}."
            ) from error
        email = profile.get("email") or None
        with self._lock:
            self._emails[user_id] = (self._clock.monotonic(), email)
        return email

    def group_members(self, group_id: str) -> frozenset[str]:
        """usergroups.users.list's members."""
        cached = self._cached(self._groups, group_id)
        if cached is not None:
            return cached[1]
        try:
            users = self._client.usergroups_users_list(usergroup=group_id)["users"]
        except SlackApiError as error:
            raise IntegrationError(
                f"Slack could not list group {group_id}: {_code(error)}."
            ) from error
        members = frozenset(str(user) for user in users)
        with self._lock:
            self._groups[group_id] = (self._clock.monotonic(), members)
        return members

    def _cached(self, table: dict[str, tuple[float, _T]], key: str) -> tuple[float, _T] | None:
        with self._lock:
            entry = table.get(key)
        if entry is None or self._clock.monotonic() - entry[0] > CACHE_SECONDS:
            return None
        return entry


def _code(error: SlackApiError) -> str:
    return str(error.response.get("error", "error"))
