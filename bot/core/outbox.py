"""The outbox: messages that must reach Slack once, whatever Slack is doing at the moment.

A caller records the message in the store and goes on at once; the courier
(bot/core/delivery.py) posts it when Slack takes it, in order per channel, also after a
restart. A posted message keeps the ts Slack gave it, so later edits can target it.

A row moves pending → posting → sent, or → failed (Slack refused it for good), or
→ unknown (a process died during the Slack call: the message may or may not be in Slack,
and it is never sent again). See the README's Design section for why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from bot.core.clock import Clock
from bot.core.errors import NotFound
from bot.core.values import MessageRef, Reply


class Delivery(StrEnum):
    """Where a message is on its way to Slack."""

    PENDING = "pending"
    """Waits for its turn in its channel (and for a retry time after a failed try)."""
    POSTING = "posting"
    """Claimed by one process, whose Slack call is under way."""
    SENT = "sent"
    """Slack took it; the row holds its ts."""
    FAILED = "failed"
    """Slack refused it for a reason trying again cannot fix (e.g. channel_not_found)."""
    UNKNOWN = "unknown"
    """The process posting it died during the call: never sent again."""

    @property
    def open(self) -> bool:
        """Still to be settled: it holds up the messages after it in its channel."""
        return self in (Delivery.PENDING, Delivery.POSTING)


class Action(StrEnum):
    """What delivering a row does in Slack."""

    POST = "post"
    EDIT = "edit"


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to record. An edit names the outbox row of the message it changes."""

    action: Action
    channel_id: str
    reply: Reply
    enqueued_at: datetime
    thread_ts: str | None = None
    target_id: int | None = None
    key: str | None = None
    """Recording a second message with the same key records nothing (idempotent callers)."""
    thread_of: int | None = None
    """A post in the thread of this outbox message, whose ts is known once it was posted."""
    broadcast: bool = False
    """A thread reply also shown in the channel."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A recorded message and how far its delivery got."""

    id: int
    action: Action
    channel_id: str
    reply: Reply
    state: Delivery
    enqueued_at: datetime
    not_before: datetime
    attempts: int
    thread_ts: str | None = None
    target_id: int | None = None
    key: str | None = None
    ts: str | None = None
    """The ts of the message in Slack, once sent (an edit's is its target's)."""
    posted_at: datetime | None = None
    error: str = ""
    thread_of: int | None = None
    broadcast: bool = False


@dataclass(frozen=True, slots=True)
class Lane:
    """One channel's queue as the courier sees it: its oldest open message, and when the
    channel last got a message from the outbox (for the pace of one a second)."""

    head: Outgoing
    last_posted_at: datetime | None


class OutboxStore(Protocol):
    """The outbox's rows. Every change of state is a conditional update, so two processes
    on one database never deliver a row twice."""

    def add(self, message: NewMessage) -> int:
        """Record a pending message and return its id; with a key already recorded, the
        id of that message, and nothing new."""
        ...

    def get(self, message_id: int) -> Outgoing | None:
        """The row, or None."""
        ...

    def by_key(self, key: str) -> Outgoing | None:
        """The row recorded under `key`, or None."""
        ...

    def fold(self, target_id: int, reply: Reply) -> int | None:
        """Give the newest content to an edit of `target_id` still pending (not claimed
        yet) and return its id; None when there is none."""
        ...

    def lanes(self) -> list[Lane]:
        """Every channel with open messages, each with its oldest open one."""
        ...

    def claim(self, message_id: int, worker: str, now: datetime, spacing: timedelta) -> bool:
        """pending → posting for `worker`, only when the row is due at `now`, nothing older
        is open in its channel and the channel got no message within `spacing`. True when
        this call made the change."""
        ...

    def delivered(self, message_id: int, ts: str, now: datetime) -> None:
        """posting → sent, with the message's ts."""
        ...

    def postpone(self, message_id: int, not_before: datetime, error: str) -> None:
        """posting → pending, to be tried again at `not_before`."""
        ...

    def fail(self, message_id: int, error: str) -> None:
        """posting → failed, with Slack's reason."""
        ...

    def abandon(self, claimed_before: datetime) -> list[Outgoing]:
        """posting → unknown for rows claimed before `claimed_before` (their process died
        mid-call); returns them."""
        ...


class Outbox:
    """What the stages use to speak in a channel without waiting on Slack."""

    def __init__(
        self, store: OutboxStore, clock: Clock, on_record: Callable[[], None] = lambda: None
    ) -> None:
        self._store = store
        self._clock = clock
        self._on_record = on_record

    def post(
        self,
        channel_id: str,
        reply: Reply,
        thread_ts: str | None = None,
        key: str | None = None,
        *,
        thread_of: int | None = None,
        broadcast: bool = False,
    ) -> int:
        """Record a message for `channel_id` (in a thread when thread_ts is given) and
        return its outbox id at once; the courier posts it. With `key`, a message recorded
        before under the same key is not recorded again (its id is returned).

        `thread_of` puts it in the thread of another outbox message of the same channel,
        whose ts need not be known yet: it is posted after that one (channel order), and
        fails when that one never got posted. `broadcast` shows a thread reply in the
        channel too."""
        if thread_of is not None:
            parent = self._store.get(thread_of)
            if parent is None or parent.channel_id != channel_id:
                raise NotFound(f"There is no outbox message {thread_of} in {channel_id}.")
        message = NewMessage(
            Action.POST, channel_id, reply, self._clock.now(), thread_ts=thread_ts, key=key,
            thread_of=thread_of, broadcast=broadcast,
        )  # fmt: skip
        return self._record(message)

    def reply(
        self, parent_id: int, reply: Reply, key: str | None = None, *, broadcast: bool = False
    ) -> int:
        """Record a reply in the thread of the outbox message `parent_id`, in its channel
        (see post's `thread_of`). Raises NotFound for an unknown id."""
        parent = self._store.get(parent_id)
        if parent is None:
            raise NotFound(f"There is no outbox message {parent_id}.")
        return self.post(parent.channel_id, reply, key=key, thread_of=parent_id,
                         broadcast=broadcast)  # fmt: skip

    def edit(self, message_id: int, reply: Reply, key: str | None = None) -> int:
        """Record an edit of the outbox message `message_id`; it lands after that message
        is posted (in channel order). An edit of a message that never got posted fails.
        Without a key, an edit of the same message still waiting its turn takes the new
        content instead (a burst of edits lands as one, with the newest content).
        Raises NotFound for an unknown id."""
        target = self._store.get(message_id)
        if target is None:
            raise NotFound(f"There is no outbox message {message_id}.")
        if key is None and (folded := self._store.fold(message_id, reply)) is not None:
            self._on_record()
            return folded
        message = NewMessage(
            Action.EDIT, target.channel_id, reply, self._clock.now(),
            target_id=message_id, key=key,
        )  # fmt: skip
        return self._record(message)

    def ref(self, message_id: int) -> MessageRef | None:
        """Where the message is in Slack, once it was posted; None before (or never)."""
        found = self._store.get(message_id)
        if found is None or found.state is not Delivery.SENT or not found.ts:
            return None
        return MessageRef(found.channel_id, found.ts)

    def find(self, key: str) -> int | None:
        """The id of the message recorded under `key`, or None."""
        found = self._store.by_key(key)
        return None if found is None else found.id

    def state(self, message_id: int) -> Delivery | None:
        """How far the message got, or None for an unknown id."""
        found = self._store.get(message_id)
        return None if found is None else found.state

    def _record(self, message: NewMessage) -> int:
        message_id = self._store.add(message)
        self._on_record()
        return message_id
