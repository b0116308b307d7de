"""Opening the store: SQLite by default, PostgreSQL by URL; the schema is created on first start."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event

from bot.store.tables import metadata


def open_store(url: str) -> Engine:
    """An engine for `url` with the schema in place. SQLite files get WAL and a busy timeout
    so the HTTP threads and the workers can write side by side."""
    is_sqlite = url.startswith("sqlite")
    engine = create_engine(url, pool_pre_ping=not is_sqlite)
    if is_sqlite:
        event.listen(engine, "connect", _tune_sqlite)
    metadata.create_all(engine)
    return engine


def _tune_sqlite(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
