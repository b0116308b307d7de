"""Environment locks: held, refused, renewed, released, expired; kept in a real SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.clock import FakeClock
from bot.core.deploy.locks import Locks
from bot.core.errors import LockHeld, NotFound, PermissionDenied, UsageError
from bot.store.db import open_store
from bot.store.deploys import SqlLockStore


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def locks(tmp_path: Path, clock: FakeClock) -> Locks:
    return Locks(SqlLockStore(open_store(f"sqlite:///{tmp_path / 'locks.db'}")), clock)


def test_a_lock_refuses_others_with_who_why_and_since(locks: Locks) -> None:
    locks.lock("prod", "U0BOB", "freeze", 3600, "C0OPS")
    with pytest.raises(LockHeld, match=r"locked by <@U0BOB> \(freeze\) since 2026-01-05 09:00"):
        locks.check("prod", "U0ALICE")
    with pytest.raises(LockHeld):
        locks.lock("prod", "U0ALICE", "", None, "C0OPS")
    locks.check("prod", "U0BOB")


def test_only_the_holder_unlocks_and_an_unlocked_env_says_so(locks: Locks) -> None:
    locks.lock("prod", "U0BOB", "", 3600, "C0OPS")
    with pytest.raises(PermissionDenied):
        locks.unlock("prod", "U0ALICE")
    locks.unlock("prod", "U0BOB")
    locks.check("prod", "U0ALICE")
    with pytest.raises(NotFound):
        locks.unlock("prod", "U0BOB")


def test_locks_expire_once_and_free_the_environment(locks: Locks, clock: FakeClock) -> None:
    locks.lock("prod", "U0BOB", "", 60, "C0OPS")
    assert locks.expire() == []
    clock.advance(61)
    locks.check("prod", "U0ALICE")
    expired = locks.expire()
    assert [(lock.env, lock.holder) for lock in expired] == [("prod", "U0BOB")]
    assert locks.expire() == []
    assert locks.in_force() == []


def test_renewing_ones_own_lock_and_the_longest_lock(locks: Locks, clock: FakeClock) -> None:
    first = locks.lock("prod", "U0BOB", "", 60, "C0OPS")
    clock.advance(30)
    again = locks.lock("prod", "U0BOB", "longer", 3600, "C0OPS")
    assert again.expires_at > first.expires_at and again.reason == "longer"
    with pytest.raises(UsageError):
        locks.lock("qa", "U0BOB", "", 30 * 86400, "C0OPS")
