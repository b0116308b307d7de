"""DatabaseClock on a real database: a process whose machine clock is off tells time by the
database's once it has read it, so a lock (or an approval request) taken in one process is
not expired early by a lease holder whose clock runs ahead."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.exc import SQLAlchemyError

from bot.core.deploy.locks import Locks
from bot.store.db import open_store
from bot.store.db_clock import DatabaseClock, db_now
from bot.store.env_locks import SqlLockStore
from bot.store.tables import as_utc

AHEAD = timedelta(hours=2)


class Skewed:
    """A machine clock that is `by` off the true time."""

    def __init__(self, by: timedelta) -> None:
        self.by = by

    def now(self) -> datetime:
        return datetime.now(UTC) + self.by

    def monotonic(self) -> float:
        return time.monotonic()


def test_once_synced_a_process_whose_clock_runs_ahead_reads_the_databases_time(
    database_url: str,
) -> None:
    engine = open_store(database_url)
    clock = DatabaseClock(engine, Skewed(AHEAD))
    unsynced = clock.now()
    clock.sync()
    synced = clock.now()
    with engine.connect() as connection:
        database = as_utc(connection.execute(select(db_now())).scalar_one())
    engine.dispose()
    assert unsynced - datetime.now(UTC) > AHEAD - timedelta(minutes=1)  # the machine's, at first
    assert abs(synced - database) < timedelta(seconds=1)
    assert abs(clock.offset + AHEAD) < timedelta(seconds=1)


def test_a_lock_is_not_expired_early_by_a_lease_holder_whose_clock_runs_ahead(
    database_url: str,
) -> None:
    engines = open_store(database_url), open_store(database_url)
    asker, holder = DatabaseClock(engines[0]), DatabaseClock(engines[1], Skewed(AHEAD))
    for clock in (asker, holder):
        clock.sync()
    Locks(SqlLockStore(engines[0]), asker).lock("prod", "U0BOB", "freeze", 3600, "C0OPS")
    swept = Locks(SqlLockStore(engines[1]), holder).expire()
    kept = SqlLockStore(engines[1]).get("prod")
    # The same sweep on the holder machine's own clock would have ended the lock two hours
    # into its hour (what happened before processes told time by the database).
    on_its_own_clock = Locks(SqlLockStore(engines[1]), Skewed(AHEAD)).expire()
    for engine in engines:
        engine.dispose()
    assert swept == []
    assert kept is not None and kept.holder == "U0BOB"
    assert [lock.env for lock in on_its_own_clock] == ["prod"]


def test_a_database_out_of_reach_leaves_the_clock_as_it_was(tmp_path: Path) -> None:
    gone = create_engine(f"sqlite:///{tmp_path / 'no such folder' / 'opsloop.db'}")
    clock = DatabaseClock(gone, Skewed(AHEAD))
    with pytest.raises(SQLAlchemyError):
        clock.sync()
    assert clock.offset == timedelta(0)
    assert clock.now() - datetime.now(UTC) > AHEAD - timedelta(minutes=1)
