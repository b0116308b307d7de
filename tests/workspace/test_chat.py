"""chat.* and reactions.* through slack_sdk's WebClient, asserted on workspace state."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.workspace import SlackWorkspace
from tests.workspace.conftest import TOKEN

TS = re.compile(r"^\d{10}\.\d{6}$")


def error_of(call: object) -> str:
    """Run a WebClient call expected to fail; the Slack error code."""
    with pytest.raises(SlackApiError) as failure:
        call()  # type: ignore[operator]
    return str(failure.value.response["error"])


def test_post_keeps_text_blocks_and_author(web: WebClient, workspace: SlackWorkspace) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*deploying* web"}}]
    sent = web.chat_postMessage(channel="C0OPS", text="deploying web", blocks=blocks)
    assert TS.match(sent["ts"]) and sent["channel"] == "C0OPS"
    [msg] = workspace.messages("C0OPS")
    assert (msg.ts, msg.text, msg.blocks) == (sent["ts"], "deploying web", blocks)
    assert (msg.user, msg.bot_id, msg.is_bot) == ("U0BOT", "B0BOT", True)
    assert workspace.messages("C0DEV") == []


def test_a_post_to_a_user_id_lands_in_the_apps_direct_messages_with_them(
    web: WebClient, workspace: SlackWorkspace
) -> None:
    sent = web.chat_postMessage(channel="U0CAROL", text="your lock on prod was released")
    direct = str(sent["channel"])
    assert direct.startswith("D")
    [msg] = workspace.messages(direct)
    assert msg.text == "your lock on prod was released" and msg.is_bot
    again = web.chat_postMessage(channel="U0CAROL", text="second")
    assert again["channel"] == direct  # one conversation per person
    info = web.conversations_info(channel=direct)["channel"]
    assert info["is_im"] and not info["is_channel"] and not info["is_group"]
    assert [m.text for m in workspace.messages("C0DEV")] == []
    assert error_of(lambda: web.chat_postMessage(channel="U0NOBODY", text="x")) == (
        "channel_not_found"
    )


def test_timestamps_strictly_increase(web: WebClient) -> None:
    stamps = [web.chat_postMessage(channel="C0DEV", text=str(i))["ts"] for i in range(20)]
    assert stamps == sorted(stamps, key=float) and len(set(stamps)) == 20


def test_thread_replies_count_on_the_parent(web: WebClient, workspace: SlackWorkspace) -> None:
    parent = web.chat_postMessage(channel="C0OPS", text="deploy #7")["ts"]
    web.chat_postMessage(channel="C0OPS", text="step 1", thread_ts=parent)
    web.chat_postMessage(channel="C0OPS", text="step 2", thread_ts=parent)
    thread = workspace.thread("C0OPS", parent)
    assert [m.text for m in thread] == ["deploy #7", "step 1", "step 2"]
    assert thread[0].reply_count == 2
    assert all(m.thread_ts == parent for m in thread)
    assert [m.text for m in workspace.messages("C0OPS")] == ["deploy #7"]
    replies = web.conversations_replies(channel="C0OPS", ts=parent)["messages"]
    assert [m["text"] for m in replies] == ["deploy #7", "step 1", "step 2"]
    assert replies[0]["reply_count"] == 2
    assert replies[1]["parent_user_id"] == "U0BOT"


def test_update_edits_in_place_and_keeps_history(web: WebClient, workspace: SlackWorkspace) -> None:
    ts = web.chat_postMessage(channel="C0OPS", text="build: queued")["ts"]
    for state in ("running", "pushing", "done"):
        answer = web.chat_update(channel="C0OPS", ts=ts, text=f"build: {state}")
        assert answer["ts"] == ts and answer["text"] == f"build: {state}"
    [msg] = workspace.messages("C0OPS")
    assert msg.text == "build: done"
    assert msg.edit_count == 3
    assert [e.text for e in msg.edits] == ["build: running", "build: pushing", "build: done"]


def test_update_keeps_blocks_unless_replaced(web: WebClient, workspace: SlackWorkspace) -> None:
    blocks = [{"type": "section", "text": {"type": "plain_text", "text": "v1"}}]
    ts = web.chat_postMessage(channel="C0OPS", text="v1", blocks=blocks)["ts"]
    web.chat_update(channel="C0OPS", ts=ts, text="v2")
    message = workspace.message("C0OPS", ts)
    assert message is not None and message.blocks == blocks
    web.chat_update(channel="C0OPS", ts=ts, text="v3", blocks=[])
    message = workspace.message("C0OPS", ts)
    assert message is not None and message.blocks is None


def test_delete_removes_the_message(web: WebClient, workspace: SlackWorkspace) -> None:
    ts = web.chat_postMessage(channel="C0OPS", text="oops")["ts"]
    assert web.chat_delete(channel="C0OPS", ts=ts)["ts"] == ts
    assert workspace.messages("C0OPS") == []
    assert [m.text for m in workspace.deleted_messages] == ["oops"]
    assert error_of(lambda: web.chat_delete(channel="C0OPS", ts=ts)) == "message_not_found"


def test_reactions_add_get_remove(web: WebClient, workspace: SlackWorkspace) -> None:
    ts = web.chat_postMessage(channel="C0OPS", text="approve?")["ts"]
    workspace.user_react("U0BOB", "C0OPS", ts, "white_check_mark")
    web.reactions_add(channel="C0OPS", timestamp=ts, name="eyes")
    got = web.reactions_get(channel="C0OPS", timestamp=ts)["message"]["reactions"]
    assert got == [
        {"name": "white_check_mark", "users": ["U0BOB"], "count": 1},
        {"name": "eyes", "users": ["U0BOT"], "count": 1},
    ]
    assert error_of(lambda: web.reactions_add(channel="C0OPS", timestamp=ts, name="eyes")) == (
        "already_reacted"
    )
    web.reactions_remove(channel="C0OPS", timestamp=ts, name="eyes")
    message = workspace.message("C0OPS", ts)
    assert message is not None and message.reactions == {"white_check_mark": ["U0BOB"]}
    assert error_of(lambda: web.reactions_remove(channel="C0OPS", timestamp=ts, name="eyes")) == (
        "no_reaction"
    )


def test_ephemeral_is_seen_by_one_user_only(web: WebClient, workspace: SlackWorkspace) -> None:
    answer = web.chat_postEphemeral(channel="C0DEV", user="U0ALICE", text="only you")
    assert TS.match(answer["message_ts"])
    assert [e.text for e in workspace.ephemerals("C0DEV", "U0ALICE")] == ["only you"]
    assert workspace.ephemerals("C0DEV", "U0BOB") == []
    assert workspace.messages("C0DEV") == []
    assert web.conversations_history(channel="C0DEV")["messages"] == []
    assert error_of(lambda: web.chat_postEphemeral(channel="C0DEV", user="U0NOBODY", text="x")) == (
        "user_not_in_channel"
    )


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"channel": "C0NOPE", "text": "x"}, "channel_not_found"),
        ({"channel": "C0OPS"}, "no_text"),
        ({"channel": "C0OPS", "text": "x" * 40_001}, "msg_too_long"),
        ({"channel": "C0OPS", "text": "t", "blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
        ({"channel": "C0OPS", "text": "t", "blocks": [{"text": "no type"}]}, "invalid_blocks"),
        (
            {
                "channel": "C0OPS",
                "text": "t",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
            },
            "invalid_blocks",
        ),
    ],
)
def test_post_errors(
    web: WebClient, workspace: SlackWorkspace, kwargs: dict[str, Any], code: str
) -> None:
    assert error_of(lambda: web.chat_postMessage(**kwargs)) == code
    assert workspace.messages("C0OPS") == []
    assert workspace.calls_to("chat.postMessage")[-1].error == code


def test_invalid_blocks_explain_where(web: WebClient) -> None:
    with pytest.raises(SlackApiError) as failure:
        web.chat_postMessage(channel="C0OPS", text="t", blocks=[{"type": "divider"}] * 51)
    messages = failure.value.response["response_metadata"]["messages"]
    assert any("[json-pointer:/blocks]" in m for m in messages)


def test_cannot_edit_or_delete_a_persons_message(web: WebClient, workspace: SlackWorkspace) -> None:
    ts = workspace.user_post("U0ALICE", "C0DEV", "my own words").ts
    assert (
        error_of(lambda: web.chat_update(channel="C0DEV", ts=ts, text="x")) == "cant_update_message"
    )
    assert error_of(lambda: web.chat_delete(channel="C0DEV", ts=ts)) == "cant_delete_message"
    message = workspace.message("C0DEV", ts)
    assert message is not None and message.text == "my own words" and message.edit_count == 0


def test_update_unknown_message(web: WebClient) -> None:
    code = error_of(lambda: web.chat_update(channel="C0OPS", ts="1700000000.000100", text="x"))
    assert code == "message_not_found"


def test_auth_errors(plain_workspace: SlackWorkspace) -> None:
    anonymous = WebClient(base_url=plain_workspace.api_url)
    wrong = WebClient(token="xoxb-wrong", base_url=plain_workspace.api_url)
    assert error_of(lambda: anonymous.chat_postMessage(channel="C0OPS", text="x")) == "not_authed"
    assert error_of(lambda: wrong.chat_postMessage(channel="C0OPS", text="x")) == "invalid_auth"
    assert plain_workspace.messages("C0OPS") == []


def test_form_encoded_body_with_token_param(workspace: SlackWorkspace) -> None:
    blocks = '[{"type": "section", "text": {"type": "mrkdwn", "text": "from a form"}}]'
    answer = httpx.post(
        workspace.api_url + "chat.postMessage",
        data={"token": TOKEN, "channel": "C0TEAM", "text": "form", "blocks": blocks},
    ).json()
    assert answer["ok"] is True
    [msg] = workspace.messages("C0TEAM")
    assert msg.blocks == [{"type": "section", "text": {"type": "mrkdwn", "text": "from a form"}}]
    [call] = workspace.calls_to("chat.postMessage")
    assert call.params["channel"] == "C0TEAM" and call.params["token"] == "[redacted]"


def test_get_query_reads_and_unknown_method(workspace: SlackWorkspace) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    info = httpx.get(workspace.api_url + "users.info", params={"user": "U0CAROL"}, headers=auth)
    assert info.json()["user"]["real_name"] == "Carol Chen"
    unknown = httpx.post(workspace.api_url + "chat.teleport", headers=auth)
    assert unknown.status_code == 200
    assert unknown.json() == {"ok": False, "error": "unknown_method", "req_method": "chat.teleport"}


def test_channel_name_is_accepted_like_slack(web: WebClient, workspace: SlackWorkspace) -> None:
    web.chat_postMessage(channel="#ops", text="by name")
    assert [m.text for m in workspace.messages("C0OPS")] == ["by name"]


def test_deleting_a_thread_parent_leaves_a_tombstone(
    web: WebClient, workspace: SlackWorkspace
) -> None:
    parent = web.chat_postMessage(channel="C0OPS", text="deploy")["ts"]
    reply = web.chat_postMessage(channel="C0OPS", text="step", thread_ts=parent)["ts"]
    web.chat_delete(channel="C0OPS", ts=parent)
    [tombstone] = workspace.messages("C0OPS")
    assert (tombstone.subtype, tombstone.reply_count) == ("tombstone", 1)
    web.chat_delete(channel="C0OPS", ts=reply)
    assert workspace.thread("C0OPS", parent)[0].reply_count == 0


def test_broadcast_reply_also_shows_in_the_channel(
    web: WebClient, workspace: SlackWorkspace
) -> None:
    parent = web.chat_postMessage(channel="C0OPS", text="deploy")["ts"]
    web.chat_postMessage(channel="C0OPS", text="done!", thread_ts=parent, reply_broadcast=True)
    assert [m.text for m in workspace.messages("C0OPS")] == ["deploy", "done!"]
    assert [m["text"] for m in web.conversations_history(channel="C0OPS")["messages"]] == [
        "done!",
        "deploy",
    ]
