"""`opsloop sandbox` as a newcomer runs it: one command, then the console shows the bot work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

DEADLINE = 30.0


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSLOOP_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "sandbox", "--port", "0"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    first = process.stdout.readline()
    try:
        assert first.startswith("opsloop sandbox: open http://127.0.0.1:"), first
        yield first.split()[3]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    assert process.returncode == 0


def _bot_answers(console: str, user: str, channel: str) -> list[str]:
    state = httpx.get(console + "console/api/state").json()
    found = next(c for c in state["channels"] if c["id"] == channel)
    return [e["text"] for e in found.get("ephemerals", {}).get(user, [])]


def test_the_console_runs_a_command_and_shows_the_bots_answer(sandbox: str) -> None:
    page = httpx.get(sandbox)
    assert page.status_code == 200 and "<html" in page.text.lower()
    sent = httpx.post(
        sandbox + "console/api/command",
        json={"user": "U0ALICE", "channel": "C0DEV", "command": "/ops", "text": "help"},
    )
    assert sent.status_code == 200
    assert sent.json()["bot_status"] == 200
    deadline = time.monotonic() + DEADLINE
    while not _bot_answers(sandbox, "U0ALICE", "C0DEV") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert any("opsloop verbs" in text for text in _bot_answers(sandbox, "U0ALICE", "C0DEV"))
