"""Leases and heartbeats on a real database, timed by the database's clock."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, update

from bot.core.leases import Lease
from bot.store.db import open_store
from bot.store.db_clock import db_now
from bot.store.leases import SqlLeaseStore, leases, process_beats

TTL = 15.0


def _expire(engine: Engine, name: str) -> None:
    """Run the lease out by the database's clock, as if its holder stopped renewing."""
    with engine.begin() as connection:
        connection.execute(
            update(leases).where(leases.c.name == name).values(expires_at=db_now(-1))
        )


def test_the_first_holder_takes_a_new_lease_at_epoch_one_for_its_time_to_live(
    database_url: str,
) -> None:
    engine = open_store(database_url)
    store = SqlLeaseStore(engine)
    lease = store.acquire("singletons", "a", TTL)
    view = store.view(TTL)
    engine.dispose()
    assert lease is not None and lease.holder == "a" and lease.epoch == 1
    assert 14.0 <= (lease.expires_at - view.now).total_seconds() <= TTL
    assert view.leases == (lease,)


def test_a_running_lease_is_refused_to_another_holder_and_renewed_for_its_own(
    database_url: str,
) -> None:
    engine = open_store(database_url)
    store = SqlLeaseStore(engine)
    first = store.acquire("singletons", "a", TTL)
    assert first is not None
    refused = store.acquire("singletons", "b", TTL)
    renewed = store.renew(first, TTL)
    again = store.acquire("singletons", "a", TTL)
    engine.dispose()
    assert refused is None
    assert renewed is not None and renewed.epoch == 1 and renewed.since == first.since
    assert renewed.expires_at >= first.expires_at
    assert again is not None and again.epoch == 1


def test_a_lease_that_ran_out_goes_to_the_next_holder_with_a_new_epoch_and_is_lost_to_the_old(
    database_url: str,
) -> None:
    engine = open_store(database_url)
    store = SqlLeaseStore(engine)
    old = store.acquire("singletons", "a", TTL)
    assert old is not None
    _expire(engine, "singletons")
    taken = store.acquire("singletons", "b", TTL)
    stale_renewal = store.renew(old, TTL)
    store.release(old)  # a stale holder giving up must not end the new holder's lease
    view = store.view(TTL)
    engine.dispose()
    assert taken is not None and taken.holder == "b" and taken.epoch == 2
    assert stale_renewal is None
    assert view.leases == (taken,)


def test_a_released_lease_is_taken_at_once_by_another_holder(database_url: str) -> None:
    engine = open_store(database_url)
    store = SqlLeaseStore(engine)
    lease = store.acquire("singletons", "a", TTL)
    assert lease is not None
    store.release(lease)
    taken = store.acquire("singletons", "b", TTL)
    engine.dispose()
    assert taken is not None and taken.holder == "b" and taken.epoch == 2


def test_two_holders_racing_for_one_lease_end_with_exactly_one_holder(database_url: str) -> None:
    engine = open_store(database_url)
    store = SqlLeaseStore(engine)
    results: dict[str, Lease | None] = {}
    go = threading.Barrier(8)

    def race(holder: str) -> None:
        go.wait()
        results[holder] = store.acquire("race", holder, TTL)

    for round_ in range(2):  # a new lease, then one that ran out
        results.clear()
        threads = [threading.Thread(target=race, args=(f"p{n}",)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [lease for lease in results.values() if lease is not None]
        assert len(results) == 8
        assert len(winners) == 1, results
        assert winners[0].epoch == round_ + 1
        assert store.view(TTL).leases == (winners[0],)
        _expire(engine, "race")
    engine.dispose()


def test_heartbeats_show_the_processes_seen_within_the_time_to_live(database_url: str) -> None:
    engine = open_store(database_url)
    store = SqlLeaseStore(engine)
    store.beat("host-1:10:aa", "host-1", 10)
    store.beat("host-2:20:bb", "host-2", 20)
    first = store.view(TTL).processes
    store.beat("host-1:10:aa", "host-1", 10)
    store.leave("host-2:20:bb")
    after = store.view(TTL).processes
    with engine.begin() as connection:  # host-1 last beat 30 s ago by the database's clock
        connection.execute(update(process_beats).values(seen_at=db_now(-30)))
    none_recent = store.view(TTL).processes
    engine.dispose()
    assert [beat.process_id for beat in first] == ["host-1:10:aa", "host-2:20:bb"]
    assert [(beat.host, beat.pid) for beat in after] == [("host-1", 10)]
    assert after[0].seen_at >= first[0].seen_at and after[0].started_at == first[0].started_at
    assert none_recent == ()
