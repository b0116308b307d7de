"""The database's own clock as a SQL expression, so that every process sharing a store
reads one time: leases compare and extend with it, whatever the machines' clocks say."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Float, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


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
