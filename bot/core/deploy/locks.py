"""Environment locks: while someone holds one, only they can deploy there.

Locks always expire (so a forgotten lock cannot block a team for good); the holder is told
when theirs does. They fail closed: a deploy is refused unless the store says the
environment is free or held by the deployer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from bot.core.blocks import escape
from bot.core.clock import Clock
from bot.core.errors import LockHeld, NotFound, PermissionDenied, UsageError

DEFAULT_LOCK_SECONDS = 4 * 3600
MAX_LOCK_SECONDS = 7 * 86400


@dataclass(frozen=True, slots=True)
class EnvLock:
    """Who holds an environment, why, since and until when, and where they asked."""

    env: str
    holder: str
    reason: str
    since: datetime
    expires_at: datetime
    channel_id: str


class LockStore(Protocol):
    """The locks, kept across restarts."""

    def acquire(self, lock: EnvLock, now: datetime) -> EnvLock:
        """Take or renew the lock; returns the lock now in force, which is someone else's
        when they hold an unexpired one."""
        ...

    def get(self, env: str) -> EnvLock | None:
        """The lock on `env`, expired or not."""
        ...

    def release(self, env: str, holder: str) -> bool:
        """Remove `holder`'s lock on `env`; False when they held none."""
        ...

    def all(self) -> list[EnvLock]:
        """Every lock, by environment."""
        ...

    def take_expired(self, now: datetime) -> list[EnvLock]:
        """Remove the locks that expired by `now` and return them (each only once)."""
        ...


class Locks:
    """The lock rules, over a store and a clock."""

    def __init__(self, store: LockStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def lock(self, env: str, user: str, reason: str, seconds: int | None, channel: str) -> EnvLock:
        """Lock `env` for `user` (renewing their own lock); LockHeld when someone else has it."""
        duration = DEFAULT_LOCK_SECONDS if seconds is None else seconds
        if duration > MAX_LOCK_SECONDS:
            raise UsageError("A lock lasts at most 7 days (`--for 7d`).")
        now = self._clock.now()
        wanted = EnvLock(env, user, reason, now, now + timedelta(seconds=duration), channel)
        held = self._store.acquire(wanted, now)
        if held.holder != user:
            raise LockHeld(describe_refusal(held))
        return held

    def unlock(self, env: str, user: str, *, force: bool = False, admin: bool = False) -> EnvLock:
        """Release the lock on `env` and return it: the holder's own, or anyone's with
        `force` by an admin. NotFound when `env` is not locked, PermissionDenied otherwise."""
        current = self.active(env)
        if current is None:
            raise NotFound(f"`{env}` is not locked.")
        if force and not admin:
            raise PermissionDenied(
                "`/unlock --force` needs the role `admins` (access.roles in opsloop.yml)."
            )
        if current.holder != user and not force:
            raise PermissionDenied(
                f"`{env}` is locked by <@{current.holder}>; only they can unlock it "
                f"(it expires {stamp(current.expires_at)}), or an admin with `--force`."
            )
        self._store.release(env, current.holder)
        return current

    def active(self, env: str) -> EnvLock | None:
        """The unexpired lock on `env`, if any."""
        current = self._store.get(env)
        if current is None or current.expires_at <= self._clock.now():
            return None
        return current

    def in_force(self) -> list[EnvLock]:
        """Every unexpired lock."""
        now = self._clock.now()
        return [lock for lock in self._store.all() if lock.expires_at > now]

    def blocking(self, env: str, user: str) -> EnvLock | None:
        """The lock that stops `user` deploying to `env`, if any."""
        current = self.active(env)
        return current if current is not None and current.holder != user else None

    def check(self, env: str, user: str) -> None:
        """LockHeld when `env` is locked by someone other than `user`."""
        held = self.blocking(env, user)
        if held is not None:
            raise LockHeld(describe_refusal(held))

    def expire(self) -> list[EnvLock]:
        """Remove the locks that ran out and return them, so their holders can be told."""
        return self._store.take_expired(self._clock.now())


def stamp(when: datetime) -> str:
    """`2026-01-05 09:00 UTC`."""
    return when.strftime("%Y-%m-%d %H:%M UTC")


def describe_refusal(lock: EnvLock) -> str:
    """Why a deploy or a lock was refused: who holds the environment, why, since when.
    The reason is shown as typed, never as a mention or a link."""
    why = f" ({escape(lock.reason)})" if lock.reason else ""
    return (
        f"`{lock.env}` is locked by <@{lock.holder}>{why} since {stamp(lock.since)}, "
        f"until {stamp(lock.expires_at)}."
    )
