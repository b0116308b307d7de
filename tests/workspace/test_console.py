"""The web console over a real workspace, driven over loopback HTTP like the page does."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
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


def test_no_bot_connected_is_reported(setup: Setup) -> None:
    setup.workspace.disconnect_bot()
    body = {"user": "alice", "channel": "C0DEV", "command": "/ops", "text": "help"}
    answer = setup.http.post("/console/api/command", json=body)
    assert answer.status_code == 503
    assert answer.json()["error"].startswith("no_bot_connected")


class Browser:
    """Headless chromium driven over the DevTools protocol on a pipe (fds 3 and 4)."""

    def __init__(self, url: str, profile: str) -> None:
        self._to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, self._from_chrome_w = os.pipe()
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--window-size=1280,900",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            url,
        ]
        fds = f"3<&{self._to_chrome_r} 4>&{self._from_chrome_w}"
        self.process = subprocess.Popen(
            ["bash", "-c", f'exec chromium "$@" {fds} 2>/dev/null', "chromium", *flags],
            pass_fds=(self._to_chrome_r, self._from_chrome_w),
        )
        os.close(self._to_chrome_r)
        os.close(self._from_chrome_w)
        self._ids = 0
        self._buffer = b""
        self.session = ""

    def call(self, method: str, timeout: float = 15.0, **params: Any) -> dict[str, Any]:
        self._ids += 1
        message: dict[str, Any] = {"id": self._ids, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                answer = json.loads(raw)
                if answer.get("id") == self._ids:
                    if "error" in answer:
                        raise RuntimeError(f"{method}: {answer['error']}")
                    return dict(answer["result"])
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_chrome], [], [], max(remaining, 0))
            chunk = os.read(self._from_chrome, 65536) if ready else b""
            if not chunk:
                raise TimeoutError(f"no answer to {method}")
            self._buffer += chunk

    def attach(self) -> None:
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        attached = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)
        self.session = attached["sessionId"]

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"page never satisfied {expression}")

    def close(self) -> None:
        with contextlib.suppress(OSError, TimeoutError, RuntimeError):
            self.session = ""
            self.call("Browser.close", timeout=5)
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def browser(setup: Setup, tmp_path: Path) -> Iterator[Browser]:
    if shutil.which("chromium") is None:
        pytest.skip("chromium is not installed (this browser check is optional)")
    running = Browser(setup.workspace.base_url + "#ops", str(tmp_path / "profile"))
    try:
        running.attach()
    except (TimeoutError, RuntimeError, OSError, StopIteration) as exc:
        running.close()
        pytest.skip(f"headless chromium did not start here: {exc!r}")
    yield running
    running.close()


def test_the_page_renders_and_acts_in_a_browser(setup: Setup, browser: Browser) -> None:
    """Optional (needs chromium): the page's script renders blocks and untrusted text as
    text, and its buttons, reactions and command box reach the bot."""
    posted = setup.slack.chat_postMessage(channel="C0OPS", text="Deploy web?", blocks=BLOCKS)
    setup.workspace.user_post("U0ALICE", "C0OPS", "<img src=x onerror=alert(1)> *shipped*")
    html = browser.wait_for(
        "document.querySelectorAll('#messages .msg').length === 2 "
        "&& document.getElementById('messages').innerHTML"
    )
    assert "Deploy web to prod" in html
    assert "&lt;img src=x onerror=alert(1)&gt; <strong>shipped</strong>" in html
    assert "@bob" in html
    assert browser.evaluate("document.querySelectorAll('.fields .field').length") == 2

    browser.evaluate("[...document.querySelectorAll('.bk-button')][0].click()")
    [click] = setup.bot.wait_for(1)
    payload = json.loads(dict(parse_qsl(click.body.decode()))["payload"])
    assert (payload["user"]["id"], payload["actions"][0]["value"]) == ("U0ALICE", "dep-7")

    browser.evaluate("document.querySelector('.quick button').click()")  # white_check_mark
    reactions = setup.workspace.wait_for(lambda: _reactions(setup.workspace, "C0OPS", posted["ts"]))
    assert reactions == {"white_check_mark": ["U0ALICE"]}
    assert browser.wait_for("document.querySelector('.chip.mine') !== null")

    browser.evaluate(
        "document.getElementById('command').value = '/ops status web';"
        "document.getElementById('composer').requestSubmit()"
    )
    command = dict(parse_qsl(setup.bot.wait_for(3)[2].body.decode()))
    assert (command["command"], command["text"], command["channel_id"]) == (
        "/ops",
        "status web",
        "C0OPS",
    )
    assert browser.wait_for("document.getElementById('status').textContent.includes('HTTP 200')")
