"""A running bot wired to a local Slack workspace over loopback, for tests that drive it the
way Slack would: signed HTTP in, Web API calls out."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import Opsloop, build
from bot.config import Config, parse_config
from bot.settings import Settings
from bot.workspace import SignedClient, SlackWorkspace
from tests.specs import specs_dir

BOT_TOKEN = "xoxb-0000-opsloop-test-token"

CONFIG = """
slack:
  ops_channel: C0OPS
services:
  web:
    repo: ./web
    image: 127.0.0.1:5000/web
    port: 8080
    deploy:
      prod: {target: container, publish: 18080}
environments:
  staging: {}
  prod:
    approvals: 1
    approvers: [U0BOB]
"""


@dataclass
class Harness:
    """The bot, the workspace it talks to, and a client that sends what Slack would send."""

    bot: Opsloop
    workspace: SlackWorkspace
    slack: SignedClient
    settings: Settings

    def restart(self) -> Harness:
        """Stop the bot and start a new one on the same store, as after a deploy of opsloop."""
        self.bot.stop()
        return start_bot(self.workspace, self.settings, self.bot.config)


def start_bot(workspace: SlackWorkspace, settings: Settings, config: Config) -> Harness:
    """Build and start a bot against `workspace`."""
    bot = build(settings, config)
    server = bot.start()
    client = SignedClient(server.events_url, settings.signing_secret, workspace)
    workspace.connect_bot(client)
    return Harness(bot=bot, workspace=workspace, slack=client, settings=settings)


@pytest.fixture
def workspace() -> Iterator[SlackWorkspace]:
    """A local Slack workspace that checks every call against Slack's published spec."""
    with SlackWorkspace(bot_token=BOT_TOKEN, specs_dir=specs_dir() / "slack") as running:
        yield running
        running.assert_no_spec_violations()


@pytest.fixture
def settings(workspace: SlackWorkspace, tmp_path: Path) -> Settings:
    """Settings pointing at the workspace and a fresh SQLite file."""
    return Settings(
        bot_token=BOT_TOKEN,
        signing_secret=secrets.token_hex(16),
        api_url=workspace.api_url,
        database_url=f"sqlite:///{tmp_path / 'opsloop.db'}",
        state_dir=tmp_path / "state",
    )


@pytest.fixture
def harness(workspace: SlackWorkspace, settings: Settings) -> Iterator[Harness]:
    """A started bot; stopped after the test."""
    running = start_bot(workspace, settings, parse_config(CONFIG, {}))
    yield running
    running.bot.stop()
    running.slack.close()
