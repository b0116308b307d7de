"""A PostgreSQL cluster of a test's own, on an ephemeral loopback port, that the test may
stop and start again (the shared one on 5433 is never stopped). Uses the binaries
scripts/ensure-postgres installs; skips (fails under CI=true) when they are missing."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVER_USER = "postgres"


def _bin_dir() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    return found[-1] if found else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThrowawayPostgres:
    """One cluster in a folder of its own; `url` reaches its `postgres` database."""

    def __init__(self, bin_dir: Path, data: Path) -> None:
        self._bin = bin_dir
        self.data = data
        self.port = _free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._as_server = ["runuser", "-u", SERVER_USER, "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_server, *args], check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        """Create the cluster: trust authentication, loopback only."""
        self._run(str(self._bin / "initdb"), "-D", str(self.data / "db"), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8")  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.data}"
        self._run(str(self._bin / "pg_ctl"), "-D", str(self.data / "db"), "-l",
                  str(self.data / "log"), "-w", "-t", "60", "-o", options, "start")  # fmt: skip

    def stop(self) -> None:
        """Stop the server now (fast shutdown: open connections are cut)."""
        self._run(str(self._bin / "pg_ctl"), "-D", str(self.data / "db"), "-m", "fast", "-w",
                  "stop")  # fmt: skip


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    """A started cluster, stopped and removed afterwards."""
    bin_dir = _bin_dir()
    if bin_dir is None or (os.geteuid() == 0 and not _has_user(SERVER_USER)):
        message = "no PostgreSQL binaries (scripts/ensure-postgres installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    data = Path(tempfile.mkdtemp(prefix="opsloop-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, SERVER_USER, SERVER_USER)
    server = ThrowawayPostgres(bin_dir, data)
    try:
        server.init()
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            server.stop()
        shutil.rmtree(data, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
