"""Spec validation: quiet for honest traffic, loud for wrong requests, answers, events."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from slack_sdk import WebClient

from bot.workspace import SignedClient, SlackWorkspace, SpecValidator
from bot.workspace.handler import METHODS
from bot.workspace.payloads import event_callback, reaction_event
from tests.workspace.conftest import TOKEN
from tests.workspace.fakebot import FakeBot


def test_everyday_traffic_has_no_violations(web: WebClient, workspace: SlackWorkspace) -> None:
    web.auth_test()
    ts = web.chat_postMessage(
        channel="C0OPS",
        text="deploy",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "*deploy*"}}],
        attachments=[{"color": "#36a64f", "text": "green"}],
    )["ts"]
    web.chat_postMessage(channel="C0OPS", text="step", thread_ts=ts, reply_broadcast=True)
    web.chat_update(channel="C0OPS", ts=ts, text="deployed")
    web.reactions_add(channel="C0OPS", timestamp=ts, name="rocket")
    workspace.user_react("U0ALICE", "C0OPS", ts, "tada")
    web.reactions_get(channel="C0OPS", timestamp=ts)
    web.chat_postEphemeral(channel="C0OPS", user="U0BOB", text="psst")
    web.conversations_history(channel="C0OPS")
    web.conversations_history(channel="C0DEV")
    web.conversations_history(channel="C0OPS", limit=1)
    web.conversations_replies(channel="C0OPS", ts=ts)
    web.conversations_info(channel="C0OPS")
    web.users_info(user="U0BOT")
    web.users_info(user="U0DAVE")
    web.usergroups_users_list(usergroup="S0APPROVERS")
    web.files_upload_v2(channel="C0OPS", content="x", filename="a.txt")
    web.conversations_history(channel="C0OPS")
    other = web.chat_postMessage(channel="C0OPS", text="gone")["ts"]
    web.chat_delete(channel="C0OPS", ts=other)
    assert workspace.spec_violations == []
    workspace.assert_no_spec_violations()


def test_a_request_missing_a_required_parameter_is_flagged(slack_specs: Path) -> None:
    with SlackWorkspace(bot_token=TOKEN, specs_dir=slack_specs) as workspace:
        ts = WebClient(token=TOKEN, base_url=workspace.api_url).chat_postMessage(
            channel="C0OPS", text="v1"
        )["ts"]
        answer = httpx.post(
            workspace.api_url + "chat.update",
            json={"ts": ts, "text": "v2"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ).json()
        assert answer["ok"] is False and answer["error"] == "invalid_arguments"
        assert workspace.spec_violations == [
            "chat.update request: missing required parameter 'channel'"
        ]
        with pytest.raises(AssertionError, match="missing required parameter 'channel'"):
            workspace.assert_no_spec_violations()


def test_a_wrong_answer_from_the_server_is_flagged(
    slack_specs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(METHODS, "auth.test", lambda ctx, params: {"ok": True, "user": "x"})
    with SlackWorkspace(bot_token=TOKEN, specs_dir=slack_specs) as workspace:
        WebClient(token=TOKEN, base_url=workspace.api_url).auth_test()
        found = workspace.spec_violations
    assert found and all(v.startswith("auth.test response at $") for v in found)
    assert any("'team_id' is a required property" in v for v in found)


def test_response_schemas_resolve_refs_and_catch_drift(slack_specs: Path) -> None:
    specs = SpecValidator(slack_specs)
    good = {
        "ok": True,
        "channel": "C0OPS",
        "ts": "1700000000.000100",
        "message": {"type": "message", "text": "hi", "ts": "1700000000.000100", "user": "U0BOT"},
    }
    assert specs.check_response("chat.postMessage", good) == []
    bad_ts = {**good, "ts": "17.1"}
    assert any("does not match" in v for v in specs.check_response("chat.postMessage", bad_ts))
    bad_channel = {**good, "channel": "ops"}
    assert specs.check_response("chat.postMessage", bad_channel)
    extra = {**good, "message": {**good["message"], "edited": {"ts": "1"}}}  # type: ignore[dict-item]
    assert any("edited" in v for v in specs.check_response("chat.postMessage", extra))
    assert specs.check_response("chat.postMessage", {"ok": False}) == [
        "chat.postMessage response: ok:false without an 'error' string"
    ]


def test_methods_outside_the_spec_are_not_validated(slack_specs: Path) -> None:
    specs = SpecValidator(slack_specs)
    assert specs.covers("chat.postMessage")
    assert not specs.covers("files.getUploadURLExternal")
    assert not specs.covers("files.completeUploadExternal")
    assert specs.check_response("files.completeUploadExternal", {"ok": True, "weird": 1}) == []


def test_events_are_checked_against_envelope_and_asyncapi(slack_specs: Path) -> None:
    specs = SpecValidator(slack_specs)
    event = reaction_event(
        "reaction_added", user_id="U0BOB", reaction="+1", channel_id="C0OPS",
        ts="1700000000.000100", item_user="U0BOT",
    )  # fmt: skip
    envelope = event_callback(event, token="t")
    assert specs.check_event(envelope) == []
    no_id = {k: v for k, v in envelope.items() if k != "event_id"}
    found = specs.check_event(no_id)
    assert any(v.startswith("event_callback envelope") and "event_id" in v for v in found)
    assert any(v.startswith("reaction_added event") for v in found)
    no_event_ts = {**envelope, "event": {k: v for k, v in event.items() if k != "event_ts"}}
    assert any("event_ts" in v for v in specs.check_event(no_event_ts))


def test_events_the_client_sends_are_checked(slack_specs: Path, fake_bot: FakeBot) -> None:
    with SlackWorkspace(bot_token=TOKEN, specs_dir=slack_specs) as workspace:
        with SignedClient(fake_bot.url, "secret", workspace) as client:
            client.reaction_added("U0BOB", "eyes", "C0OPS", "1700000000.000100")
            assert workspace.spec_violations == []
            client.event({"type": "reaction_added", "user": "U0BOB"})
        assert len(fake_bot.received) == 2
        found = workspace.spec_violations
    assert found and all("'event_ts' is a required property" in v for v in found)


def test_specs_load_once_per_process(slack_specs: Path) -> None:
    SpecValidator(slack_specs)
    started = time.perf_counter()
    for _ in range(20):
        SpecValidator(slack_specs)
    assert time.perf_counter() - started < 0.05
