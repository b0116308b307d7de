"""The web console over a real workspace, driven over loopback HTTP like the page does."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from bot.workspace import SignedClient, SlackWorkspace
from bot.workspace.console import mount_console
from tests.browser import ENTER, Browser, browser

SECRET = "console-test-signing-secret"
BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "Deploy web to prod"}},
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "*web* `v1.4.2` needs approval from <@U0BOB>"},
        "fields": [
            {"type": "mrkdwn", "text": "*Service*\nweb"},
            {"type": "mrkdwn", "text": "*Environment*\nprod"},
        ],
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "requested by <@U0ALICE>"}]},
    {"type": "divider"},
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": "deploy_approve",
                "value": "dep-7",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Approve"},
            }
        ],
    },
]


@dataclass
class Received:
    """One request the stand-in bot got."""

    headers: dict[str, str]
    body: bytes


class FakeBot(ThreadingHTTPServer):
    """A stdlib server standing in for the bot: records every request and acks 200."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _BotHandler)
        self.received: list[Received] = []
        self.arrived = threading.Condition()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/slack/events"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)


class _BotHandler(BaseHTTPRequestHandler):
    server: FakeBot

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.arrived:
            headers = {k.lower(): v for k, v in self.headers.items()}
            self.server.received.append(Received(headers, body))
            self.server.arrived.notify_all()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Setup:
    workspace: SlackWorkspace
    bot: FakeBot
    http: httpx.Client
    slack: WebClient


@pytest.fixture
def setup() -> Iterator[Setup]:
    bot = FakeBot()
    threading.Thread(target=bot.serve_forever, daemon=True).start()
    with SlackWorkspace(port=0) as workspace:
        mount_console(workspace)
        client = SignedClient(bot.url, SECRET, workspace)
        workspace.connect_bot(client)
        slack = WebClient(token=workspace.bot_token, base_url=workspace.api_url)
        with httpx.Client(base_url=workspace.base_url, timeout=10) as http:
            yield Setup(workspace, bot, http, slack)
        client.close()
        assert workspace.internal_errors == []
    bot.shutdown()
    bot.server_close()


def _verified(received: Received) -> bytes:
    verifier = SignatureVerifier(SECRET)
    timestamp = received.headers["x-slack-request-timestamp"]
    signature = received.headers["x-slack-signature"]
    assert verifier.is_valid(received.body, timestamp, signature)
    return received.body


def _reactions(workspace: SlackWorkspace, channel: str, ts: str) -> dict[str, list[str]]:
    msg = workspace.message(channel, ts)
    return msg.reactions if msg is not None else {}


def _channel(state: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in state["channels"] if c["name"] == name)


def test_page_and_assets_are_served(setup: Setup) -> None:
    page = setup.http.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert 'id="command"' in page.text
    assert 'placeholder="/ops help"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for name, kind in [("console.js", "text/javascript"), ("console.css", "text/css")]:
        asset = setup.http.get(f"/console/static/{name}")
        assert asset.status_code == 200
        assert asset.headers["content-type"].startswith(kind)
    assert setup.http.get("/console/static/../console.py").status_code == 404
    assert setup.http.get("/console/static/nothing.js").status_code == 404


def test_the_web_api_still_answers_beside_the_page(setup: Setup) -> None:
    assert setup.slack.auth_test()["ok"]
    assert setup.http.get("/nowhere").status_code == 404


def test_command_reaches_the_bot_signed(setup: Setup) -> None:
    body = {"user": "U0ALICE", "channel": "C0DEV", "command": "/ops", "text": "deploy web prod"}
    answer = setup.http.post("/console/api/command", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["bot_status"] == 200
    [received] = setup.bot.wait_for(1)
    form = dict(parse_qsl(_verified(received).decode()))
    assert form["command"] == "/ops"
    assert form["text"] == "deploy web prod"
    assert form["user_id"] == "U0ALICE"
    assert form["user_name"] == "alice"
    assert form["channel_id"] == "C0DEV"
    assert form["response_url"].startswith(setup.workspace.base_url + "response/")


def test_command_accepts_names(setup: Setup) -> None:
    body = {"user": "bob", "channel": "#ops", "command": "/ops", "text": "help"}
    assert setup.http.post("/console/api/command", json=body).status_code == 200
    [received] = setup.bot.wait_for(1)
    form = dict(parse_qsl(received.body.decode()))
    assert (form["user_id"], form["channel_id"]) == ("U0BOB", "C0OPS")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"user": "U0NOBODY", "channel": "C0DEV", "command": "/ops"}, "user_not_found"),
        ({"user": "alice", "channel": "C0NOWHERE", "command": "/ops"}, "channel_not_found"),
        ({"user": "alice", "channel": "C0DEV", "command": "ops"}, "invalid_command"),
        ({"user": "alice", "channel": "C0DEV"}, "invalid_arguments"),
    ],
)
def test_bad_commands_are_refused(setup: Setup, body: dict[str, str], error: str) -> None:
    answer = setup.http.post("/console/api/command", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(error)
    assert setup.bot.received == []


def test_only_json_from_this_origin_is_accepted(setup: Setup) -> None:
    form = {"user": "alice", "channel": "C0DEV", "command": "/ops"}
    assert setup.http.post("/console/api/command", data=form).status_code == 415
    evil = {"Origin": "http://evil.example"}
    answer = setup.http.post("/console/api/command", json=form, headers=evil)
    assert answer.status_code == 403
    assert setup.http.get("/", headers={"Host": "evil.example"}).status_code == 403
    assert setup.http.get("/console/api/command").status_code == 405
    assert setup.http.get("/console/api/nothing").status_code == 404
    assert setup.bot.received == []


def test_react_adds_the_reaction_and_tells_the_bot(setup: Setup) -> None:
    ts = setup.slack.chat_postMessage(channel="C0OPS", text="Deploy web to prod?")["ts"]
    body = {"user": "U0BOB", "channel": "C0OPS", "ts": ts, "name": "white_check_mark"}
    answer = setup.http.post("/console/api/react", json=body)
    assert answer.status_code == 200, answer.text
    state = setup.http.get("/console/api/state").json()
    [msg] = _channel(state, "ops")["messages"]
    assert msg["reactions"] == [{"name": "white_check_mark", "users": ["U0BOB"], "count": 1}]
    [received] = setup.bot.wait_for(1)
    event = json.loads(_verified(received))["event"]
    assert event["type"] == "reaction_added"
    assert (event["user"], event["reaction"]) == ("U0BOB", "white_check_mark")
    assert event["item"] == {"type": "message", "channel": "C0OPS", "ts": ts}

    again = setup.http.post("/console/api/react", json=body)
    assert (again.status_code, again.json()["error"]) == (400, "already_reacted")

    removed = setup.http.post("/console/api/react", json={**body, "remove": True})
    assert removed.status_code == 200
    assert "reactions" not in setup.workspace.snapshot()["channels"][0]["messages"][0]
    event = json.loads(setup.bot.wait_for(2)[1].body)["event"]
    assert event["type"] == "reaction_removed"


def test_react_on_a_missing_message_is_refused(setup: Setup) -> None:
    body = {"user": "U0BOB", "channel": "C0OPS", "ts": "1.000001", "name": "eyes"}
    answer = setup.http.post("/console/api/react", json=body)
    assert (answer.status_code, answer.json()["error"]) == (400, "message_not_found")


def test_blocks_reach_the_snapshot_and_buttons_click(setup: Setup) -> None:
    posted = setup.slack.chat_postMessage(channel="C0OPS", text="Deploy web?", blocks=BLOCKS)
    state = setup.http.get("/console/api/state").json()
    [msg] = _channel(state, "ops")["messages"]
    assert msg["blocks"] == BLOCKS
    assert msg["is_bot"] is True
    assert msg["edit_count"] == 0

    body = {
        "user": "carol",
        "channel": "C0OPS",
        "ts": posted["ts"],
        "action_id": "deploy_approve",
        "value": "dep-7",
    }
    answer = setup.http.post("/console/api/click", json=body)
    assert answer.status_code == 200, answer.text
    [received] = setup.bot.wait_for(1)
    payload = json.loads(dict(parse_qsl(_verified(received).decode()))["payload"])
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U0CAROL"
    assert payload["actions"][0]["action_id"] == "deploy_approve"
    assert payload["actions"][0]["value"] == "dep-7"


def test_edits_and_ephemerals_show_in_the_state(setup: Setup) -> None:
    ts = setup.slack.chat_postMessage(channel="C0DEV", text="building…")["ts"]
    setup.slack.chat_update(channel="C0DEV", ts=ts, text="built")
    setup.slack.chat_postMessage(channel="C0DEV", text="log line", thread_ts=ts)
    setup.slack.chat_postEphemeral(channel="C0DEV", user="U0ALICE", text="only alice")
    dev = _channel(setup.http.get("/console/api/state").json(), "dev")
    [msg] = dev["messages"]
    assert (msg["text"], msg["edit_count"]) == ("built", 1)
    assert [r["text"] for r in msg["replies"]] == ["log line"]
    assert [e["text"] for e in dev["ephemerals"]["U0ALICE"]] == ["only alice"]


def test_state_long_poll_returns_promptly_after_a_change(setup: Setup) -> None:
    version = setup.http.get("/console/api/state").json()["version"]
    quiet_start = time.monotonic()
    quiet = setup.http.get("/console/api/state", params={"since": version, "wait": 0.3})
    assert quiet.json()["version"] == version
    assert time.monotonic() - quiet_start >= 0.25

    def post_later() -> None:
        time.sleep(0.3)
        setup.workspace.user_post("U0DAVE", "C0TEAM", "lunch?")

    threading.Thread(target=post_later, daemon=True).start()
    started = time.monotonic()
    answer = setup.http.get("/console/api/state", params={"since": version, "wait": 20})
    assert time.monotonic() - started < 5
    state = answer.json()
    assert state["version"] > version
    assert [m["text"] for m in _channel(state, "team")["messages"]] == ["lunch?"]
    bad = setup.http.get("/console/api/state", params={"since": "x"})
    assert bad.status_code == 400


def test_a_tab_closed_during_a_long_poll_is_silent(
    setup: Setup, capfd: pytest.CaptureFixture[str]
) -> None:
    """Closing or reloading a console tab drops its long poll; the answer written later
    finds the stream closed, which is normal: nothing is printed, the server serves on."""
    version = setup.http.get("/console/api/state").json()["version"]
    host, port = setup.workspace.base_url.removeprefix("http://").rstrip("/").split(":")
    for _tab in range(3):
        tab = socket.create_connection((host, int(port)), timeout=10)
        tab.sendall(
            f"GET /console/api/state?since={version}&wait=20 HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n\r\n".encode()
        )
        # Closing with a zero linger resets the connection, as a closed tab may.
        tab.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        tab.close()
    setup.workspace.user_post("U0DAVE", "C0TEAM", "anyone there?")
    setup.workspace.wait_for(lambda: setup.workspace.peers_gone >= 3, 10, "three closed tabs")
    assert setup.http.get("/console/api/state").status_code == 200
    printed = capfd.readouterr()
    assert "Traceback" not in printed.err + printed.out
    assert "BrokenPipeError" not in printed.err + printed.out


def test_no_bot_connected_is_reported(setup: Setup) -> None:
    setup.workspace.disconnect_bot()
    body = {"user": "alice", "channel": "C0DEV", "command": "/ops", "text": "help"}
    answer = setup.http.post("/console/api/command", json=body)
    assert answer.status_code == 503
    assert answer.json()["error"].startswith("no_bot_connected")


@pytest.fixture
def page(setup: Setup, tmp_path: Path) -> Iterator[Browser]:
    """The console open in headless Chromium on #ops (skipped without it, unless CI=true)."""
    with browser(tmp_path / "profile") as running:
        running.open(setup.workspace.base_url + "#ops")
        yield running


def test_the_page_renders_and_acts_in_a_browser(setup: Setup, page: Browser) -> None:
    """The page's script renders blocks and untrusted text as text, and its buttons,
    reactions and command box reach the bot."""
    posted = setup.slack.chat_postMessage(channel="C0OPS", text="Deploy web?", blocks=BLOCKS)
    setup.workspace.user_post("U0ALICE", "C0OPS", "<img src=x onerror=alert(1)> *shipped*")
    html = page.wait_for(
        "return document.querySelectorAll('#messages .msg').length === 2 "
        "&& document.getElementById('messages').innerHTML"
    )
    assert "Deploy web to prod" in html
    assert "&lt;img src=x onerror=alert(1)&gt; <strong>shipped</strong>" in html
    assert "@bob" in html
    assert page.run("return document.querySelectorAll('.fields .field').length") == 2

    page.click(".bk-button")
    [click] = setup.bot.wait_for(1)
    payload = json.loads(dict(parse_qsl(click.body.decode()))["payload"])
    assert (payload["user"]["id"], payload["actions"][0]["value"]) == ("U0ALICE", "dep-7")

    page.click(f".msg[data-ts='{posted['ts']}'] .add-reaction")
    page.click(f".msg[data-ts='{posted['ts']}'] .picker button[data-reaction='white_check_mark']")
    reactions = setup.workspace.wait_for(lambda: _reactions(setup.workspace, "C0OPS", posted["ts"]))
    assert reactions == {"white_check_mark": ["U0ALICE"]}
    assert page.wait_for("return document.querySelector('.chip.mine') !== null")

    page.type("#command", "/ops status web" + ENTER)
    command = dict(parse_qsl(setup.bot.wait_for(3)[2].body.decode()))
    assert (command["command"], command["text"], command["channel_id"]) == (
        "/ops",
        "status web",
        "C0OPS",
    )
    assert page.wait_for(
        "return document.getElementById('status').textContent.includes('HTTP 200')"
    )


def test_reactions_show_as_slack_shows_them(setup: Setup, page: Browser) -> None:
    """Only reactions someone added show, each once with its count, beside one
    add-reaction control; no emoji stands under a message that nobody reacted to."""
    posted = setup.slack.chat_postMessage(channel="C0OPS", text="Deploy web to prod?")
    ts = posted["ts"]
    row = f".msg[data-ts='{ts}'] .reactions"
    page.element(row)
    assert page.run(
        "const row = document.querySelector(arguments[0]);"
        "return [row.querySelectorAll('.chip').length,"
        " row.querySelectorAll('.add-reaction').length, row.textContent]",
        row,
    ) == [0, 1, "☺+"]
    for user in ("U0BOB", "U0CAROL", "U0DAVE"):
        setup.workspace.user_react(user, "C0OPS", ts, "white_check_mark")
    setup.workspace.user_react("U0BOB", "C0OPS", ts, "eyes")
    chips = page.wait_for(
        "const chips = [...document.querySelectorAll(arguments[0] + ' .chip')];"
        "return chips.length === 2 && chips.map((c) => c.textContent)",
        row,
    )
    assert chips == ["✅3", "👀1"]
    assert page.run("return document.querySelector(arguments[0] + ' .chip.mine')", row) is None

    page.click(f"{row} .chip[data-reaction='white_check_mark']")  # alice adds hers
    setup.workspace.wait_for(
        lambda: len(_reactions(setup.workspace, "C0OPS", ts)["white_check_mark"]) == 4
    )
    assert (
        page.wait_for(
            "return document.querySelector(arguments[0] + ' .chip.mine')?.textContent", row
        )
        == "✅4"
    )
    page.click(f"{row} .chip.mine")  # and takes it back
    setup.workspace.wait_for(
        lambda: "U0ALICE" not in _reactions(setup.workspace, "C0OPS", ts)["white_check_mark"]
    )
    assert page.wait_for(
        "return document.querySelector(arguments[0] + ' .chip.mine') === null", row
    )
