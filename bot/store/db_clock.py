"""The database's own clock as a SQL expression, so that every process sharing a store
reads one time: leases compare and extend with it, whatever the machines' clocks say; and
DatabaseClock, the Clock every other time in the process is read from, set by it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Engine, Float, bindparam, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from bot.core.clock import Clock, SystemClock
from bot.store.tables import as_utc


class db_now(FunctionElement[datetime]):
    """The database's current time plus `offset` seconds, as a timestamp with zone.

    SQLite renders it in the text form SQLAlchemy stores DateTime in (microseconds, no
    zone), so comparisons with stored times are text comparisons of one format;
    PostgreSQL uses clock_timestamp(), the time of the statement rather than of the
    transaction's start, so a transaction that waited for a row lock still extends from now.
    """

    type = DateTime(timezone=True)
    name = "db_now"
    inherit_cache = True

    def __init__(self, offset: float = 0.0) -> None:
        super().__init__(bindparam(None, float(offset), type_=Float, unique=True))


@compiles(db_now, "sqlite")
def _sqlite_now(element: db_now, compiler: Any, **kw: Any) -> str:
    offset = compiler.process(element.clauses, **kw)
    return f"strftime('%Y-%m-%d %H:%M:%f000', 'now', ({offset}) || ' seconds')"


@compiles(db_now, "postgresql")
def _postgresql_now(element: db_now, compiler: Any, **kw: Any) -> str:
    offset = compiler.process(element.clauses, **kw)
    return f"(clock_timestamp() + make_interval(secs => {offset}))"


@compiles(db_now)
def _other_now(element: db_now, compiler: Any, **kw: Any) -> str:
    raise NotImplementedError(f"no database clock for {compiler.dialect.name}")


# A reading whose round trip took longer than this says too little about when the database
# read its clock; it is not used.
MAX_ROUND_TRIP = timedelta(seconds=1)
# Readings closer than this to the offset in use leave it alone: the clock does not jitter
# back and forth by a few milliseconds at every reading.
MIN_CHANGE = timedelta(milliseconds=50)


class DatabaseClock:
    """The Clock of a process that shares its store with others: this machine's clock moved
    by how far it is from the database's, so every process writes and compares times (lock
    and approval expiry, outbox pacing, schedules) on one clock, whatever the machines'
    clocks say. `sync()` reads the database's clock again (the lease keeper does, every
    renewal period); until the first reading, and while the database does not answer, the
    last offset is kept (none at first). monotonic() is the machine's."""

    def __init__(self, engine: Engine, machine: Clock | None = None) -> None:
        self._engine = engine
        self._machine = machine or SystemClock()
        self._offset = timedelta(0)

    @property
    def offset(self) -> timedelta:
        """How far the database's clock is ahead of this machine's, as last read."""
        return self._offset

    def sync(self) -> None:
        """Read the database's clock now; SQLAlchemyError when the database does not answer."""
        sent = self._machine.now()
        with self._engine.connect() as connection:
            read = connection.execute(select(db_now())).scalar_one()
        back = self._machine.now()
        if back - sent > MAX_ROUND_TRIP:
            return
        offset = as_utc(read) - (sent + (back - sent) / 2)
        if abs(offset - self._offset) >= MIN_CHANGE:
            self._offset = offset

    def now(self) -> datetime:
        """The database's time, by this machine's clock and the last reading."""
        return self._machine.now() + self._offset

    def monotonic(self) -> float:
        """The machine's monotonic clock (durations need no agreement between processes)."""
        return self._machine.monotonic()
