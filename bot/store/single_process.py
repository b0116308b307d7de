"""One process per SQLite file: SQLite is the embedded store of a single opsloop, and two
processes on one file would each run the singleton work against the other's in-flight
state. An exclusive lock on a file beside the database makes a second process refuse to
start instead; the operating system drops the lock when its process ends, however it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url


class StoreInUse(RuntimeError):
    """Another opsloop process has this SQLite database open; the message says what to do."""


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other databases and in-memory ones."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


class SqliteClaim:
    """This process's exclusive claim on a SQLite database (`<file>.lock` beside it)."""

    def __init__(self, database: Path) -> None:
        self.lock_path = database.with_name(database.name + ".lock")
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] | None = self.lock_path.open("a+")
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip()[:20] or "unknown"
            self._file.close()
            self._file = None
            raise StoreInUse(
                f"{database} is in use by another opsloop process (pid {holder}). SQLite "
                "serves one process only: stop that one first, or run two processes on "
                "PostgreSQL (OPSLOOP_DATABASE_URL=postgresql+psycopg://...)."
            ) from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(f"{os.getpid()}\n")
        self._file.flush()

    def release(self) -> None:
        """Let another process open the database. Safe to repeat."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def claim_store(url: str) -> SqliteClaim | None:
    """Claim the SQLite file of `url` for this process (StoreInUse when another has it);
    None for databases that several processes may share."""
    database = sqlite_file(url)
    return None if database is None else SqliteClaim(database)
