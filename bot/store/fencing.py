"""Fencing: a write made by singleton work lands only while the lease it runs under is still
this process's, at the epoch it was taken with, and has not run out by the database's clock.

The check and the write share one transaction, and on PostgreSQL the check locks the lease
row (FOR UPDATE): a process taking the lease over waits for the write to commit, and a write
that comes after the takeover finds the epoch moved on and is refused. SQLite has one writer
at a time, which gives the same order."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, select

from bot.core.errors import LeaseLost
from bot.core.leases import CurrentLease, Lease
from bot.store.db_clock import db_now
from bot.store.leases import leases


def check_lease(connection: Connection, lease: Lease | None) -> None:
    """LeaseLost unless `lease` is still current; locks its row until the transaction ends."""
    if lease is None:
        raise LeaseLost("this process does not hold the lease for singleton work")
    current = connection.execute(
        select(leases.c.epoch)
        .where(
            leases.c.name == lease.name,
            leases.c.holder == lease.holder,
            leases.c.epoch == lease.epoch,
            leases.c.expires_at > db_now(),
        )
        .with_for_update()
    ).first()
    if current is None:
        raise LeaseLost(
            f"the lease {lease.name} (epoch {lease.epoch}) ran out or changed hands; "
            "the write was refused"
        )


@contextmanager
def fenced(engine: Engine, current: CurrentLease) -> Iterator[tuple[Connection, int]]:
    """A transaction that goes on only while the lease `current()` names is current: yields
    the connection and the lease's epoch (to be written with the change); LeaseLost (and
    nothing written) otherwise."""
    lease = current()
    with engine.begin() as connection:
        check_lease(connection, lease)
        assert lease is not None
        yield connection, lease.epoch
