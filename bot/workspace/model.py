"""Data kept by the local Slack workspace, and how each piece looks on the wire."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TEAM_ID = "T0OPSLOOP"
TEAM_NAME = "opsloop-sandbox"
TEAM_DOMAIN = "opsloop-sandbox"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
APP_ID = "A0OPSLOOP"
BOT_NAME = "opsloop"
# A fixed date keeps seeded objects (created/updated fields) identical from run to run.
SEED_EPOCH = 1700000000

JsonDict = dict[str, Any]


class SlackError(Exception):
    """A Slack ``ok: false`` outcome; ``code`` is the ``error`` string Slack would send.

    ``messages`` become ``response_metadata.messages`` (Slack's "[ERROR] ..." hints).
    """

    def __init__(self, code: str, messages: list[str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.messages = list(messages or [])


@dataclass
class User:
    """A workspace member; ``email`` appears as ``profile.email`` in users.info."""

    id: str
    name: str
    real_name: str
    email: str | None = None
    is_bot: bool = False
    bot_id: str | None = None
    is_admin: bool = False
    title: str = ""
    tz: str = "Europe/London"
    deleted: bool = False


@dataclass
class Channel:
    """A public (or private) channel, or (``im_user`` set) the app's direct messages with
    that person; ``members`` lists user ids, the bot included."""

    id: str
    name: str
    members: list[str] = field(default_factory=list)
    is_private: bool = False
    is_general: bool = False
    topic: str = ""
    purpose: str = ""
    created: int = SEED_EPOCH
    im_user: str = ""


@dataclass
class Usergroup:
    """A user group (``S...`` id, ``@handle``) and its member user ids."""

    id: str
    handle: str
    name: str
    users: list[str] = field(default_factory=list)


@dataclass
class Edit:
    """One chat.update (or response_url replace): the content after that edit."""

    at: float
    text: str
    blocks: list[JsonDict] | None


@dataclass
class Message:
    """A channel message or thread reply.

    ``thread_ts`` is set on replies (parent's ts) and on parents that have replies.
    ``reactions`` maps emoji name to the user ids who reacted, in order.
    ``edits`` holds every in-place edit, oldest first (``edit_count`` is its length).
    """

    ts: str
    channel: str
    text: str
    user: str
    bot_id: str | None = None
    blocks: list[JsonDict] | None = None
    attachments: list[JsonDict] | None = None
    thread_ts: str | None = None
    parent_user: str | None = None
    subtype: str | None = None
    reply_broadcast: bool = False
    replies: list[str] = field(default_factory=list)
    reply_users: list[str] = field(default_factory=list)
    reactions: dict[str, list[str]] = field(default_factory=dict)
    edits: list[Edit] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    source: str = "chat.postMessage"

    @property
    def is_bot(self) -> bool:
        """True when the bot posted this message."""
        return self.bot_id is not None

    @property
    def is_reply(self) -> bool:
        """True for a thread reply (not the parent)."""
        return self.thread_ts is not None and self.thread_ts != self.ts

    @property
    def edit_count(self) -> int:
        """How many times the message was edited in place."""
        return len(self.edits)

    @property
    def reply_count(self) -> int:
        """Number of thread replies under this message."""
        return len(self.replies)


@dataclass
class Ephemeral:
    """A message only ``user`` can see in ``channel`` (never in history)."""

    ts: str
    channel: str
    user: str
    text: str
    blocks: list[JsonDict] | None = None
    thread_ts: str | None = None
    source: str = "chat.postEphemeral"
    edits: list[Edit] = field(default_factory=list)
    deleted: bool = False

    @property
    def edit_count(self) -> int:
        """How many times the ephemeral message was replaced in place."""
        return len(self.edits)


@dataclass
class UploadedFile:
    """A file uploaded through files.getUploadURLExternal / completeUploadExternal."""

    id: str
    filename: str
    length: int
    user: str
    created: int
    title: str = ""
    content: bytes | None = None
    channels: list[str] = field(default_factory=list)
    completed: bool = False


@dataclass
class ResponseTarget:
    """What a response_url is bound to: the channel, the invoking user, and the
    message a ``replace_original`` / ``delete_original`` acts on (if any)."""

    id: str
    channel: str
    user: str
    original_ts: str | None = None
    original_ephemeral: bool = False
    uses: int = 0
