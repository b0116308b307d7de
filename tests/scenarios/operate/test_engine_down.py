"""Operate against an engine that refuses the connection: said plainly, nothing changes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.settings import Settings
from bot.workspace import SlackWorkspace
from tests.scenarios.conftest import Harness
from tests.scenarios.deploy.support import free_port
from tests.scenarios.operate.support import start_bot
from tests.scenarios.replies import reply_to


@pytest.fixture
def down(workspace: SlackWorkspace, settings: Settings) -> Iterator[Harness]:
    """A bot whose Docker engine is a closed port on loopback."""
    config = f"""
slack: {{ops_channel: C0OPS}}
docker: {{host: "tcp://127.0.0.1:{free_port()}"}}
services:
  web:
    repo: .
    image: 127.0.0.1:5000/web
    deploy: {{staging: {{target: swarm}}}}
environments: {{staging: {{}}}}
"""
    harness = start_bot(workspace, settings, config)
    yield harness
    harness.bot.stop()
    harness.slack.close()


def test_an_engine_that_does_not_answer_is_said_plainly(down: Harness) -> None:
    down.workspace.user_command("U0ALICE", "C0DEV", "/status", "")
    assert "refused the connection" in reply_to(down, "U0ALICE")
    down.workspace.user_command("U0ALICE", "C0DEV", "/scale", "web staging 2")
    assert "refused the connection" in reply_to(down, "U0ALICE", nth=2)
    down.workspace.user_command("U0ALICE", "C0DEV", "/logs", "web staging")
    assert "refused the connection" in reply_to(down, "U0ALICE", nth=3)
    down.workspace.user_command("U0ALICE", "C0DEV", "/restart", "web staging")
    assert "refused the connection" in reply_to(down, "U0ALICE", nth=4)
    down.workspace.user_command("U0ALICE", "C0DEV", "/status", "web staging")
    assert "refused the connection" in reply_to(down, "U0ALICE", nth=5)
    assert not [m for m in down.workspace.messages("C0DEV") if m.is_bot]
    assert not [m for m in down.workspace.messages("C0OPS") if m.is_bot]
