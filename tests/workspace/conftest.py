"""Fixtures: a running local workspace (spec-checked), a WebClient on it, a fake bot."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from slack_sdk import WebClient

from bot.workspace import SignedClient, SlackWorkspace
from tests.specs import specs_dir
from tests.workspace.fakebot import FakeBot

TOKEN = "xoxb-0000-workspace-tests"
SECRET = "workspace-tests-signing-secret"


@pytest.fixture
def slack_specs() -> Path:
    """tests/vendor/specs/slack in the repository."""
    return specs_dir() / "slack"


@pytest.fixture
def workspace(slack_specs: Path) -> Iterator[SlackWorkspace]:
    """A started workspace; the test fails if any traffic broke Slack's spec."""
    with SlackWorkspace(bot_token=TOKEN, specs_dir=slack_specs) as running:
        yield running
        running.assert_no_spec_violations()


@pytest.fixture
def plain_workspace() -> Iterator[SlackWorkspace]:
    """A started workspace without spec checks, for requests that break the spec on purpose."""
    with SlackWorkspace(bot_token=TOKEN) as running:
        yield running


@pytest.fixture
def web(workspace: SlackWorkspace) -> WebClient:
    """slack_sdk's WebClient pointed at the workspace, with the bot token."""
    return WebClient(token=TOKEN, base_url=workspace.api_url)


@pytest.fixture
def fake_bot() -> Iterator[FakeBot]:
    """A recording stand-in for the bot's /slack/events endpoint."""
    bot = FakeBot()
    yield bot
    bot.stop()


@pytest.fixture
def signed(fake_bot: FakeBot, workspace: SlackWorkspace) -> Iterator[SignedClient]:
    """A SignedClient aimed at the fake bot, connected to the workspace."""
    with SignedClient(fake_bot.url, SECRET, workspace) as client:
        workspace.connect_bot(client)
        yield client
