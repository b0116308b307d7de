"""A fresh schema in the test PostgreSQL (OPSLOOP_TEST_POSTGRES_URL), for tests that run
several opsloop processes on one database."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text


@contextlib.contextmanager
def fresh_schema() -> Iterator[str]:
    """The URL of an empty schema, dropped afterwards; skips (fails under CI=true) when the
    test command started no PostgreSQL."""
    server = os.environ.get("OPSLOOP_TEST_POSTGRES_URL")
    if not server:
        message = "OPSLOOP_TEST_POSTGRES_URL is not set (scripts/ensure-postgres starts one)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{server}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
