"""The typed values that cross from the Slack edge into opsloop, and back out.

Handlers receive an Invocation, a Reaction or a Click and return a Reply; they never see
a Slack payload dictionary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

Block = dict[str, Any]
"""One Block Kit block, as Slack's JSON."""


@dataclass(frozen=True, slots=True)
class SlashCommand:
    """A slash command as Slack sent it, before the router parses it."""

    command: str
    text: str
    user_id: str
    channel_id: str
    team_id: str
    response_url: str
    trigger_id: str = ""


@dataclass(frozen=True, slots=True)
class Invocation:
    """A parsed command: `/deploy web 1.2.0 prod` and `/ops deploy web 1.2.0 prod` alike.

    `args` holds the declared positional arguments by name (optional ones that were not
    given are absent; a trailing free-text argument holds its words joined by spaces), and
    `options` the `--flag` values (`True` for flags that take no value).
    """

    verb: str
    args: Mapping[str, str]
    options: Mapping[str, str | bool]
    user_id: str
    channel_id: str
    team_id: str
    response_url: str
    text: str
    command: str
    settle: Settle = field(default=lambda _outcome, _detail: None, compare=False, repr=False)
    """Records how a command whose answer follows later ended (see Reply.follows)."""

    def arg(self, name: str) -> str:
        """A required argument's value."""
        return self.args[name]

    def opt(self, name: str) -> str | None:
        """An optional argument's or a valued option's value, or None."""
        value = self.args.get(name, self.options.get(name))
        return value if isinstance(value, str) else None

    def flag(self, name: str) -> bool:
        """Whether a `--name` flag was given."""
        return self.options.get(name) is True

    def words(self, name: str) -> list[str]:
        """A free-text argument's words (none when it was not given)."""
        return (self.opt(name) or "").split()


@dataclass(frozen=True, slots=True)
class Reaction:
    """A user added or removed an emoji reaction on a message."""

    event_id: str
    user_id: str
    name: str
    channel_id: str
    message_ts: str
    added: bool
    event_ts: str = ""
    """When Slack stamped the event (`1700000000.123456`); orders events handled out of order."""

    @property
    def base_name(self) -> str:
        """The reaction without its skin tone: `+1::skin-tone-3` is `+1`."""
        return self.name.split("::", 1)[0]


@dataclass(frozen=True, slots=True)
class Click:
    """A user clicked a button on one of the bot's messages."""

    action_id: str
    value: str
    user_id: str
    channel_id: str
    message_ts: str
    response_url: str


@dataclass(frozen=True, slots=True)
class Reply:
    """What the bot says back. Ephemeral (only the caller sees it) unless `public`."""

    text: str
    blocks: tuple[Block, ...] = ()
    public: bool = False
    follows: bool = False
    """The real answer follows later (through the response_url): until then the command's
    outcome is pending, and whoever sends that answer settles it."""
    replace: bool = False
    """Through a click's response_url: edit the clicked message in place (Slack's
    replace_original) instead of adding a new one."""
    said: bool = False
    """Already sent through the response_url by the work that made it (to land before
    what the work posts next): the outcome is settled, nothing more is sent."""


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Where a message the bot posted lives, so it can be edited or threaded under."""

    channel_id: str
    ts: str


class Outcome(StrEnum):
    """How one handled request ended, as the audit log and the metrics record it."""

    OK = "ok"
    PENDING = "pending"
    USAGE = "usage"
    NOT_FOUND = "not_found"
    DENIED = "denied"
    NOT_AVAILABLE = "not_available"
    CONFLICT = "conflict"
    INTEGRATION_ERROR = "integration_error"
    ERROR = "error"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    """Still pending when opsloop stopped: settled so at the next start."""


Settle = Callable[[Outcome, str], None]
"""Records the outcome (and a detail line) of a command whose answer came later."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the append-only audit log."""

    at: datetime
    user_id: str
    channel_id: str
    verb: str
    arguments: str
    outcome: str
    detail: str = ""
    id: int | None = field(default=None, compare=False)
