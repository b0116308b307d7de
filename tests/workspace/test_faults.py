"""Injected rate limits, server errors and slowness."""

from __future__ import annotations

import time

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.workspace import SlackWorkspace
from tests.workspace.conftest import TOKEN


def test_ratelimit_then_retry_posts_exactly_once(workspace: SlackWorkspace) -> None:
    web = WebClient(token=TOKEN, base_url=workspace.api_url)
    web.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    workspace.faults.ratelimit("chat.postMessage", times=1, retry_after=0)
    web.chat_postMessage(channel="C0OPS", text="deploy started")
    assert [m.text for m in workspace.messages("C0OPS")] == ["deploy started"]
    calls = workspace.calls_to("chat.postMessage")
    assert [c.status for c in calls] == [429, 200]
    assert calls[0].response == {"ok": False, "error": "ratelimited"}


def test_ratelimit_sends_retry_after(workspace: SlackWorkspace) -> None:
    workspace.faults.ratelimit("chat.postMessage", retry_after=7)
    answer = httpx.post(
        workspace.api_url + "chat.postMessage",
        json={"channel": "C0OPS", "text": "x"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "7"
    assert answer.json() == {"ok": False, "error": "ratelimited"}
    assert workspace.messages("C0OPS") == []


def test_ratelimit_without_retry_surfaces(web: WebClient, workspace: SlackWorkspace) -> None:
    workspace.faults.ratelimit("chat.postMessage", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as failure:
            web.chat_postMessage(channel="C0OPS", text="x")
        assert failure.value.response.status_code == 429
    web.chat_postMessage(channel="C0OPS", text="third time")
    assert [m.text for m in workspace.messages("C0OPS")] == ["third time"]
    assert workspace.faults.pending == []


def test_server_error_has_no_effect_then_service_resumes(
    web: WebClient, workspace: SlackWorkspace
) -> None:
    ts = web.chat_postMessage(channel="C0OPS", text="v1")["ts"]
    workspace.faults.server_error("chat.update", status=503)
    with pytest.raises(SlackApiError) as failure:
        web.chat_update(channel="C0OPS", ts=ts, text="v2")
    assert failure.value.response.status_code == 503
    message = workspace.message("C0OPS", ts)
    assert message is not None and message.text == "v1" and message.edit_count == 0
    web.chat_update(channel="C0OPS", ts=ts, text="v2")
    message = workspace.message("C0OPS", ts)
    assert message is not None and message.text == "v2"


def test_fault_for_every_method(web: WebClient, workspace: SlackWorkspace) -> None:
    workspace.faults.server_error(times=2)
    with pytest.raises(SlackApiError):
        web.auth_test()
    with pytest.raises(SlackApiError):
        web.users_info(user="U0ALICE")
    assert web.auth_test()["ok"] is True


def test_slow_delays_but_serves(web: WebClient, workspace: SlackWorkspace) -> None:
    workspace.faults.slow("auth.test", 0.3)
    started = time.monotonic()
    assert web.auth_test()["ok"] is True
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    web.auth_test()
    assert time.monotonic() - started < 0.3


def test_times_must_be_positive(workspace: SlackWorkspace) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        workspace.faults.ratelimit("chat.postMessage", times=0)


def test_a_fault_armed_for_a_channel_spares_the_others(
    web: WebClient, workspace: SlackWorkspace
) -> None:
    workspace.faults.server_error("chat.postMessage", times=2, channel="C0OPS")
    web.chat_postMessage(channel="C0DEV", text="elsewhere")
    with pytest.raises(SlackApiError) as failure:
        web.chat_postMessage(channel="C0OPS", text="lost")
    assert failure.value.response.status_code == 500
    assert [m.text for m in workspace.messages("C0DEV")] == ["elsewhere"]
    assert workspace.messages("C0OPS") == []
    assert [f.remaining for f in workspace.faults.pending] == [1]
