"""SignedClient: what reaches the bot's endpoint, and people acting in the workspace."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient

from bot.workspace import APP_ID, TEAM_ID, SignedClient, SlackWorkspace, sign
from tests.workspace.conftest import SECRET
from tests.workspace.fakebot import FakeBot, Received

BUTTONS: list[dict[str, Any]] = [
    {"type": "section", "block_id": "summary", "text": {"type": "mrkdwn", "text": "Deploy web?"}},
    {
        "type": "actions",
        "block_id": "decide",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "value": "deploy-7",
                "text": {"type": "plain_text", "text": "Approve"},
            },
            {"type": "button", "action_id": "reject", "value": "deploy-7"},
        ],
    },
]


def test_sign_matches_an_independent_hmac() -> None:
    body = b"token=x&text=hello"
    expected = hmac.new(b"shh", b"v0:1531420618:" + body, hashlib.sha256).hexdigest()
    assert sign("shh", 1531420618, body) == "v0=" + expected


def test_slash_is_form_encoded_and_verifiable(
    signed: SignedClient, fake_bot: FakeBot, workspace: SlackWorkspace
) -> None:
    assert signed.slash("/deploy", "web 1.2.0 prod").status_code == 200
    got = fake_bot.last
    assert got.verified_by(SECRET)
    assert not got.verified_by("another-secret")
    assert got.headers["content-type"] == "application/x-www-form-urlencoded"
    form = got.form()
    assert {k: form[k] for k in ("command", "text", "user_id", "user_name")} == {
        "command": "/deploy",
        "text": "web 1.2.0 prod",
        "user_id": "U0ALICE",
        "user_name": "alice",
    }
    assert (form["channel_id"], form["channel_name"]) == ("C0DEV", "dev")
    assert (form["team_id"], form["team_domain"], form["api_app_id"]) == (
        TEAM_ID,
        "opsloop-sandbox",
        APP_ID,
    )
    assert form["response_url"].startswith(workspace.base_url + "response/")
    assert form["trigger_id"] and form["token"]


def test_reaction_added_envelope_and_retry_headers(signed: SignedClient, fake_bot: FakeBot) -> None:
    signed.reaction_added("U0BOB", "white_check_mark", "C0OPS", "1700000000.000100")
    first = fake_bot.last
    envelope = first.json()
    assert first.verified_by(SECRET)
    assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
    assert envelope["event"] == {
        "type": "reaction_added",
        "user": "U0BOB",
        "reaction": "white_check_mark",
        "item_user": "U0BOT",
        "item": {"type": "message", "channel": "C0OPS", "ts": "1700000000.000100"},
        "event_ts": envelope["event"]["event_ts"],
    }
    assert envelope["authorizations"][0]["user_id"] == "U0BOT"
    assert "x-slack-retry-num" not in first.headers
    signed.reaction_removed(
        "U0BOB", "x", "C0OPS", "1700000000.000100", event_id=envelope["event_id"], retry_num=1
    )
    retry = fake_bot.last
    assert retry.json()["event_id"] == envelope["event_id"]
    assert retry.json()["event"]["type"] == "reaction_removed"
    assert (retry.headers["x-slack-retry-num"], retry.headers["x-slack-retry-reason"]) == (
        "1",
        "http_timeout",
    )


def test_block_action_payload_describes_the_click(
    signed: SignedClient, fake_bot: FakeBot, web: WebClient
) -> None:
    ts = web.chat_postMessage(channel="C0OPS", text="Deploy web?", blocks=BUTTONS)["ts"]
    signed.block_action("U0CAROL", "C0OPS", ts, "approve", "deploy-7")
    got = fake_bot.last
    assert got.verified_by(SECRET)
    payload = got.json()
    assert payload["type"] == "block_actions"
    assert payload["user"]["id"] == "U0CAROL" and payload["user"]["username"] == "carol"
    assert payload["channel"] == {"id": "C0OPS", "name": "ops"}
    assert payload["container"]["message_ts"] == ts
    assert payload["message"]["blocks"] == BUTTONS
    [action] = payload["actions"]
    assert (action["action_id"], action["block_id"], action["value"], action["type"]) == (
        "approve",
        "decide",
        "deploy-7",
        "button",
    )
    assert payload["response_url"].startswith("http://127.0.0.1:")


def test_url_verification_is_signed_json(signed: SignedClient, fake_bot: FakeBot) -> None:
    signed.url_verification("abc123")
    got = fake_bot.last
    assert got.verified_by(SECRET)
    assert got.json() == {
        "token": signed.verification_token,
        "challenge": "abc123",
        "type": "url_verification",
    }


def test_send_raw_forges_exactly_what_is_asked(signed: SignedClient, fake_bot: FakeBot) -> None:
    body = b"command=%2Fops&text=help"
    signed.send_raw(body)
    assert fake_bot.last.verified_by(SECRET)
    assert fake_bot.last.headers["content-type"] == "application/x-www-form-urlencoded"
    signed.send_raw(body, {}, signature="v0=" + "0" * 64)
    assert fake_bot.last.headers["x-slack-signature"] == "v0=" + "0" * 64
    assert not fake_bot.last.verified_by(SECRET)
    signed.send_raw(body, {}, signature="")
    assert "x-slack-signature" not in fake_bot.last.headers
    stale = int(time.time()) - 6 * 60
    signed.send_raw(body, {}, timestamp=stale)
    assert fake_bot.last.headers["x-slack-request-timestamp"] == str(stale)
    assert fake_bot.last.headers["x-slack-signature"] == sign(SECRET, stale, body)
    signed.send_raw(b'{"a": 1}', omit={"X-Slack-Request-Timestamp"})
    assert "x-slack-request-timestamp" not in fake_bot.last.headers
    assert fake_bot.last.headers["content-type"] == "application/json"
    assert [s.kind for s in signed.sent] == ["raw"] * 5


def test_user_react_delivers_a_signed_reaction_added(
    signed: SignedClient, fake_bot: FakeBot, workspace: SlackWorkspace, web: WebClient
) -> None:
    ts = web.chat_postMessage(channel="C0OPS", text="approve?")["ts"]
    response = workspace.user_react("U0BOB", "C0OPS", ts, ":white_check_mark:")
    assert response is not None and response.status_code == 200
    got = fake_bot.last
    assert got.verified_by(SECRET)
    event = got.json()["event"]
    assert (event["type"], event["user"], event["reaction"]) == (
        "reaction_added",
        "U0BOB",
        "white_check_mark",
    )
    assert event["item"] == {"type": "message", "channel": "C0OPS", "ts": ts}
    message = workspace.message("C0OPS", ts)
    assert message is not None and message.reactions == {"white_check_mark": ["U0BOB"]}
    workspace.user_unreact("U0BOB", "C0OPS", ts, "white_check_mark")
    assert fake_bot.last.json()["event"]["type"] == "reaction_removed"
    message = workspace.message("C0OPS", ts)
    assert message is not None and message.reactions == {}


def test_user_react_without_a_bot_only_changes_state(
    workspace: SlackWorkspace, web: WebClient
) -> None:
    ts = web.chat_postMessage(channel="C0OPS", text="approve?")["ts"]
    assert workspace.user_react("U0BOB", "C0OPS", ts, "eyes") is None
    message = workspace.message("C0OPS", ts)
    assert message is not None and message.reactions == {"eyes": ["U0BOB"]}
    with pytest.raises(RuntimeError, match="connect_bot"):
        workspace.user_command("U0ALICE", "C0DEV", "/ops", "help")


def answering_bot(reply: dict[str, object]) -> FakeBot:
    """A fake bot that answers every command / click by POSTing ``reply`` to its response_url."""

    def behaviour(got: Received) -> None:
        form = got.form()
        url = (
            json.loads(form["payload"])["response_url"]
            if "payload" in form
            else form["response_url"]
        )
        assert httpx.post(url, json=reply).text == "ok"

    return FakeBot(behaviour)


def test_user_command_answer_comes_back_as_an_ephemeral(workspace: SlackWorkspace) -> None:
    bot = answering_bot({"text": "Usage: /ops help", "response_type": "ephemeral"})
    try:
        with SignedClient(bot.url, SECRET, workspace) as client:
            workspace.connect_bot(client)
            workspace.user_command("U0DAVE", "C0TEAM", "/ops", "help")
    finally:
        bot.stop()
    assert [e.text for e in workspace.ephemerals("C0TEAM", "U0DAVE")] == ["Usage: /ops help"]
    assert workspace.messages("C0TEAM") == []
    assert workspace.calls_to("response_url")[0].params["text"] == "Usage: /ops help"


def test_user_click_replace_original_edits_the_message(
    workspace: SlackWorkspace, web: WebClient
) -> None:
    ts = web.chat_postMessage(channel="C0OPS", text="Deploy web?", blocks=BUTTONS)["ts"]
    bot = answering_bot({"replace_original": True, "text": "Approved by <@U0CAROL>"})
    try:
        with SignedClient(bot.url, SECRET, workspace) as client:
            workspace.connect_bot(client)
            workspace.user_click("U0CAROL", "C0OPS", ts, "approve", "deploy-7")
    finally:
        bot.stop()
    [msg] = workspace.messages("C0OPS")
    assert (msg.ts, msg.text, msg.blocks, msg.edit_count) == (ts, "Approved by <@U0CAROL>", None, 1)
