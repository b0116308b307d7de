"""The outbox and its courier against the local workspace, on a real SQLite store: what is
recorded lands once, in order, at Slack's pace, through 5xx, 429 and restarts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.core.clock import FakeClock, SystemClock
from bot.core.delivery import OutboxCourier
from bot.core.outbox import Delivery, Outbox
from bot.core.redact import Redactor
from bot.core.values import Reply
from bot.metrics import Metrics
from bot.slack.notifier import SlackNotifier
from bot.store.db import open_store
from bot.store.outbox import SqlOutboxStore
from bot.workspace import SlackWorkspace
from bot.workspace.recording import CallRecord
from tests.specs import specs_dir

TOKEN = "xoxb-0000-outbox-test"
DEADLINE = 30.0


@dataclass
class Post:
    """An outbox with its courier running, as bot/app.py wires them."""

    outbox: Outbox
    courier: OutboxCourier
    store: SqlOutboxStore


@pytest.fixture
def workspace() -> Iterator[SlackWorkspace]:
    with SlackWorkspace(bot_token=TOKEN, specs_dir=specs_dir() / "slack") as running:
        yield running
        running.assert_no_spec_violations()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Engine]:
    engine = open_store(f"sqlite:///{tmp_path / 'outbox.db'}")
    yield engine
    engine.dispose()


def _start(workspace: SlackWorkspace, engine: Engine) -> Post:
    client = WebClient(token=TOKEN, base_url=workspace.api_url, retry_handlers=[])
    clock = SystemClock()
    store = SqlOutboxStore(engine)
    courier = OutboxCourier(store, SlackNotifier(client, Redactor([]), Metrics()), clock)
    courier.start()
    return Post(Outbox(store, clock, on_record=courier.wake), courier, store)


@pytest.fixture
def post(workspace: SlackWorkspace, database: Engine) -> Iterator[Post]:
    running = _start(workspace, database)
    yield running
    running.courier.stop(drain=0)


def _texts(workspace: SlackWorkspace, channel: str) -> list[str]:
    return [m.text for m in workspace.messages(channel)]


def _wait_sent(workspace: SlackWorkspace, post: Post, ids: list[int]) -> None:
    """Wait until the courier recorded every one of `ids` as sent (Slack has answered)."""

    def sent() -> bool:
        return all(post.outbox.state(i) is Delivery.SENT for i in ids)

    workspace.wait_for(sent, timeout=DEADLINE, description=f"messages {ids} sent")


def _posts(workspace: SlackWorkspace, channel: str) -> list[CallRecord]:
    calls = workspace.calls_to("chat.postMessage")
    return [c for c in calls if c.params.get("channel") == channel]


def test_messages_recorded_while_slack_fails_land_once_in_order_when_it_recovers(
    workspace: SlackWorkspace, post: Post
) -> None:
    workspace.faults.server_error("chat.postMessage", times=10_000, channel="C0OPS")
    texts = ("deploy #1 started", "deploy #1 succeeded", "release 2.0.0")
    ids = [post.outbox.post("C0OPS", Reply(text=text)) for text in texts]
    workspace.wait_for(
        lambda: len(_posts(workspace, "C0OPS")) >= 3, timeout=DEADLINE, description="tries"
    )
    assert _texts(workspace, "C0OPS") == []
    workspace.faults.clear()
    _wait_sent(workspace, post, ids)
    assert _texts(workspace, "C0OPS") == [
        "deploy #1 started",
        "deploy #1 succeeded",
        "release 2.0.0",
    ]
    answered = [c for c in _posts(workspace, "C0OPS") if c.ok]
    assert len(answered) == 3
    # Every try before recovery was of the first message: order held while Slack failed.
    failed = [c.params["text"] for c in _posts(workspace, "C0OPS") if not c.ok]
    assert set(failed) == {"deploy #1 started"}


def test_a_429_holds_the_message_for_retry_after_and_the_caller_never_waits(
    workspace: SlackWorkspace, post: Post
) -> None:
    workspace.faults.ratelimit("chat.postMessage", times=1, retry_after=2, channel="C0OPS")
    message_id = post.outbox.post("C0OPS", Reply(text="deploy #2 started"))
    # Recorded, not yet in Slack: Slack asked for two seconds.
    assert post.outbox.state(message_id) in (Delivery.PENDING, Delivery.POSTING)
    _wait_sent(workspace, post, [message_id])
    refused, answered = _posts(workspace, "C0OPS")
    assert (refused.status, answered.status) == (429, 200)
    assert answered.timestamp - refused.timestamp >= 2.0
    assert _texts(workspace, "C0OPS") == ["deploy #2 started"]


def test_one_message_a_second_in_each_channel_and_channels_do_not_wait_on_each_other(
    workspace: SlackWorkspace, post: Post
) -> None:
    ids: list[int] = []
    for n in range(3):
        ids.append(post.outbox.post("C0OPS", Reply(text=f"ops {n}")))
        ids.append(post.outbox.post("C0DEV", Reply(text=f"dev {n}")))
    _wait_sent(workspace, post, ids)
    for channel in ("C0OPS", "C0DEV"):
        assert _texts(workspace, channel) == [f"{channel[2:].lower()} {n}" for n in range(3)]
        times = [c.timestamp for c in _posts(workspace, channel)]
        assert all(later - earlier >= 0.99 for earlier, later in pairwise(times))
    ops, dev = _posts(workspace, "C0OPS"), _posts(workspace, "C0DEV")
    assert dev[0].timestamp < ops[1].timestamp  # #dev's first did not queue behind #ops


def test_an_edit_lands_on_the_message_the_post_made(workspace: SlackWorkspace, post: Post) -> None:
    alert = post.outbox.post("C0OPS", Reply(text=":red_circle: web is down"))
    post.outbox.edit(alert, Reply(text=":large_green_circle: web is back"))
    workspace.wait_for(
        lambda: post.outbox.state(alert + 1) is Delivery.SENT, timeout=DEADLINE, description="edit"
    )
    ref = post.outbox.ref(alert)
    assert ref is not None
    message = workspace.message("C0OPS", ref.ts)
    assert message is not None and message.text == ":large_green_circle: web is back"
    assert message.edit_count == 1
    assert _texts(workspace, "C0OPS") == [":large_green_circle: web is back"]


def test_a_refusal_settles_the_message_failed_and_its_channel_goes_on(
    workspace: SlackWorkspace, post: Post
) -> None:
    first = post.outbox.post("C0GONE", Reply(text="to a channel that is not there"))
    edit = post.outbox.edit(first, Reply(text="an edit of it"))
    workspace.wait_for(
        lambda: post.outbox.state(edit) is Delivery.FAILED, timeout=DEADLINE, description="edit"
    )
    refused = post.store.get(first)
    assert refused is not None and refused.state is Delivery.FAILED
    assert "channel_not_found" in refused.error
    assert len(_posts(workspace, "C0GONE")) == 1  # not tried again
    assert workspace.calls_to("chat.update") == []


def test_a_restart_delivers_what_the_last_run_left_once_and_in_order(
    workspace: SlackWorkspace, database: Engine
) -> None:
    first = _start(workspace, database)
    workspace.faults.server_error("chat.postMessage", times=10_000, channel="C0OPS")
    ids = [first.outbox.post("C0OPS", Reply(text=f"announcement {n}")) for n in range(3)]
    workspace.wait_for(lambda: _posts(workspace, "C0OPS"), timeout=DEADLINE)
    first.courier.stop(drain=0)
    assert _texts(workspace, "C0OPS") == []
    assert all(first.outbox.state(i) is Delivery.PENDING for i in ids)
    workspace.faults.clear()
    second = _start(workspace, database)
    try:
        workspace.wait_for(
            lambda: all(second.outbox.state(i) is Delivery.SENT for i in ids),
            timeout=DEADLINE, description="all sent",
        )  # fmt: skip
    finally:
        second.courier.stop(drain=0)
    assert _texts(workspace, "C0OPS") == [f"announcement {n}" for n in range(3)]
    assert len([c for c in _posts(workspace, "C0OPS") if c.ok]) == 3


def test_a_message_a_crash_cut_mid_post_is_not_posted_again(
    workspace: SlackWorkspace, database: Engine
) -> None:
    store = SqlOutboxStore(database)
    a_minute_ago = SystemClock().now() - timedelta(seconds=60)
    recording = Outbox(store, FakeClock(a_minute_ago))
    cut = recording.post("C0OPS", Reply(text="maybe posted before the crash"))
    after = recording.post("C0OPS", Reply(text="recorded after it"))
    # The dead process claimed it a minute ago and never said how the call went.
    assert store.claim(cut, "dead-process", a_minute_ago, timedelta())
    running = _start(workspace, database)
    try:
        workspace.wait_for(lambda: running.outbox.state(after) is Delivery.SENT, timeout=DEADLINE)
        assert running.outbox.state(cut) is Delivery.UNKNOWN
    finally:
        running.courier.stop(drain=0)
    assert _texts(workspace, "C0OPS") == ["recorded after it"]


def test_a_stop_says_when_it_leaves_a_slack_call_running_and_is_quiet_otherwise(
    workspace: SlackWorkspace, database: Engine
) -> None:
    running = _start(workspace, database)
    workspace.faults.slow("chat.postMessage", seconds=2)
    message_id = running.outbox.post("C0OPS", Reply(text="posted slowly"))
    workspace.wait_for(
        lambda: running.outbox.state(message_id) is Delivery.POSTING, timeout=DEADLINE
    )
    assert running.courier.stop(seconds=0.1) == ["the outbox courier, still in a Slack call"]
    # The call in hand still ends and is recorded; nothing else starts.
    workspace.wait_for(lambda: running.outbox.state(message_id) is Delivery.SENT, timeout=DEADLINE)
    idle = _start(workspace, database)
    assert idle.courier.stop(seconds=0) == []
    assert _texts(workspace, "C0OPS") == ["posted slowly"]
