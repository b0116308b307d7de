"""The response_url sink: ephemeral / in_channel answers, replace, delete, errors."""

from __future__ import annotations

import httpx
from slack_sdk import WebClient

from bot.workspace import SlackWorkspace


def test_default_answer_is_ephemeral(workspace: SlackWorkspace) -> None:
    url = workspace.new_response_url("C0DEV", "U0ALICE")
    assert url.startswith(workspace.base_url + "response/")
    answer = httpx.post(url, json={"text": "working on it"})
    assert (answer.status_code, answer.text) == (200, "ok")
    [eph] = workspace.ephemerals("C0DEV", "U0ALICE")
    assert (eph.text, eph.source) == ("working on it", "response_url")
    assert workspace.messages("C0DEV") == []
    [call] = workspace.calls_to("response_url")
    assert call.params["text"] == "working on it" and call.status == 200


def test_replace_original_edits_the_ephemeral_in_place(workspace: SlackWorkspace) -> None:
    url = workspace.new_response_url("C0DEV", "U0ALICE")
    httpx.post(url, json={"text": "build: queued", "response_type": "ephemeral"})
    for state in ("running", "done"):
        httpx.post(url, json={"text": f"build: {state}", "replace_original": True})
    [eph] = workspace.ephemerals("C0DEV", "U0ALICE")
    assert (eph.text, eph.edit_count) == ("build: done", 2)


def test_in_channel_posts_as_the_bot_and_can_be_replaced(workspace: SlackWorkspace) -> None:
    url = workspace.new_response_url("C0OPS", "U0BOB")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*deploying*"}}]
    httpx.post(url, json={"text": "deploying", "blocks": blocks, "response_type": "in_channel"})
    httpx.post(url, json={"text": "deployed", "replace_original": "true"})
    [msg] = workspace.messages("C0OPS")
    assert (msg.user, msg.is_bot, msg.text, msg.edit_count) == ("U0BOT", True, "deployed", 1)
    assert workspace.ephemerals("C0OPS") == []


def test_thread_ts_answers_in_the_thread(workspace: SlackWorkspace, web: WebClient) -> None:
    parent = web.chat_postMessage(channel="C0OPS", text="deploy #9")["ts"]
    url = workspace.new_response_url("C0OPS", "U0BOB")
    httpx.post(url, json={"text": "log line", "response_type": "in_channel", "thread_ts": parent})
    assert [m.text for m in workspace.thread("C0OPS", parent)] == ["deploy #9", "log line"]


def test_delete_original_removes_the_clicked_message(
    workspace: SlackWorkspace, web: WebClient
) -> None:
    ts = web.chat_postMessage(channel="C0OPS", text="Approve?")["ts"]
    url = workspace.new_response_url("C0OPS", "U0BOB", message_ts=ts)
    assert httpx.post(url, json={"delete_original": True}).text == "ok"
    assert workspace.messages("C0OPS") == []


def test_errors_are_plain_text_like_slack(workspace: SlackWorkspace) -> None:
    url = workspace.new_response_url("C0DEV", "U0ALICE")
    empty = httpx.post(url, json={"response_type": "ephemeral"})
    assert (empty.status_code, empty.text) == (400, "no_text")
    too_many = httpx.post(url, json={"text": "x", "blocks": [{"type": "divider"}] * 51})
    assert (too_many.status_code, too_many.text) == (400, "invalid_blocks")
    unknown = httpx.post(workspace.base_url + "response/R-nope", json={"text": "x"})
    assert (unknown.status_code, unknown.text) == (404, "expired_url")
    assert workspace.ephemerals("C0DEV") == []
