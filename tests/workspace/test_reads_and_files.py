"""users, usergroups, conversations.* reads and the v2 file upload, via WebClient."""

from __future__ import annotations

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.workspace import BOT_ID, BOT_USER_ID, TEAM_ID, SlackWorkspace


def test_auth_test_names_the_bot(web: WebClient) -> None:
    answer = web.auth_test()
    assert (answer["user_id"], answer["bot_id"], answer["team_id"]) == (
        BOT_USER_ID,
        BOT_ID,
        TEAM_ID,
    )


def test_users_info_has_profile_email(web: WebClient) -> None:
    alice = web.users_info(user="U0ALICE")["user"]
    assert (alice["name"], alice["real_name"]) == ("alice", "Alice Anderson")
    assert alice["profile"]["email"] == "alice@example.com"
    assert alice["is_bot"] is False
    with pytest.raises(SlackApiError) as failure:
        web.users_info(user="U0NOBODY")
    assert failure.value.response["error"] == "user_not_found"


def test_added_people_and_groups_are_served(web: WebClient, workspace: SlackWorkspace) -> None:
    workspace.add_user("U0ERIN", "erin", "Erin Evans", "erin@example.com")
    workspace.add_usergroup("S0ONCALL", "oncall", ["U0ERIN", "U0DAVE"])
    workspace.add_channel("C0INCIDENT", "incident-42")
    assert web.users_info(user="U0ERIN")["user"]["profile"]["email"] == "erin@example.com"
    assert web.usergroups_users_list(usergroup="S0ONCALL")["users"] == ["U0ERIN", "U0DAVE"]
    channel = web.conversations_info(channel="C0INCIDENT", include_num_members=True)["channel"]
    assert channel["name"] == "incident-42" and channel["num_members"] == 6
    web.chat_postEphemeral(channel="C0OPS", user="U0ERIN", text="welcome")
    assert [e.text for e in workspace.ephemerals("C0OPS", "U0ERIN")] == ["welcome"]


def test_seeded_approvers_group(web: WebClient) -> None:
    assert web.usergroups_users_list(usergroup="S0APPROVERS")["users"] == ["U0BOB", "U0CAROL"]
    with pytest.raises(SlackApiError):
        web.usergroups_users_list(usergroup="S0NOPE")


def test_conversations_info_and_unknown_channel(web: WebClient) -> None:
    assert web.conversations_info(channel="C0DEV")["channel"]["name"] == "dev"
    with pytest.raises(SlackApiError) as failure:
        web.conversations_info(channel="C0NOPE")
    assert failure.value.response["error"] == "channel_not_found"


def test_history_is_newest_first_and_pages(web: WebClient) -> None:
    for i in range(5):
        web.chat_postMessage(channel="C0OPS", text=f"m{i}")
    first = web.conversations_history(channel="C0OPS", limit=2)
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"] and first["has_more"]
    cursor = first["response_metadata"]["next_cursor"]
    second = web.conversations_history(channel="C0OPS", limit=2, cursor=cursor)
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"]
    everything = web.conversations_history(channel="C0OPS")
    assert len(everything["messages"]) == 5 and everything["has_more"] is False


def test_history_window_by_timestamps(web: WebClient) -> None:
    stamps = [web.chat_postMessage(channel="C0OPS", text=f"m{i}")["ts"] for i in range(4)]
    inside = web.conversations_history(channel="C0OPS", oldest=stamps[1], latest=stamps[3])
    assert [m["text"] for m in inside["messages"]] == ["m2"]
    inclusive = web.conversations_history(
        channel="C0OPS", oldest=stamps[1], latest=stamps[3], inclusive=True
    )
    assert [m["text"] for m in inclusive["messages"]] == ["m3", "m2", "m1"]


def test_history_shows_reactions_and_thread_summary(
    web: WebClient, workspace: SlackWorkspace
) -> None:
    parent = web.chat_postMessage(channel="C0OPS", text="release 2.0")["ts"]
    web.chat_postMessage(channel="C0OPS", text="notes", thread_ts=parent)
    workspace.user_post("U0CAROL", "C0OPS", "lgtm", thread_ts=parent)
    workspace.user_react("U0CAROL", "C0OPS", parent, "rocket")
    [msg] = web.conversations_history(channel="C0OPS")["messages"]
    assert msg["reply_count"] == 2 and msg["reply_users"] == ["U0BOT", "U0CAROL"]
    assert msg["reactions"] == [{"name": "rocket", "users": ["U0CAROL"], "count": 1}]


def test_replies_of_a_lone_message_and_unknown_thread(web: WebClient) -> None:
    ts = web.chat_postMessage(channel="C0OPS", text="alone")["ts"]
    [only] = web.conversations_replies(channel="C0OPS", ts=ts)["messages"]
    assert only["text"] == "alone" and only["reply_count"] == 0
    with pytest.raises(SlackApiError) as failure:
        web.conversations_replies(channel="C0OPS", ts="1600000000.000001")
    assert failure.value.response["error"] == "thread_not_found"


def test_files_upload_v2_shares_into_the_channel(web: WebClient, workspace: SlackWorkspace) -> None:
    answer = web.files_upload_v2(
        channel="C0OPS",
        content="step 1 ok\nstep 2 ok\n",
        filename="deploy.log",
        title="Deploy log",
        initial_comment="logs attached",
    )
    assert answer["file"]["title"] == "Deploy log"
    [uploaded] = workspace.files()
    assert uploaded.content == b"step 1 ok\nstep 2 ok\n" and uploaded.channels == ["C0OPS"]
    [msg] = workspace.messages("C0OPS")
    assert msg.text == "logs attached" and msg.files == [uploaded.id]
    shown = web.conversations_history(channel="C0OPS")["messages"][0]
    assert shown["files"][0]["name"] == "deploy.log"
    download = httpx.get(shown["files"][0]["url_private"])
    assert download.content == b"step 1 ok\nstep 2 ok\n"
    assert [c.method for c in workspace.calls] == [
        "files.getUploadURLExternal",
        "upload",
        "files.completeUploadExternal",
        "conversations.history",
    ]


def test_files_upload_v2_into_a_thread(web: WebClient, workspace: SlackWorkspace) -> None:
    parent = web.chat_postMessage(channel="C0OPS", text="build 12")["ts"]
    web.files_upload_v2(channel="C0OPS", content=b"\x00\x01", filename="out.bin", thread_ts=parent)
    thread = workspace.thread("C0OPS", parent)
    assert len(thread) == 2 and thread[1].files


def test_completing_an_upload_that_never_happened(web: WebClient) -> None:
    reserved = web.files_getUploadURLExternal(filename="x.txt", length=3)
    with pytest.raises(SlackApiError) as failure:
        web.files_completeUploadExternal(files=[{"id": reserved["file_id"]}], channel_id="C0OPS")
    assert failure.value.response["error"] == "file_not_found"
