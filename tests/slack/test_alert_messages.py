"""The Monitor stage's Slack seam against the local workspace: a burst of changes to one
alert lands as few edits with the newest content, posts into one channel are paced to one a
second, and the deploy-thread reply is broadcast."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from slack_sdk import WebClient

from bot.core.clock import SystemClock
from bot.core.monitor.messages import AlertMessages
from bot.core.monitor.model import Alert, AlertSource, AlertState
from bot.core.redact import Redactor
from bot.metrics import Metrics
from bot.slack.notifier import SlackNotifier, retry_handlers
from bot.workspace import SlackWorkspace
from tests.specs import specs_dir

TOKEN = "xoxb-0000-alert-messages"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def workspace() -> Iterator[SlackWorkspace]:
    with SlackWorkspace(bot_token=TOKEN, specs_dir=specs_dir() / "slack") as running:
        yield running
        running.assert_no_spec_violations()


def _messages(workspace: SlackWorkspace) -> AlertMessages:
    metrics = Metrics()
    client = WebClient(
        token=TOKEN, base_url=workspace.api_url, retry_handlers=retry_handlers(metrics)
    )
    return AlertMessages(SlackNotifier(client, Redactor([]), metrics), SystemClock(), "C0OPS")


def _alert(number: int, state: AlertState = AlertState.OPEN, **more: object) -> Alert:
    return Alert(
        id=number, source=AlertSource.CHECK, key=f"web/prod/container/http#{number}",
        service="web", env="prod", title="health check of `/health` fails",
        detail="HTTP 500", state=state, since=NOW, opened_at=NOW, **more,  # type: ignore[arg-type]
    )  # fmt: skip


def test_a_burst_of_changes_is_folded_and_the_newest_lands(workspace: SlackWorkspace) -> None:
    messages = _messages(workspace)
    ref = messages.post_alert(_alert(1), None)
    assert ref is not None
    states = [AlertState.ACKNOWLEDGED, AlertState.SILENCED, AlertState.OPEN, AlertState.RESOLVED]
    for _ in range(5):
        for state in states:
            messages.show_alert(_alert(1, state, channel_id=ref.channel_id, message_ts=ref.ts,
                                       resolved_at=NOW, acknowledged_by="U0BOB",
                                       silenced_until=NOW))  # fmt: skip

    def settled() -> bool:
        message = workspace.message(ref.channel_id, ref.ts)
        return message is not None and "*resolved*" in message.text

    workspace.wait_for(settled, timeout=5, description="the newest content")
    message = workspace.message(ref.channel_id, ref.ts)
    assert message is not None
    assert message.edit_count <= 2  # 20 changes, folded into at most 2 edits


def test_posts_into_one_channel_are_paced_and_the_deploy_reply_is_broadcast(
    workspace: SlackWorkspace,
) -> None:
    messages = _messages(workspace)
    started = time.monotonic()
    refs = [messages.post_alert(_alert(n), None) for n in (1, 2, 3)]
    took = time.monotonic() - started
    assert all(refs) and took >= 2.0  # three posts in one channel: at least 2 s apart in all
    top = refs[0]
    assert top is not None
    reply = messages.post_in_deploy_thread(
        _alert(1, deployed_by="U0ALICE", version="2.0.0", previous_version="1.0.0"),
        top.channel_id, top.ts,
    )  # fmt: skip
    assert reply is not None
    posted = workspace.message(reply.channel_id, reply.ts)
    assert posted is not None and posted.reply_broadcast
    assert "<@U0ALICE>" in posted.text and "Version before: `1.0.0`" in posted.text
    assert "Rollback" in str(posted.blocks)
