"""`opsloop serve` as a subprocess against the test workspace, for tests that stop it
with a signal as systemd or Docker would."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from bot.workspace import SlackWorkspace
from tests.scenarios.conftest import BOT_TOKEN
from tests.specs import REPO

DEADLINE = 30.0
LISTENING = re.compile(r"opsloop listening on (http://\S+)/slack/events")


SERVE = ("serve", "--port", "0")
RUN = ("run",)
"""`opsloop run`: Socket Mode."""


class Served:
    """An `opsloop serve` (or, with `command` RUN, `opsloop run`) subprocess and the lines
    it logged so far."""

    def __init__(self, env: dict[str, str], command: tuple[str, ...] = SERVE) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *command],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        self._fresh: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._fresh.put(line.rstrip("\n"))
        self._fresh.put(None)

    def wait_for_line(self, pattern: re.Pattern[str]) -> re.Match[str]:
        """The first logged line matching `pattern`; fails when the process ends first."""
        for seen in self.lines:
            if found := pattern.search(seen):
                return found
        while (line := self._fresh.get(timeout=DEADLINE)) is not None:
            self.lines.append(line)
            if found := pattern.search(line):
                return found
        raise AssertionError("opsloop ended without logging it:\n" + "\n".join(self.lines))

    def end(self, signum: int) -> int:
        """Send `signum` and return the exit status, with every line logged until then."""
        self.process.send_signal(signum)
        status = self.process.wait(timeout=DEADLINE)
        while (line := self._fresh.get(timeout=DEADLINE)) is not None:
            self.lines.append(line)
        return status


def serve_env(
    workspace: SlackWorkspace, tmp_path: Path, config: str, **extra: str
) -> dict[str, str]:
    """The environment of an `opsloop serve` against `workspace`, with `config` as its
    opsloop.yml and a store and state folder of its own under `tmp_path`."""
    path = tmp_path / "opsloop.yml"
    path.write_text(config)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSLOOP_"))}
    return {
        **clean,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": secrets.token_hex(16),
        "SLACK_API_URL": workspace.api_url,
        "OPSLOOP_CONFIG": str(path),
        "OPSLOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'opsloop.db'}",
        "OPSLOOP_STATE_DIR": str(tmp_path / "state"),
        **extra,
    }


@contextlib.contextmanager
def serving(env: dict[str, str], command: tuple[str, ...] = SERVE) -> Iterator[Served]:
    """An `opsloop serve` (or `command`) started with `env`; killed on the way out if it is
    still running."""
    started = Served(env, command)
    try:
        yield started
    finally:
        if started.process.poll() is None:
            started.process.kill()
            started.process.wait()
