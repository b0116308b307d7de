"""The ports core and the stages talk through; adapters live in integrations/, bot/store/
and bot/slack/. Every outside system gets a Protocol here and a fake or real local
instance in its tests.
"""

from __future__ import annotations

from typing import Protocol

from bot.core.values import AuditEntry, MessageRef, Reply


class AuditLog(Protocol):
    """The append-only record of every command: who, where, what, and how it ended."""

    def append(self, entry: AuditEntry) -> int:
        """Record one entry and return its id. Entries are never removed, and only a
        `pending` outcome is ever changed (once, by settle)."""
        ...

    def settle(self, entry_id: int, outcome: str, detail: str) -> bool:
        """Set the outcome of a pending entry; False when it was settled already."""
        ...

    def latest(self, count: int) -> list[AuditEntry]:
        """The newest `count` entries, newest first."""
        ...


class EventLedger(Protocol):
    """Remembers which Slack deliveries were already handled, across restarts: event ids,
    and slash commands' trigger ids (as `trigger:<id>`)."""

    def claim(self, event_id: str) -> bool:
        """True the first time an id is seen, False for every repeat."""
        ...


class Notifier(Protocol):
    """Speaks in Slack: replies, posts, edits and threads."""

    def respond(self, response_url: str, reply: Reply) -> None:
        """Answer a command or click through its response_url."""
        ...

    def post(
        self,
        channel_id: str,
        reply: Reply,
        thread_ts: str | None = None,
        *,
        broadcast: bool = False,
    ) -> MessageRef:
        """Post a message (in a thread when thread_ts is given; shown in the channel too with
        broadcast) and say where it is."""
        ...

    def update(self, ref: MessageRef, reply: Reply) -> None:
        """Edit a message the bot posted, in place."""
        ...

    def ephemeral(self, channel_id: str, user_id: str, reply: Reply) -> None:
        """Show a message to one user in a channel."""
        ...

    def upload(
        self,
        channel_id: str,
        filename: str,
        content: bytes,
        comment: str,
        thread_ts: str | None = None,
    ) -> None:
        """Share a file in a channel (in a thread when thread_ts is given), with a comment."""
        ...


class Directory(Protocol):
    """Who is who in the Slack workspace."""

    def email(self, user_id: str) -> str | None:
        """The user's e-mail address, when the profile shows one."""
        ...

    def group_members(self, group_id: str) -> frozenset[str]:
        """The user IDs in a user group (S...)."""
        ...
