"""Two `opsloop serve` processes: on SQLite the second refuses to start (SQLite is the
store of one process), and the first keeps serving."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from bot.workspace import SlackWorkspace
from tests.scenarios.conftest import CONFIG
from tests.scenarios.served import DEADLINE, LISTENING, serve_env, serving


@pytest.fixture
def env(workspace: SlackWorkspace, tmp_path: Path) -> dict[str, str]:
    """An `opsloop serve` on a SQLite file, with no engine (none is needed here)."""
    return serve_env(workspace, tmp_path, CONFIG, DOCKER_HOST="unix:///nonexistent/docker.sock")


def test_a_second_process_on_one_sqlite_file_refuses_to_start_and_the_first_keeps_serving(
    env: dict[str, str], tmp_path: Path
) -> None:
    with serving(env) as first:
        base = first.wait_for_line(LISTENING).group(1)
        with serving(env) as second:
            status = second.process.wait(timeout=DEADLINE)
            second.end(signal.SIGTERM)  # it ended already: this collects what it logged
            refusal = "\n".join(second.lines)
        assert status == 1, refusal
        database = tmp_path / "opsloop.db"
        assert (
            f"opsloop will not start: {database} is in use by another opsloop process "
            f"(pid {first.process.pid})"
        ) in refusal
        assert "run two processes on PostgreSQL" in refusal
        assert "Traceback" not in refusal
        assert httpx.get(base + "/healthz").json()["ok"] is True
        assert first.end(signal.SIGTERM) == 0
    # Once the first stopped, the file is free again.
    with serving(env) as again:
        again.wait_for_line(LISTENING)
        assert again.end(signal.SIGTERM) == 0
