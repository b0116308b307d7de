"""The outbox in the store: one row per message (or edit) on its way to Slack.

Each change of a row's state is one conditional UPDATE; the claim also checks, in the same
statement, that nothing older is open in the row's channel and that the channel got no
message within the pacing interval. Two processes on one database may both try to claim a
row: one update matches, the other changes nothing.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from bot.core.outbox import Action, Delivery, Lane, NewMessage, Outgoing
from bot.core.values import Reply
from bot.store.tables import as_utc, metadata

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=True, unique=True),
    Column("action", String(8), nullable=False),
    Column("channel_id", String(32), nullable=False),
    Column("thread_ts", String(32), nullable=True),
    Column("target_id", Integer, nullable=True),
    Column("text", Text, nullable=False),
    Column("blocks", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("enqueued_at", DateTime(timezone=True), nullable=False),
    Column("not_before", DateTime(timezone=True), nullable=False),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_at", DateTime(timezone=True), nullable=True),
    Column("posted_at", DateTime(timezone=True), nullable=True),
    Column("ts", String(32), nullable=True),
    Column("error", Text, nullable=False),
    Column("thread_of", Integer, nullable=True),
    Column("broadcast", Boolean, nullable=False, server_default=false()),
    Index("ix_outbox_channel_state", "channel_id", "state"),
    Index("ix_outbox_state", "state"),
)

_OPEN = (Delivery.PENDING.value, Delivery.POSTING.value)


class SqlOutboxStore:
    """bot.core.outbox.OutboxStore on SQLAlchemy (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, message: NewMessage) -> int:
        """Insert a pending row; a key taken already gives the existing row's id."""
        values = {
            "key": message.key, "action": message.action.value,
            "channel_id": message.channel_id, "thread_ts": message.thread_ts,
            "target_id": message.target_id, "text": message.reply.text,
            "blocks": json.dumps(list(message.reply.blocks)), "state": Delivery.PENDING.value,
            "attempts": 0, "enqueued_at": message.enqueued_at,
            "not_before": message.enqueued_at, "error": "", "thread_of": message.thread_of,
            "broadcast": message.broadcast,
        }  # fmt: skip
        with self._engine.begin() as connection:
            try:
                with connection.begin_nested():
                    result = connection.execute(insert(outbox).values(**values))
                    key = result.inserted_primary_key
                    assert key is not None
                    return int(key[0])
            except IntegrityError:
                if message.key is None:
                    raise
            found = connection.execute(
                select(outbox.c.id).where(outbox.c.key == message.key)
            ).scalar_one()  # fmt: skip
            return int(found)

    def get(self, message_id: int) -> Outgoing | None:
        """The row, or None."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(outbox).where(outbox.c.id == message_id)
            ).mappings().first()  # fmt: skip
        return None if row is None else _outgoing(row)

    def by_key(self, key: str) -> Outgoing | None:
        """The row recorded under `key`, or None."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(outbox).where(outbox.c.key == key)
            ).mappings().first()  # fmt: skip
        return None if row is None else _outgoing(row)

    def fold(self, target_id: int, reply: Reply) -> int | None:
        """The newest pending edit of `target_id` takes `reply`; its id, or None. A row the
        courier claimed meanwhile is not pending any more, so it is never changed mid-call."""
        with self._engine.begin() as connection:
            pending = connection.execute(
                select(func.max(outbox.c.id))
                .where(outbox.c.target_id == target_id)
                .where(outbox.c.action == Action.EDIT.value)
                .where(outbox.c.state == Delivery.PENDING.value)
            ).scalar()  # fmt: skip
            if pending is None:
                return None
            result = connection.execute(
                update(outbox)
                .where(outbox.c.id == pending)
                .where(outbox.c.state == Delivery.PENDING.value)
                .values(text=reply.text, blocks=json.dumps(list(reply.blocks)))
            )
        return int(pending) if result.rowcount == 1 else None

    def lanes(self) -> list[Lane]:
        """Each channel's oldest open row, with the channel's latest post time."""
        heads = (
            select(func.min(outbox.c.id))
            .where(outbox.c.state.in_(_OPEN))
            .group_by(outbox.c.channel_id)
            .scalar_subquery()
        )
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(outbox).where(outbox.c.id.in_(heads)).order_by(outbox.c.id)
            ).mappings().all()  # fmt: skip
            channels = [row["channel_id"] for row in rows]
            latest = dict(
                connection.execute(
                    select(outbox.c.channel_id, func.max(outbox.c.posted_at))
                    .where(outbox.c.channel_id.in_(channels))
                    .group_by(outbox.c.channel_id)
                ).all()
            )
        return [Lane(_outgoing(row), as_utc(latest.get(row["channel_id"]))) for row in rows]

    def claim(self, message_id: int, worker: str, now: datetime, spacing: timedelta) -> bool:
        """pending → posting, when due, first in its channel, and the channel is not paced."""
        other = outbox.alias("other")
        older_open = (
            select(other.c.id)
            .where(other.c.channel_id == outbox.c.channel_id)
            .where(other.c.id < outbox.c.id)
            .where(other.c.state.in_(_OPEN))
            .exists()
        )
        too_soon = (
            select(other.c.id)
            .where(other.c.channel_id == outbox.c.channel_id)
            .where(other.c.posted_at > now - spacing)
            .exists()
        )
        with self._engine.begin() as connection:
            result = connection.execute(
                update(outbox)
                .where(outbox.c.id == message_id)
                .where(outbox.c.state == Delivery.PENDING.value)
                .where(outbox.c.not_before <= now)
                .where(~older_open)
                .where(~too_soon)
                .values(
                    state=Delivery.POSTING.value,
                    claimed_by=worker,
                    claimed_at=now,
                    attempts=outbox.c.attempts + 1,
                )
            )
        return result.rowcount == 1

    def delivered(self, message_id: int, ts: str, now: datetime) -> None:
        """→ sent with its ts. Also from unknown: a call slower than the abandon time that
        did land is recorded as what it is."""
        opened = (Delivery.POSTING.value, Delivery.UNKNOWN.value)
        self._move(message_id, opened, state=Delivery.SENT.value, ts=ts, posted_at=now, error="")

    def postpone(self, message_id: int, not_before: datetime, error: str) -> None:
        """posting → pending, due again at `not_before`."""
        self._move(
            message_id, (Delivery.POSTING.value,), state=Delivery.PENDING.value,
            not_before=not_before, error=error,
        )  # fmt: skip

    def fail(self, message_id: int, error: str) -> None:
        """posting → failed."""
        self._move(message_id, (Delivery.POSTING.value,), state=Delivery.FAILED.value, error=error)

    def abandon(self, claimed_before: datetime) -> list[Outgoing]:
        """posting → unknown for claims older than `claimed_before`."""
        gone: list[Outgoing] = []
        with self._engine.begin() as connection:
            rows = connection.execute(
                select(outbox)
                .where(outbox.c.state == Delivery.POSTING.value)
                .where(outbox.c.claimed_at < claimed_before)
            ).mappings().all()  # fmt: skip
            for row in rows:
                result = connection.execute(
                    update(outbox)
                    .where(outbox.c.id == row["id"])
                    .where(outbox.c.state == Delivery.POSTING.value)
                    .where(outbox.c.claimed_at == row["claimed_at"])
                    .values(
                        state=Delivery.UNKNOWN.value,
                        error="the process posting it stopped during the Slack call",
                    )
                )
                if result.rowcount == 1:
                    gone.append(_outgoing(row))
        return gone

    def _move(self, message_id: int, sources: tuple[str, ...], **values: Any) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                update(outbox)
                .where(outbox.c.id == message_id)
                .where(outbox.c.state.in_(sources))
                .values(**values)
            )


def _outgoing(row: Any) -> Outgoing:
    return Outgoing(
        id=int(row["id"]),
        action=Action(row["action"]),
        channel_id=row["channel_id"],
        reply=Reply(text=row["text"], blocks=tuple(json.loads(row["blocks"]))),
        state=Delivery(row["state"]),
        enqueued_at=as_utc(row["enqueued_at"]),
        not_before=as_utc(row["not_before"]),
        attempts=int(row["attempts"]),
        thread_ts=row["thread_ts"],
        target_id=row["target_id"],
        key=row["key"],
        ts=row["ts"],
        posted_at=as_utc(row["posted_at"]),
        error=row["error"],
        thread_of=row["thread_of"],
        broadcast=bool(row["broadcast"]),
    )
