"""The migrations and the table definitions describe the same schema, on both databases."""

from __future__ import annotations

import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from bot.store.db import MIGRATIONS, migrate, open_store
from bot.store.schema import metadata


def test_migrating_from_empty_gives_exactly_the_declared_tables(database_url: str) -> None:
    engine = open_store(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert differences == []
    assert {"audit_log", "seen_events", "alembic_version"} <= set(inspect(engine).get_table_names())


def test_opening_twice_is_a_no_op_and_keeps_rows(database_url: str) -> None:
    engine = open_store(database_url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO seen_events VALUES ('Ev1', '2026-01-01T00:00:00')"))
    engine.dispose()
    again = open_store(database_url)
    with again.connect() as connection:
        rows = connection.execute(text("SELECT event_id FROM seen_events")).scalars().all()
    again.dispose()
    assert rows == ["Ev1"]


def test_downgrade_to_base_removes_the_tables(database_url: str) -> None:
    engine = create_engine(database_url)
    migrate(engine)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_processes_starting_together_on_one_database_migrate_once(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serves one process (bot.store.single_process)")
    failures: list[BaseException] = []
    go = threading.Barrier(4)

    def start() -> None:
        go.wait()
        try:
            open_store(database_url).dispose()
        except Exception as error:  # collected, so the test shows what went wrong
            failures.append(error)

    # Daemon threads with a bounded join: without the migration lock, concurrent DDL can
    # also wait on each other for good, and that must fail the test, not hang it.
    threads = [threading.Thread(target=start, daemon=True) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a start never finished"
    assert failures == []
