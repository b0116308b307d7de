"""Two `opsloop run` processes (Socket Mode) on one PostgreSQL schema: both connect to the
workspace, which sends each envelope to one connection (they take turns), and every command
and event is handled once, whichever process it reached: a retry of an event that lands on
the other connection is dropped there. kill -9 of one leaves the other answering alone."""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from slack_sdk import WebClient
from sqlalchemy import create_engine, insert, select

from bot.store.deploys import deploy_requests
from bot.store.leases import leases
from bot.workspace import SlackWorkspace
from bot.workspace.payloads import reaction_event
from tests.scenarios.conftest import BOT_TOKEN, CONFIG
from tests.scenarios.served import DEADLINE, RUN, serve_env, serving
from tests.specs import specs_dir
from tests.support.postgres import fresh_schema

APP_TOKEN = "xapp-1-A0OPSLOOP-0000-opsloop-two-socket-processes"
CONNECTED = re.compile(r"opsloop connected in Socket Mode")
REFUSED_VOTE = "Deploy #1 is rejected; votes no longer count."


@pytest.fixture
def workspace() -> Iterator[SlackWorkspace]:
    """A spec-checked workspace that knows the app-level token."""
    folder = specs_dir() / "slack"
    with SlackWorkspace(bot_token=BOT_TOKEN, specs_dir=folder, app_token=APP_TOKEN) as running:
        yield running
        running.assert_no_spec_violations()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL."""
    with fresh_schema() as url:
        yield url


def _envs(workspace: SlackWorkspace, tmp_path: Path, database_url: str) -> list[dict[str, str]]:
    """Two processes of one app (one app token) on one database, each with its own state."""
    extra = {
        "SLACK_APP_TOKEN": APP_TOKEN, "OPSLOOP_DATABASE_URL": database_url,
        "OPSLOOP_LEASE_SECONDS": "3", "DOCKER_HOST": "unix:///nonexistent/docker.sock",
    }  # fmt: skip
    envs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        envs.append(serve_env(workspace, tmp_path / name, CONFIG, **extra))
    return envs


def _lease_taken(database_url: str) -> bool:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(leases.c.holder)).first() is not None
    finally:
        engine.dispose()


def _rejected_request(workspace: SlackWorkspace, database_url: str) -> str:
    """A deploy request decided before (rejected), with its message in #ops: its ts."""
    posted = WebClient(token=BOT_TOKEN, base_url=workspace.api_url).chat_postMessage(
        channel="C0OPS", text="Deploy #1 of web 1.0.0 to prod: rejected"
    )
    ts = str(posted["ts"])
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(
            insert(deploy_requests).values(
                kind="deploy", service="web", env="prod", version="1.0.0",
                image="127.0.0.1:5000/web:1.0.0", digest="", requester="U0ALICE",
                channel_id="C0OPS", message_ts=ts, state="rejected", approvals_needed=1,
                created_at=datetime.now(UTC), detail="", shipped="", changes="[]",
            )
        )  # fmt: skip
    engine.dispose()
    return ts


def _texts(workspace: SlackWorkspace, channel: str, user: str) -> list[str]:
    return [str(m.text) for m in workspace.ephemerals(channel, user)]


def _said(workspace: SlackWorkspace, user: str, command: str, text: str) -> str:
    """Run `command` as `user` in #dev; their one new answer (with its blocks' text)."""
    count = len(workspace.ephemerals("C0DEV", user))
    workspace.socket_mode.command(user, "C0DEV", command, text)
    found = workspace.wait_for(
        lambda: workspace.ephemerals("C0DEV", user)[count:], timeout=DEADLINE,
        description=f"an answer to {user}",
    )  # fmt: skip
    blocks = [str((b.get("text") or {}).get("text", "")) for b in found[0].blocks or []]
    return "\n".join([str(found[0].text), *blocks])


def _announced(workspace: SlackWorkspace, text: str) -> int:
    return sum(text in m.text for m in workspace.messages("C0DEV"))


def test_two_socket_mode_processes_each_get_some_envelopes_and_handle_each_once(
    workspace: SlackWorkspace, tmp_path: Path, postgres_url: str
) -> None:
    ws, socket = workspace, workspace.socket_mode
    envs = _envs(ws, tmp_path, postgres_url)
    with serving(envs[0], RUN) as first:
        first.wait_for_line(CONNECTED)
        assert socket.wait_connections(1, DEADLINE) == [1]
        ws.wait_for(lambda: _lease_taken(postgres_url), DEADLINE, "the first to take the lease")
        with serving(envs[1], RUN) as second:
            second.wait_for_line(CONNECTED)
            assert socket.wait_connections(2, DEADLINE) == [1, 2]
            by_connection = {1: first, 2: second}

            # Commands take turns over the two connections; the store decides each.
            ws.socket_mode.command("U0BOB", "C0DEV", "/lock", "staging release freeze")
            ws.wait_for(lambda: _announced(ws, "locked `staging`"), DEADLINE, "bob's lock")
            refused = _said(ws, "U0ALICE", "/lock", "staging")
            processes = _said(ws, "U0ALICE", "/ops", "processes")
            ws.socket_mode.command("U0BOB", "C0DEV", "/unlock", "staging")
            ws.wait_for(lambda: _announced(ws, "unlocked `staging`"), DEADLINE, "the unlock")
            commands = list(socket.routes)
            assert "locked by <@U0BOB> (release freeze)" in refused
            assert "2 alive" in processes
            assert [route.sent_on for route in commands] == [1, 2, 1, 2]
            assert all(route.acked_on == route.sent_on for route in commands)

            # A reaction event, then Slack's retry of it (same event_id, a new envelope),
            # which goes to the other connection: the vote is handled by one process.
            ts = _rejected_request(ws, postgres_url)
            ws.socket_mode.react("U0BOB", "C0OPS", ts, "white_check_mark", event_id="Ev0SOCK1")
            ws.wait_for(lambda: _texts(ws, "C0OPS", "U0BOB"), DEADLINE, "the refused vote")
            retry = reaction_event(
                "reaction_added", user_id="U0BOB", reaction="white_check_mark",
                channel_id="C0OPS", ts=ts, item_user="U0BOT",
            )  # fmt: skip
            ws.socket_mode.event(retry, event_id="Ev0SOCK1", retry_attempt=1,
                                 retry_reason="timeout")  # fmt: skip
            original, repeat = socket.routes[-2:]
            assert original.sent_on != repeat.sent_on
            dropped = re.compile(r"event Ev0SOCK1 already handled; ignoring the repeat")
            by_connection[repeat.sent_on].wait_for_line(dropped)
            assert _texts(ws, "C0OPS", "U0BOB") == [f":warning: {REFUSED_VOTE}"]

            # kill -9 of the first: its connection drops and the second answers alone.
            first.process.kill()
            first.process.wait(timeout=DEADLINE)
            assert socket.wait_connections(1, DEADLINE) == [2]
            ws.socket_mode.command("U0ALICE", "C0DEV", "/lock", "staging after the kill")
            ws.wait_for(
                lambda: _announced(ws, "<@U0ALICE> locked `staging`"), DEADLINE,
                "alice's lock, from the second process",
            )  # fmt: skip
            assert socket.routes[-1].sent_on == socket.routes[-1].acked_on == 2
            # Each command was answered once: bob's lock, his unlock, alice's lock.
            said = ("<@U0BOB> locked", "<@U0BOB> unlocked", "<@U0ALICE> locked")
            assert [_announced(ws, f"{what} `staging`") for what in said] == [1, 1, 1]
            assert second.end(signal.SIGTERM) == 0
