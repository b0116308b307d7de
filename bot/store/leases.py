"""Leases and process heartbeats in the store (bot.core.leases.LeaseStore).

Every time here is the database's (db_now), never the process's. Taking a lease is one
conditional UPDATE (the row ran out) or, for a lease never taken, one INSERT: the row lock
(PostgreSQL) or the single writer (SQLite) and the primary key make two processes asking
at once end with one holder. The row is never deleted, so the epoch only grows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from bot.core.leases import Lease, LeaseView, ProcessBeat
from bot.store.db_clock import db_now
from bot.store.tables import as_utc, metadata

leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

process_beats = Table(
    "process_beats",
    metadata,
    Column("process_id", String(128), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
)


class SqlLeaseStore:
    """The LeaseStore port on SQLAlchemy (SQLite and PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def acquire(self, name: str, holder: str, ttl: float) -> Lease | None:
        """Renew `holder`'s running lease, or take one that ran out (epoch + 1), or create
        it (epoch 1); None while another holder's lease runs."""
        with self._engine.begin() as connection:
            renewed = connection.execute(
                update(leases)
                .where(leases.c.name == name, leases.c.holder == holder,
                       leases.c.expires_at > db_now())
                .values(expires_at=db_now(ttl))
            )  # fmt: skip
            if renewed.rowcount == 0:
                connection.execute(
                    update(leases)
                    .where(leases.c.name == name, leases.c.expires_at <= db_now())
                    .values(holder=holder, epoch=leases.c.epoch + 1, since=db_now(),
                            expires_at=db_now(ttl))
                )  # fmt: skip
            row = connection.execute(select(leases).where(leases.c.name == name)).first()
        if row is None:
            try:
                with self._engine.begin() as connection:
                    connection.execute(
                        insert(leases).values(name=name, holder=holder, epoch=1,
                                              since=db_now(), expires_at=db_now(ttl))
                    )  # fmt: skip
                    row = connection.execute(select(leases).where(leases.c.name == name)).one()
            except IntegrityError:
                return None
        lease = _lease(row._mapping)
        return lease if lease.holder == holder else None

    def renew(self, lease: Lease, ttl: float) -> Lease | None:
        """Extend the lease from the database's now, only while it is still this holder's,
        at this epoch, and has not run out."""
        with self._engine.begin() as connection:
            result = connection.execute(
                update(leases)
                .where(_same(lease), leases.c.expires_at > db_now())
                .values(expires_at=db_now(ttl))
            )
            if result.rowcount != 1:
                return None
            row = connection.execute(select(leases).where(leases.c.name == lease.name)).one()
        return _lease(row._mapping)

    def release(self, lease: Lease) -> None:
        """Let the lease run out now (the row stays, so the next epoch is higher)."""
        with self._engine.begin() as connection:
            connection.execute(
                update(leases)
                .where(_same(lease), leases.c.expires_at > db_now())
                .values(expires_at=db_now())
            )

    def beat(self, process_id: str, host: str, pid: int) -> None:
        """Record the process as seen now (its first beat is its start)."""
        with self._engine.begin() as connection:
            seen = connection.execute(
                update(process_beats)
                .where(process_beats.c.process_id == process_id)
                .values(seen_at=db_now())
            )
            if seen.rowcount == 0:
                connection.execute(
                    insert(process_beats).values(process_id=process_id, host=host, pid=pid,
                                                 started_at=db_now(), seen_at=db_now())
                )  # fmt: skip

    def leave(self, process_id: str) -> None:
        """Delete the process's heartbeat row."""
        with self._engine.begin() as connection:
            connection.execute(
                delete(process_beats).where(process_beats.c.process_id == process_id)
            )

    def view(self, alive_within: float) -> LeaseView:
        """Every lease by name, and the processes seen within `alive_within` seconds,
        oldest first, with the database's time of reading."""
        with self._engine.connect() as connection:
            now = connection.execute(select(db_now())).scalar_one()
            lease_rows = connection.execute(select(leases).order_by(leases.c.name)).all()
            beat_rows = connection.execute(
                select(process_beats)
                .where(process_beats.c.seen_at > db_now(-alive_within))
                .order_by(process_beats.c.started_at, process_beats.c.process_id)
            ).all()
        return LeaseView(
            now=as_utc(now),
            leases=tuple(_lease(row._mapping) for row in lease_rows),
            processes=tuple(_beat(row._mapping) for row in beat_rows),
        )


def _same(lease: Lease) -> Any:
    return (
        (leases.c.name == lease.name)
        & (leases.c.holder == lease.holder)
        & (leases.c.epoch == lease.epoch)
    )


def _lease(row: Any) -> Lease:
    return Lease(
        name=row["name"],
        holder=row["holder"],
        epoch=row["epoch"],
        since=as_utc(row["since"]),
        expires_at=as_utc(row["expires_at"]),
    )


def _beat(row: Any) -> ProcessBeat:
    return ProcessBeat(
        process_id=row["process_id"],
        host=row["host"],
        pid=row["pid"],
        started_at=as_utc(row["started_at"]),
        seen_at=as_utc(row["seen_at"]),
    )
