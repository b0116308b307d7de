"""The notifier against the local workspace: rate limits honoured, errors named, secrets out."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.core.errors import IntegrationError, RateLimited, SlackUnavailable
from bot.core.redact import Redactor
from bot.core.values import MessageRef, Reply
from bot.metrics import Metrics
from bot.slack.notifier import SlackNotifier, retry_handlers
from bot.workspace import SlackWorkspace
from tests.specs import specs_dir

TOKEN = "xoxb-0000-notifier-test"


@pytest.fixture
def workspace() -> Iterator[SlackWorkspace]:
    with SlackWorkspace(bot_token=TOKEN, specs_dir=specs_dir() / "slack") as running:
        yield running
        running.assert_no_spec_violations()


def _notifier(workspace: SlackWorkspace, metrics: Metrics, secrets: list[str]) -> SlackNotifier:
    client = WebClient(
        token=TOKEN, base_url=workspace.api_url, retry_handlers=retry_handlers(metrics)
    )
    return SlackNotifier(client, Redactor(secrets), metrics)


def _errors(metrics: Metrics, method: str, error: str) -> float | None:
    labels = {"method": method, "error": error}
    return metrics.registry.get_sample_value("opsloop_slack_api_errors_total", labels)


def test_a_429_is_waited_out_and_the_message_goes_out_once(workspace: SlackWorkspace) -> None:
    metrics = Metrics()
    notifier = _notifier(workspace, metrics, [])
    workspace.faults.ratelimit("chat.postMessage", times=1, retry_after=1)
    started = time.monotonic()
    ref = notifier.post("C0OPS", Reply(text="deploy started"))
    waited = time.monotonic() - started
    assert [m.text for m in workspace.messages("C0OPS")] == ["deploy started"]
    assert ref.channel_id == "C0OPS"
    assert waited >= 1.0  # Retry-After was honoured, not retried at once
    assert _errors(metrics, "chat.postMessage", "ratelimited") == 1


def test_threads_and_edits_land_where_they_belong(workspace: SlackWorkspace) -> None:
    notifier = _notifier(workspace, Metrics(), [])
    top = notifier.post("C0OPS", Reply(text="build web: running"))
    notifier.post("C0OPS", Reply(text="step 1/3"), thread_ts=top.ts)
    notifier.update(top, Reply(text="build web: succeeded"))
    message = workspace.message("C0OPS", top.ts)
    assert message is not None
    assert message.text == "build web: succeeded"
    assert message.edit_count == 1
    assert [m.text for m in workspace.thread("C0OPS", top.ts)][1:] == ["step 1/3"]


def test_a_refusal_is_an_integration_error_naming_slacks_code(workspace: SlackWorkspace) -> None:
    metrics = Metrics()
    notifier = _notifier(workspace, metrics, [])
    with pytest.raises(IntegrationError, match="message_not_found"):
        notifier.update(MessageRef("C0OPS", "1.000001"), Reply(text="x"))
    assert (
        metrics.slack_api_errors.labels(
            method="chat.update", error="message_not_found"
        )._value.get()
        == 1
    )


def test_secrets_are_removed_from_text_and_blocks(workspace: SlackWorkspace) -> None:
    notifier = _notifier(workspace, Metrics(), ["hunter2-jira-token"])
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "jira hunter2-jira-token"}}
    notifier.post("C0OPS", Reply(text="token xoxb-1-2-abcdef", blocks=(section,)))
    message = workspace.messages("C0OPS")[0]
    assert message.text == "token [redacted]"
    assert message.blocks[0]["text"]["text"] == "jira [redacted]"


def test_a_secret_that_json_would_escape_is_removed_from_blocks(workspace: SlackWorkspace) -> None:
    # Quotes, backslashes and non-ASCII letters are escaped in the blocks' JSON.
    secret = 'pässwörd"\\2026'
    notifier = _notifier(workspace, Metrics(), [secret])
    section = {"type": "section", "text": {"type": "mrkdwn", "text": f"db {secret}"}}
    notifier.post("C0OPS", Reply(text="db settings", blocks=(section,)))
    message = workspace.messages("C0OPS")[0]
    assert message.blocks[0]["text"]["text"] == "db [redacted]"


def _bare_notifier(api_url: str, metrics: Metrics) -> SlackNotifier:
    client = WebClient(token=TOKEN, base_url=api_url, retry_handlers=[])
    return SlackNotifier(client, Redactor([]), metrics)


def test_without_retries_429_and_5xx_say_when_to_try_again(workspace: SlackWorkspace) -> None:
    notifier = _bare_notifier(workspace.api_url, Metrics())
    workspace.faults.ratelimit("chat.postMessage", times=1, retry_after=7)
    with pytest.raises(RateLimited) as limited:
        notifier.post("C0OPS", Reply(text="x"))
    assert limited.value.retry_after == 7
    workspace.faults.server_error("chat.postMessage", times=1, status=503)
    with pytest.raises(SlackUnavailable, match="HTTP 503"):
        notifier.post("C0OPS", Reply(text="x"))
    with pytest.raises(IntegrationError) as refused:
        notifier.post("C0GONE", Reply(text="x"))
    assert not isinstance(refused.value, SlackUnavailable)
    assert workspace.messages("C0OPS") == []


def test_a_slack_that_does_not_answer_is_unavailable_not_a_crash() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    metrics = Metrics()
    notifier = _bare_notifier(f"http://127.0.0.1:{port}/api/", metrics)
    with pytest.raises(SlackUnavailable, match="did not answer"):
        notifier.post("C0OPS", Reply(text="x"))
    assert _errors(metrics, "chat.postMessage", "unreachable") == 1
