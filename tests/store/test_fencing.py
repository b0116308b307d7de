"""Fencing on a real database: singleton work writes with the epoch of the lease it runs
under, and a process whose lease ran out or changed hands cannot write at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update

from bot.core.deploy.locks import EnvLock
from bot.core.errors import LeaseLost
from bot.core.leases import Lease
from bot.core.monitor.model import CheckKind, CheckRecord, CheckState
from bot.core.operate.model import AutoscaleState
from bot.store.autoscale import SqlAutoscaleStore, autoscale_state
from bot.store.db import open_store
from bot.store.db_clock import db_now
from bot.store.env_locks import SqlLockStore
from bot.store.leases import SqlLeaseStore, leases
from bot.store.monitor import SqlMonitorStore

TTL = 15.0


def _run_out(engine: Engine) -> None:
    """The holder stopped renewing (a stall, a kill): its lease runs out by the DB's clock."""
    with engine.begin() as connection:
        connection.execute(update(leases).values(expires_at=db_now(-1)))


def _taken_over(engine: Engine) -> tuple[Lease, Lease]:
    """Process a held the lease, then process b took it over: (a's stale lease, b's)."""
    store = SqlLeaseStore(engine)
    old = store.acquire("singletons", "a", TTL)
    assert old is not None
    _run_out(engine)
    new = store.acquire("singletons", "b", TTL)
    assert new is not None and new.epoch == old.epoch + 1
    return old, new


def _lock(expired_minutes_ago: int = 1) -> EnvLock:
    past = datetime.now(UTC) - timedelta(minutes=expired_minutes_ago)
    return EnvLock("staging", "U0ALICE", "testing", past - timedelta(hours=1), past, "C0DEV")


def test_a_process_that_lost_the_lease_cannot_expire_a_lock_and_the_holder_can(
    database_url: str,
) -> None:
    engine = open_store(database_url)
    old, new = _taken_over(engine)
    SqlLockStore(engine).acquire(_lock(), datetime.now(UTC) - timedelta(hours=2))
    with pytest.raises(LeaseLost):
        SqlLockStore(engine, lambda: old).take_expired(datetime.now(UTC))
    with pytest.raises(LeaseLost):
        SqlLockStore(engine, lambda: None).take_expired(datetime.now(UTC))
    still = SqlLockStore(engine).get("staging")
    taken = SqlLockStore(engine, lambda: new).take_expired(datetime.now(UTC))
    engine.dispose()
    assert still is not None and still.holder == "U0ALICE"
    assert [lock.env for lock in taken] == ["staging"]


def test_an_autoscale_decision_carries_the_epoch_and_a_stale_one_changes_nothing(
    database_url: str,
) -> None:
    engine = open_store(database_url)
    old, new = _taken_over(engine)
    now = datetime.now(UTC)
    SqlAutoscaleStore(engine, lambda: new).save(
        AutoscaleState("web", "prod", history=((now, 3),)), now
    )
    with pytest.raises(LeaseLost):
        SqlAutoscaleStore(engine, lambda: old).save(
            AutoscaleState("web", "prod", history=((now, 9),)), now
        )
    with engine.connect() as connection:
        epoch = connection.execute(select(autoscale_state.c.epoch)).scalar_one()
    kept = SqlAutoscaleStore(engine).get("web", "prod")
    engine.dispose()
    assert epoch == new.epoch
    assert [replicas for _at, replicas in kept.history] == [3]


def test_a_check_state_is_not_moved_by_a_process_that_lost_the_lease(database_url: str) -> None:
    engine = open_store(database_url)
    old, new = _taken_over(engine)
    firing = CheckRecord("web/prod/container/http", "web", "prod", "container", CheckKind.HTTP,
                         state=CheckState.FIRING, failures=3)  # fmt: skip
    with pytest.raises(LeaseLost):
        SqlMonitorStore(engine, lambda: old).save_check(firing)
    before = SqlMonitorStore(engine).checks()
    SqlMonitorStore(engine, lambda: new).save_check(firing)
    after = SqlMonitorStore(engine).checks()
    engine.dispose()
    assert before == []
    assert [record.state for record in after] == [CheckState.FIRING]
