"""Fencing on a real database: singleton work writes with the epoch of the lease it runs
under, and a process whose lease ran out or changed hands cannot write at all. Approval
expiry and outbox rows are not fenced: the last tests show why a stale holder's write there
is harmless (a compare-and-set on the request's state; a row keyed by what it says)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update

from bot.core.deploy.locks import EnvLock
from bot.core.deploy.model import DeployKind, DeployState, NewDeploy
from bot.core.errors import LeaseLost
from bot.core.leases import Lease
from bot.core.monitor.model import CheckKind, CheckRecord, CheckState
from bot.core.operate.model import AutoscaleState
from bot.core.outbox import Action, NewMessage
from bot.core.values import Reply
from bot.store.autoscale import SqlAutoscaleStore, autoscale_state
from bot.store.db import open_store
from bot.store.db_clock import db_now
from bot.store.deploys import SqlDeployStore
from bot.store.env_locks import SqlLockStore
from bot.store.leases import SqlLeaseStore, leases
from bot.store.monitor import SqlMonitorStore
from bot.store.outbox import SqlOutboxStore

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


def _request(env: str, now: datetime) -> NewDeploy:
    """A request for `env` that waited for an approval and ran out an hour ago."""
    return NewDeploy(
        DeployKind.DEPLOY, "web", env, "1.2.0", None, "127.0.0.1:5000/web:1.2.0", "sha256:1",
        "U0ALICE", "C0DEV", 1, now - timedelta(hours=2), now - timedelta(hours=1), "", (),
    )  # fmt: skip


def test_approval_expiry_is_a_compare_and_set_that_a_stale_sweeper_cannot_turn_against_a_decision(
    database_url: str,
) -> None:
    """The sweeper of a process that lost the lease may still be expiring requests it read
    before the takeover. Expiry needs no fence: it is due by the request's own time (every
    process also applies it when a vote arrives) and moves only a pending request, so the
    stale sweep changes nothing the holder or a vote decided."""
    engine = open_store(database_url)
    store = SqlDeployStore(engine)
    now = datetime.now(UTC)
    expired, _ = store.create(_request("prod", now))
    approved, _ = store.create(_request("staging", now))
    read_before_the_takeover = store.in_states([DeployState.PENDING])
    # The new holder expires the first; a vote (any process) approved the second in time.
    assert store.transition(expired.id, DeployState.PENDING, DeployState.EXPIRED, now, "late")
    assert store.transition(approved.id, DeployState.PENDING, DeployState.APPROVED, now)
    later = now + timedelta(seconds=5)
    stale = [
        store.transition(r.id, DeployState.PENDING, DeployState.EXPIRED, later, "stale")
        for r in read_before_the_takeover
    ]
    first, second = store.get(expired.id), store.get(approved.id)
    engine.dispose()
    assert stale == [False, False]
    assert first is not None and (first.state, first.detail) == (DeployState.EXPIRED, "late")
    assert first.finished_at == now
    assert second is not None and second.state is DeployState.APPROVED


def test_a_message_a_stale_holder_records_is_the_holders_own_row_and_is_posted_once(
    database_url: str,
) -> None:
    """Singleton work records its messages under a key naming what they say (the digest's
    fire time, alert-<id>, an autoscale decision's spec version), so a process that lost the
    lease and records the same message adds no row; the row is claimed by one courier."""
    engines = open_store(database_url), open_store(database_url)
    old, new = _taken_over(engines[0])
    stale, holder = (SqlOutboxStore(engine) for engine in engines)
    now = datetime.now(UTC)
    key = "sprint-digest-2026-03-02T09:00:00+00:00"
    digest = NewMessage(Action.POST, "C0TEAM", Reply(text="Sprint digest"), now, key=key)
    ids = [stale.add(digest), holder.add(digest)]
    claims = [
        store.claim(ids[0], worker, now, timedelta(seconds=1))
        for store, worker in ((stale, old.holder), (holder, new.holder))
    ]
    heads = holder.lanes()
    for engine in engines:
        engine.dispose()
    assert ids[0] == ids[1]
    assert [lane.head.id for lane in heads] == [ids[0]]
    assert sorted(claims) == [False, True]
