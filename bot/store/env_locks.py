"""Environment locks in the store: one row per locked environment.

Taking a lock is delete-what-may-be-replaced then insert, in one transaction; the primary
key on `env` is what makes two people asking at once end with one holder.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Engine, String, Table, Text, delete, insert, or_, select
from sqlalchemy.exc import IntegrityError

from bot.core.deploy.locks import EnvLock
from bot.core.leases import CurrentLease
from bot.store.fencing import check_lease
from bot.store.tables import metadata

env_locks = Table(
    "env_locks",
    metadata,
    Column("env", String(64), primary_key=True),
    Column("holder", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("channel_id", String(32), nullable=False),
)


class SqlLockStore:
    """bot.core.deploy.locks.LockStore on SQLAlchemy."""

    def __init__(self, engine: Engine, fence: CurrentLease | None = None) -> None:
        self._engine = engine
        self._fence = fence
        """With a fence, only the holder of the singletons' lease expires locks (the
        sweeper's work): take_expired in another process, or after the lease was lost,
        takes none (LeaseLost, nothing deleted, so no holder is told twice)."""

    def acquire(self, lock: EnvLock, now: datetime) -> EnvLock:
        """Take the lock when it is free, expired or already `lock.holder`'s."""
        with self._engine.begin() as connection:
            connection.execute(
                delete(env_locks).where(
                    env_locks.c.env == lock.env,
                    or_(env_locks.c.holder == lock.holder, env_locks.c.expires_at <= now),
                )
            )
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(env_locks).values(
                            env=lock.env, holder=lock.holder, reason=lock.reason,
                            since=lock.since, expires_at=lock.expires_at,
                            channel_id=lock.channel_id,
                        )
                    )  # fmt: skip
            except IntegrityError:
                pass
        held = self.get(lock.env)
        assert held is not None
        return held

    def get(self, env: str) -> EnvLock | None:
        """The lock on `env`."""
        with self._engine.connect() as connection:
            row = connection.execute(
                select(env_locks).where(env_locks.c.env == env)
            ).mappings().first()  # fmt: skip
        return None if row is None else _lock(row)

    def release(self, env: str, holder: str) -> bool:
        """Delete `holder`'s lock on `env`."""
        with self._engine.begin() as connection:
            result = connection.execute(
                delete(env_locks).where(env_locks.c.env == env, env_locks.c.holder == holder)
            )
        return result.rowcount == 1

    def all(self) -> list[EnvLock]:
        """Every lock."""
        with self._engine.connect() as connection:
            rows = connection.execute(select(env_locks).order_by(env_locks.c.env)).mappings()
            return [_lock(row) for row in rows]

    def take_expired(self, now: datetime) -> list[EnvLock]:
        """Delete and return the expired locks; a lock deleted by another sweep is skipped."""
        taken: list[EnvLock] = []
        with self._engine.begin() as connection:
            if self._fence is not None:
                check_lease(connection, self._fence())
            rows = connection.execute(
                select(env_locks).where(env_locks.c.expires_at <= now)
            ).mappings().all()  # fmt: skip
            for row in rows:
                gone = connection.execute(
                    delete(env_locks).where(
                        env_locks.c.env == row["env"], env_locks.c.since == row["since"]
                    )
                )
                if gone.rowcount == 1:
                    taken.append(_lock(row))
        return taken


def as_utc(value: datetime) -> datetime:
    """The stored time with its zone (SQLite hands it back without; everything is UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _lock(row: Any) -> EnvLock:
    return EnvLock(
        env=row["env"],
        holder=row["holder"],
        reason=row["reason"],
        since=as_utc(row["since"]),
        expires_at=as_utc(row["expires_at"]),
        channel_id=row["channel_id"],
    )
