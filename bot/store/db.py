"""Opening the store: SQLite by default, PostgreSQL by URL. The schema is brought to the
newest Alembic revision on every start, so a new database is created and an old one
migrated the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import OperationalError

from bot.core.errors import StoreUnavailable

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x6F70_736C
"""The PostgreSQL advisory lock that lets one process at a time migrate ("opsl")."""


def open_store(url: str) -> Engine:
    """An engine for `url` with the schema at the newest revision. SQLite files get WAL and
    a busy timeout so the HTTP threads and the workers can write side by side."""
    is_sqlite = url.startswith("sqlite")
    engine = create_engine(url, pool_pre_ping=not is_sqlite)
    if is_sqlite:
        event.listen(engine, "connect", _tune_sqlite)
    event.listen(engine, "handle_error", _unreachable)
    migrate(engine)
    return engine


STORE_DOWN_MESSAGE = (
    "opsloop cannot reach its store right now, so nothing was done. Try again in a minute."
)


def _unreachable(context: ExceptionContext) -> BaseException | None:
    """A database that cannot be reached (refused, gone, restarting) raises StoreUnavailable,
    which every answer turns into a plain sentence instead of a traceback. The pool's
    pre-ping is left alone: it reconnects by itself, which is how a process recovers when
    the database returns."""
    if context.is_pre_ping or not isinstance(context.sqlalchemy_exception, OperationalError):
        return None
    if context.is_disconnect or context.connection is None:
        return StoreUnavailable(STORE_DOWN_MESSAGE)
    return None


def migrate(engine: Engine, revision: str = "heads") -> None:
    """Upgrade the schema to `revision` (every branch head by default: stages add their
    tables in migrations of their own, each branching from the foundation). Processes
    starting together on one PostgreSQL database migrate one after the other: the second
    finds the schema current instead of creating the same tables again."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _tune_sqlite(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
