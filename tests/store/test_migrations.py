"""The migrations and the table definitions describe the same schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from bot.store.db import MIGRATIONS, migrate, open_store
from bot.store.schema import metadata


def test_migrating_from_empty_gives_exactly_the_declared_tables(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'fresh.db'}")
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []
    assert {"audit_log", "seen_events", "alembic_version"} <= set(inspect(engine).get_table_names())


def test_opening_twice_is_a_no_op_and_keeps_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    engine = open_store(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO seen_events VALUES ('Ev1', '2026-01-01')")
    engine.dispose()
    again = open_store(url)
    with again.connect() as connection:
        assert connection.exec_driver_sql("SELECT event_id FROM seen_events").scalars().all() == [
            "Ev1"
        ]


def test_downgrade_to_base_removes_the_tables(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'down.db'}")
    migrate(engine)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
