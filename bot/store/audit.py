"""The audit log and the event ledger, in the store."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.core.clock import Clock
from bot.core.values import AuditEntry, Outcome
from bot.store.db_clock import db_now
from bot.store.leases import process_beats
from bot.store.tables import audit_log, seen_events

INTERRUPTED_DETAIL = (
    "opsloop stopped before the answer came; the channel or the stage's list shows "
    "whether it happened"
)


class SqlAuditLog:
    """The append-only audit log: no delete, and the one update sets a pending outcome once.
    Entries are written as the process `owner`'s (None: unknown), whose heartbeat row
    (bot.store.leases) tells whether it is still there to settle them."""

    def __init__(self, engine: Engine, owner: str | None = None) -> None:
        self._engine = engine
        self._owner = owner

    def append(self, entry: AuditEntry) -> int:
        """Record one entry and return its id."""
        with self._engine.begin() as connection:
            result = connection.execute(
                insert(audit_log).values(
                    at=entry.at,
                    user_id=entry.user_id,
                    channel_id=entry.channel_id,
                    verb=entry.verb,
                    arguments=entry.arguments,
                    outcome=entry.outcome,
                    detail=entry.detail,
                    owner=self._owner,
                )
            )
        (entry_id,) = result.inserted_primary_key or (0,)
        return int(entry_id)

    def settle(self, entry_id: int, outcome: str, detail: str) -> bool:
        """Set the outcome of a pending entry; False when it was settled already."""
        query = (
            update(audit_log)
            .where(audit_log.c.id == entry_id)
            .where(audit_log.c.outcome == Outcome.PENDING.value)
            .values(outcome=outcome, detail=detail)
        )
        with self._engine.begin() as connection:
            return connection.execute(query).rowcount == 1

    def settle_interrupted(self, before: datetime, ttl: float) -> int:
        """Settle as interrupted the pending entries no process is left to settle: those of
        another process whose heartbeat is older than `ttl` seconds or gone (it stopped,
        whenever it wrote them), and those of an unknown writer from before `before` (when
        this process started). A live process's entries are its own. Returns how many."""
        alive = select(process_beats.c.process_id).where(process_beats.c.seen_at >= db_now(-ttl))
        unknown = audit_log.c.owner.is_(None) & (audit_log.c.at < before)
        gone = audit_log.c.owner.is_not(None) & audit_log.c.owner.not_in(alive)
        if self._owner is not None:
            gone &= audit_log.c.owner != self._owner
        query = (
            update(audit_log)
            .where(audit_log.c.outcome == Outcome.PENDING.value, or_(unknown, gone))
            .values(outcome=Outcome.INTERRUPTED.value, detail=INTERRUPTED_DETAIL)
        )
        with self._engine.begin() as connection:
            return int(connection.execute(query).rowcount)

    def latest(self, count: int) -> list[AuditEntry]:
        """The newest `count` entries, newest first."""
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(count)
        with self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [
            AuditEntry(
                id=row["id"],
                at=row["at"],
                user_id=row["user_id"],
                channel_id=row["channel_id"],
                verb=row["verb"],
                arguments=row["arguments"],
                outcome=row["outcome"],
                detail=row["detail"],
            )
            for row in rows
        ]


class SqlEventLedger:
    """Slack event ids (and slash commands' trigger ids) already handled; the primary key
    makes a claim atomic, also between processes sharing the store."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def claim(self, event_id: str) -> bool:
        """True the first time, False for a retry or a duplicate, even after a restart."""
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    insert(seen_events).values(event_id=event_id, seen_at=self._clock.now())
                )
        except IntegrityError:
            return False
        return True
