"""The LeaseKeeper on a real store: singleton work runs in exactly one keeper at a time,
stops at once when its lease is lost, and moves to another keeper when the lease does.

Each test drives the keepers' rounds with tick() (the loop's period is longer than the
test), so nothing here depends on timing."""

from __future__ import annotations

from sqlalchemy import Engine, update

from bot.core.lease_keeper import LeaseKeeper, Singleton
from bot.core.leases import SINGLETONS, Lease, LeaseView
from bot.store.db import open_store
from bot.store.db_clock import db_now
from bot.store.leases import SqlLeaseStore, leases

TTL = 600.0  # the keepers' own loops never tick during a test


class Flaky(SqlLeaseStore):
    """The real store with a switch that makes every call fail, as a lost database does."""

    down = False

    def _check(self) -> None:
        if self.down:
            raise ConnectionError("the database is unreachable")

    def renew(self, lease: Lease, ttl: float) -> Lease | None:
        self._check()
        return super().renew(lease, ttl)

    def acquire(self, name: str, holder: str, ttl: float) -> Lease | None:
        self._check()
        return super().acquire(name, holder, ttl)

    def beat(self, process_id: str, host: str, pid: int) -> None:
        self._check()
        super().beat(process_id, host, pid)

    def view(self, alive_within: float) -> LeaseView:
        self._check()
        return super().view(alive_within)


class Work:
    """A singleton that records whether it is running."""

    def __init__(self) -> None:
        self.running = False
        self.starts = 0

    def start(self) -> None:
        self.running = True
        self.starts += 1

    def stop(self) -> None:
        self.running = False


def _keeper(store: SqlLeaseStore, name: str, work: Work) -> LeaseKeeper:
    keeper = LeaseKeeper(store, process_id=name, host="host", pid=1, ttl=TTL)
    keeper.add(Singleton("work", work.start, work.stop))
    return keeper


def _expire(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(update(leases).values(expires_at=db_now(-1)))


def test_a_lone_process_takes_the_lease_and_starts_its_work_before_start_returns(
    database_url: str,
) -> None:
    engine = open_store(database_url)
    work = Work()
    keeper = _keeper(SqlLeaseStore(engine), "a", work)
    keeper.start()
    running_at_start = work.running
    late = Work()
    keeper.add(Singleton("late", late.start, late.stop))
    keeper.stop()
    view = SqlLeaseStore(engine).view(TTL)
    engine.dispose()
    assert running_at_start and late.starts == 1
    assert not work.running and not late.running
    assert view.processes == ()  # a clean stop removes the heartbeat
    assert view.leases[0].expires_at <= view.now  # and gives the lease up


def test_only_one_of_two_processes_runs_the_work_and_the_other_takes_over_a_released_lease(
    database_url: str,
) -> None:
    engine = open_store(database_url)
    store = SqlLeaseStore(engine)
    work_a, work_b = Work(), Work()
    a, b = _keeper(store, "a", work_a), _keeper(store, "b", work_b)
    a.tick()
    b.tick()
    a.tick()
    b.tick()
    both_beating = [beat.process_id for beat in store.view(TTL).processes]
    assert (work_a.running, work_b.running) == (True, False)
    a.stop()
    b.tick()
    lease = b.lease
    b.stop()
    engine.dispose()
    assert both_beating == ["a", "b"]
    assert work_b.running is False and work_b.starts == 1
    assert lease is not None and lease.holder == "b" and lease.epoch == 2


def test_a_failed_renewal_stops_the_work_at_once_and_the_lease_moves_when_it_runs_out(
    database_url: str,
) -> None:
    engine = open_store(database_url)
    flaky, steady = Flaky(engine), SqlLeaseStore(engine)
    work_a, work_b = Work(), Work()
    a, b = _keeper(flaky, "a", work_a), _keeper(steady, "b", work_b)
    a.tick()
    b.tick()
    flaky.down = True
    a.tick()
    stopped_at_once = not work_a.running
    b.tick()
    waits_for_expiry = not work_b.running
    _expire(engine)
    b.tick()
    flaky.down = False
    a.tick()  # the database is back, but the lease is b's now
    engine.dispose()
    assert stopped_at_once and waits_for_expiry
    assert work_b.running and not work_a.running
    assert b.lease is not None and b.lease.epoch == 2 and a.lease is None


def test_a_refused_renewal_stops_the_work_and_the_keeper_takes_the_lease_again_once_free(
    database_url: str,
) -> None:
    engine = open_store(database_url)
    store = SqlLeaseStore(engine)
    work_a, work_b = Work(), Work()
    a, b = _keeper(store, "a", work_a), _keeper(store, "b", work_b)
    a.tick()
    _expire(engine)  # a stalled past its time to live: b takes the lease
    b.tick()
    a.tick()
    assert (work_a.running, work_b.running) == (False, True)
    b.stop()
    a.tick()
    engine.dispose()
    assert work_a.running and work_a.starts == 2
    assert a.lease is not None and a.lease.name == SINGLETONS and a.lease.epoch == 3


def test_a_keeper_that_stopped_taking_keeps_its_lease_but_takes_none_again(
    database_url: str,
) -> None:
    engine = open_store(database_url)
    store = SqlLeaseStore(engine)
    work_a, work_b = Work(), Work()
    a, b = _keeper(store, "a", work_a), _keeper(store, "b", work_b)
    a.tick()
    a.stop_taking()
    a.tick()
    still_held = a.lease is not None and work_a.running
    _expire(engine)
    b.tick()
    a.tick()  # lost: its work stops
    b.stop()
    a.tick()  # the lease is free, but a shutting-down keeper leaves it
    engine.dispose()
    assert still_held
    assert not work_a.running and work_a.starts == 1 and a.lease is None


def test_a_standby_tries_again_as_soon_as_the_holders_lease_runs_out(database_url: str) -> None:
    engine = open_store(database_url)
    holder_work, standby_work = Work(), Work()
    holder = _keeper(SqlLeaseStore(engine), "a", holder_work)
    standby = _keeper(SqlLeaseStore(engine), "b", standby_work)
    holder.tick()
    with engine.begin() as connection:  # a holder that renewed a moment before it died
        connection.execute(update(leases).values(expires_at=db_now(2)))
    standby.tick()
    waits = standby.next_round
    engine.dispose()
    assert not standby_work.running
    assert 1.0 < waits < 2.5 < standby.period  # by the database's clock, not a period
