"""`opsloop run`: the same bot over Socket Mode, against the local workspace's WebSocket."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.app import Opsloop, build
from bot.config import parse_config
from bot.core.values import Click, Reaction, Reply
from bot.settings import Settings
from bot.slack.socket_mode import SocketModeError, connect_socket_mode
from bot.workspace import SlackWorkspace
from bot.workspace.payloads import reaction_event
from tests.scenarios.conftest import BOT_TOKEN, CONFIG
from tests.specs import REPO, specs_dir

APP_TOKEN = "xapp-1-A0OPSLOOP-0000-opsloop-test-app-token"
DEADLINE = 10.0
PROCESS_DEADLINE = 60.0


@dataclass
class SocketBot:
    """A bot connected over Socket Mode to `workspace`."""

    bot: Opsloop
    workspace: SlackWorkspace
    handler: SocketModeHandler


@pytest.fixture
def workspace() -> Iterator[SlackWorkspace]:
    """A spec-checked workspace that knows the app-level token."""
    folder = specs_dir() / "slack"
    with SlackWorkspace(bot_token=BOT_TOKEN, specs_dir=folder, app_token=APP_TOKEN) as running:
        yield running
        running.assert_no_spec_violations()


@pytest.fixture
def settings(workspace: SlackWorkspace, tmp_path: Path) -> Settings:
    """Socket Mode settings: no signing secret, an app token, the workspace's API URL."""
    return Settings(
        bot_token=BOT_TOKEN,
        app_token=APP_TOKEN,
        api_url=workspace.api_url,
        database_url=f"sqlite:///{tmp_path / 'opsloop.db'}",
        state_dir=tmp_path / "state",
    )


@pytest.fixture
def socket_bot(workspace: SlackWorkspace, settings: Settings) -> Iterator[SocketBot]:
    bot = build(settings, parse_config(CONFIG, {}))
    handler = connect_socket_mode(bot.bolt, settings.app_token)
    try:
        workspace.socket_mode.wait_connected(DEADLINE)
        yield SocketBot(bot, workspace, handler)
    finally:
        handler.close()  # type: ignore[no-untyped-call]
        bot.stop()


def _answers(workspace: SlackWorkspace, user_id: str, channel_id: str) -> list[str]:
    out = []
    for ephemeral in workspace.ephemerals(channel_id, user_id):
        sections = [str((b.get("text") or {}).get("text", "")) for b in ephemeral.blocks or []]
        out.append("\n".join([ephemeral.text, *sections]))
    return out


def _answer(workspace: SlackWorkspace, user_id: str, channel_id: str, nth: int = 1) -> str:
    workspace.wait_for(
        lambda: len(_answers(workspace, user_id, channel_id)) >= nth, DEADLINE, "the bot's answer"
    )
    return _answers(workspace, user_id, channel_id)[nth - 1]


def test_a_slash_command_over_the_socket_is_acked_and_answered(socket_bot: SocketBot) -> None:
    ws = socket_bot.workspace
    ack = ws.socket_mode.command("U0ALICE", "C0DEV", "/ops", "help")
    assert ack.envelope_id  # the bot acknowledged this very envelope
    assert "opsloop verbs" in _answer(ws, "U0ALICE", "C0DEV")
    ws.socket_mode.command("U0ALICE", "C0DEV", "/ops", "frobnicate")
    assert "I don't know the verb `frobnicate`" in _answer(ws, "U0ALICE", "C0DEV", nth=2)
    # Answers travel by response_url, as in HTTP mode: nothing lands in the channel.
    assert ws.messages("C0DEV") == []


def test_a_repeated_reaction_event_reaches_the_stages_once(socket_bot: SocketBot) -> None:
    seen: list[Reaction] = []
    arrived = threading.Event()

    def recorder(reaction: Reaction) -> None:
        seen.append(reaction)
        arrived.set()

    socket_bot.bot.registry.on_reaction(recorder)
    ws = socket_bot.workspace
    message = socket_bot.bot.services.notifier.post("C0OPS", Reply(text="deploy web to prod?"))
    first = ws.socket_mode.react("U0BOB", "C0OPS", message.ts, "white_check_mark", event_id="Ev0S1")
    ws.socket_mode.redeliver(first.envelope_id)  # the very same envelope again
    retry = reaction_event(
        "reaction_added", user_id="U0BOB", reaction="white_check_mark",
        channel_id="C0OPS", ts=message.ts, item_user="U0BOT",
    )  # fmt: skip
    ws.socket_mode.event(retry, event_id="Ev0S1", retry_attempt=1, retry_reason="timeout")
    assert arrived.wait(DEADLINE)
    socket_bot.bot.workers.shutdown(wait=True)
    assert [(r.user_id, r.base_name, r.added, r.message_ts) for r in seen] == [
        ("U0BOB", "white_check_mark", True, message.ts)
    ]
    stored = ws.message("C0OPS", message.ts)
    assert stored is not None
    assert stored.reactions == {"white_check_mark": ["U0BOB"]}


def test_a_click_over_the_socket_is_answered_to_the_clicker(socket_bot: SocketBot) -> None:
    def approve(click: Click) -> Reply:
        return Reply(text=f"noted {click.value}, <@{click.user_id}>")

    socket_bot.bot.registry.on_click("socket.approve", approve)
    ws = socket_bot.workspace
    message = socket_bot.bot.services.notifier.post("C0OPS", Reply(text="approve?"))
    ws.socket_mode.click("U0CAROL", "C0OPS", message.ts, "socket.approve", "42")
    assert _answer(ws, "U0CAROL", "C0OPS") == "noted 42, <@U0CAROL>"


def test_after_slack_asks_for_a_refresh_the_bot_reconnects_and_still_answers(
    socket_bot: SocketBot,
) -> None:
    ws = socket_bot.workspace
    ws.socket_mode.server.disconnect_all()
    ws.wait_for(
        lambda: len(ws.calls_to("apps.connections.open")) == 2 and ws.socket_mode.connected,
        DEADLINE,
        "a second Socket Mode connection",
    )
    ws.socket_mode.command("U0ALICE", "C0DEV", "/ops", "help")
    assert "opsloop verbs" in _answer(ws, "U0ALICE", "C0DEV")


@pytest.mark.parametrize(
    ("token", "error"), [("xapp-1-wrong", "invalid_auth"), (BOT_TOKEN, "not_allowed_token_type")]
)
def test_a_wrong_app_token_fails_to_connect_with_a_clear_error(
    workspace: SlackWorkspace, settings: Settings, token: str, error: str
) -> None:
    bot = build(settings, parse_config(CONFIG, {}))
    try:
        with pytest.raises(SocketModeError) as raised:
            connect_socket_mode(bot.bolt, token)
    finally:
        bot.stop()
    assert f"apps.connections.open: {error}" in str(raised.value)
    assert "SLACK_APP_TOKEN" in str(raised.value)
    assert token not in str(raised.value)
    assert not workspace.socket_mode.connected


def _run_env(workspace: SlackWorkspace, tmp_path: Path, app_token: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSLOOP_"))}
    return {
        **clean,
        "SLACK_API_URL": workspace.api_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": app_token,
        "OPSLOOP_CONFIG": str(REPO / "bot" / "sandbox" / "opsloop.yml"),
        "OPSLOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'opsloop.db'}",
        "OPSLOOP_STATE_DIR": str(tmp_path / "state"),
        # This checkout's code, whatever the environment has installed.
        "PYTHONPATH": str(REPO),
    }


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_opsloop_run_answers_a_command_over_the_socket_and_stops_on_a_signal(
    workspace: SlackWorkspace, tmp_path: Path, signum: int
) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path, env=_run_env(workspace, tmp_path, APP_TOKEN),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        workspace.socket_mode.wait_connected(PROCESS_DEADLINE)
        workspace.socket_mode.command("U0ALICE", "C0DEV", "/ops", "help")
        assert "opsloop verbs" in _answer(workspace, "U0ALICE", "C0DEV")
    finally:
        process.send_signal(signum)
        _out, err = process.communicate(timeout=PROCESS_DEADLINE)
    assert process.returncode == 0, err
    assert err.rstrip().endswith("opsloop stopped"), err
    assert APP_TOKEN not in err and BOT_TOKEN not in err


def test_opsloop_run_with_a_wrong_app_token_exits_with_a_clear_error(
    workspace: SlackWorkspace, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path, env=_run_env(workspace, tmp_path, "xapp-1-not-the-token"),
        capture_output=True, text=True, timeout=PROCESS_DEADLINE, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "apps.connections.open: invalid_auth" in result.stderr
    assert "xapp-1-not-the-token" not in result.stderr
