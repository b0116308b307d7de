"""The Monitor stage's messages through the outbox, against the local workspace on a real
SQLite store: an alert recorded before a stop lands once after the restart, two processes
raising one alert post one message, a burst of changes lands as one edit with the newest
content, posts into one channel keep one a second, and the alert is replied, broadcast, in the
thread of the deploy's announcement."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.core.clock import SystemClock
from bot.core.delivery import OutboxCourier
from bot.core.deploy.runner import announcement_key
from bot.core.monitor.desk import AlertDesk
from bot.core.monitor.messages import AlertMessages
from bot.core.monitor.model import AlertSource, AlertState, DeployFacts, NewAlert
from bot.core.outbox import Delivery, Outbox
from bot.core.redact import Redactor
from bot.core.values import Reply
from bot.metrics import Metrics
from bot.slack.notifier import SlackNotifier
from bot.store.db import open_store
from bot.store.monitor import SqlMonitorStore
from bot.store.outbox import SqlOutboxStore
from bot.workspace import SlackWorkspace
from bot.workspace.model import Message
from tests.specs import specs_dir

TOKEN = "xoxb-0000-alert-messages"
OPS = "C0OPS"
DEADLINE = 30.0
KEY = "web/prod/container/http"


class History:
    """The deploy history: web 2.0.0 in prod, deployed by alice a minute ago over 1.0.0,
    announced in the outbox row `announcement_id` (None: never deployed by opsloop)."""

    def __init__(self, announcement_id: int | None = None) -> None:
        self.announcement_id = announcement_id

    def last_deploy(self, service: str, env: str) -> DeployFacts | None:
        if self.announcement_id is None:
            return None
        return DeployFacts(
            deploy_id=7, version="2.0.0", previous_version="1.0.0", deployed_by="U0ALICE",
            finished_at=datetime.now(UTC) - timedelta(minutes=1),
            announcement_id=self.announcement_id,
        )  # fmt: skip

    def deploying(self, service: str, env: str) -> bool:
        return False


@dataclass
class Process:
    """One bot process's Monitor desk over the shared store; its courier starts on demand."""

    desk: AlertDesk
    outbox: Outbox
    courier: OutboxCourier
    started: bool = False

    def start_courier(self) -> None:
        self.courier.start()
        self.started = True


@pytest.fixture
def workspace() -> Iterator[SlackWorkspace]:
    with SlackWorkspace(bot_token=TOKEN, specs_dir=specs_dir() / "slack") as running:
        yield running
        running.assert_no_spec_violations()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Engine]:
    engine = open_store(f"sqlite:///{tmp_path / 'alerts.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def processes(workspace: SlackWorkspace, database: Engine) -> Iterator[list[Process]]:
    """Make processes with `spawn(processes, ...)`; their couriers are stopped afterwards."""
    made: list[Process] = []
    yield made
    for process in made:
        if process.started:
            process.courier.stop(drain=0)


def spawn(
    made: list[Process], workspace: SlackWorkspace, engine: Engine, history: History | None = None
) -> Process:
    clock = SystemClock()
    client = WebClient(token=TOKEN, base_url=workspace.api_url, retry_handlers=[])
    store = SqlOutboxStore(engine)
    courier = OutboxCourier(store, SlackNotifier(client, Redactor([]), Metrics()), clock)
    outbox = Outbox(store, clock, on_record=courier.wake)
    desk = AlertDesk(
        store=SqlMonitorStore(engine), messages=AlertMessages(outbox, OPS),
        history=history or History(), clock=clock, deploy_window=timedelta(minutes=30),
    )  # fmt: skip
    process = Process(desk, outbox, courier)
    made.append(process)
    return process


def firing(key: str = KEY) -> NewAlert:
    return NewAlert(
        source=AlertSource.CHECK, key=key, service="web", env="prod",
        title="health check of `/health` fails", detail="HTTP 500",
        since=datetime.now(UTC),
    )  # fmt: skip


def alert_messages(workspace: SlackWorkspace) -> list[Message]:
    return [m for m in workspace.messages(OPS) if "Alert #" in m.text]


def settled(workspace: SlackWorkspace, engine: Engine) -> None:
    """Wait until nothing recorded in the outbox waits for Slack any more."""

    def done() -> bool:
        return not SqlOutboxStore(engine).lanes()

    workspace.wait_for(done, timeout=DEADLINE, description="the outbox delivered")


def test_an_alert_recorded_before_a_stop_lands_once_after_the_restart(
    workspace: SlackWorkspace, database: Engine, processes: list[Process]
) -> None:
    before = spawn(processes, workspace, database)
    alert = before.desk.raise_alert(firing())
    # The process stops before its courier posted anything: the alert waits in the store.
    assert alert_messages(workspace) == []
    after = spawn(processes, workspace, database)
    assert after.desk.raise_alert(firing()).id == alert.id  # the check fires again: same alert
    after.start_courier()
    settled(workspace, database)
    assert len(alert_messages(workspace)) == 1
    after.desk.resolve_key(KEY)
    settled(workspace, database)
    (message,) = alert_messages(workspace)
    assert "*resolved*" in message.text
    lines = [m.text for m in workspace.thread(OPS, message.ts)[1:]]
    assert len(lines) == 1 and "resolved" in lines[0]


def test_two_processes_raising_one_alert_post_one_message(
    workspace: SlackWorkspace, database: Engine, processes: list[Process]
) -> None:
    pair = [spawn(processes, workspace, database) for _ in range(2)]
    for process in pair:
        process.start_courier()
    together = threading.Barrier(2)

    def raise_it(process: Process) -> None:
        together.wait()
        process.desk.raise_alert(firing())

    threads = [threading.Thread(target=raise_it, args=(p,)) for p in pair]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    settled(workspace, database)
    assert len(alert_messages(workspace)) == 1
    assert len(workspace.calls_to("chat.postMessage")) == 1


def test_a_burst_of_changes_lands_as_one_edit_with_the_newest_content(
    workspace: SlackWorkspace, database: Engine, processes: list[Process]
) -> None:
    process = spawn(processes, workspace, database)
    alert = process.desk.raise_alert(firing())
    for _ in range(3):
        process.desk.acknowledge(alert.id, "U0BOB")
        silence = process.desk.silence(user="U0BOB", seconds=3600, reason="", alert_id=alert.id)
        process.desk.unsilence([silence], "U0BOB")
    process.desk.resolve(alert.id, "U0DAVE")
    # Ten changes recorded while Slack had not even taken the message.
    process.start_courier()
    settled(workspace, database)
    (message,) = alert_messages(workspace)
    assert "*resolved* by <@U0DAVE>" in message.text
    assert message.edit_count == 1
    lines = [m.text for m in workspace.thread(OPS, message.ts)[1:]]
    assert len(lines) == 10 and "resolved" in lines[-1]  # one line per change


def test_posts_keep_one_a_second_and_the_alert_is_replied_in_the_announcements_thread(
    workspace: SlackWorkspace, database: Engine, processes: list[Process]
) -> None:
    history = History()
    process = spawn(processes, workspace, database, history)
    announced = Reply(text="deploy `web` to `prod` succeeded: `1.0.0` → `2.0.0`")
    key = announcement_key(7, "succeeded")
    history.announcement_id = process.outbox.post(OPS, announced, key=key)
    process.start_courier()
    alerts = [process.desk.raise_alert(firing(f"{KEY}#{n}")) for n in range(3)]
    settled(workspace, database)
    posts = [c for c in workspace.calls_to("chat.postMessage") if c.params["channel"] == OPS]
    assert len(posts) == 7  # the announcement, three alerts and their three replies
    times = [c.timestamp for c in posts]
    assert all(later - earlier >= 0.99 for earlier, later in pairwise(times))
    (announcement,) = [m for m in workspace.messages(OPS) if "succeeded" in m.text]
    replies = workspace.thread(OPS, announcement.ts)[1:]
    assert [r.text.rsplit("Alert #", 1)[1] for r in replies] == [f"{a.id}." for a in alerts]
    assert all(r.reply_broadcast for r in replies)
    assert "<@U0ALICE>" in replies[0].text and "Version before: `1.0.0`" in replies[0].text
    assert "Rollback" in str(replies[0].blocks)
    assert process.outbox.state(history.announcement_id) is Delivery.SENT


def test_an_alert_stored_but_never_recorded_for_slack_is_announced_once_on_start(
    workspace: SlackWorkspace, database: Engine, processes: list[Process]
) -> None:
    # A process stored the alert and stopped before recording its message; its check is
    # firing, so nothing raises it again.
    store = SqlMonitorStore(database)
    store.open_alert(firing(), None, AlertState.OPEN, datetime.now(UTC), None)
    pair = [spawn(processes, workspace, database) for _ in range(2)]
    for process in pair:
        process.desk.recover()
        process.start_courier()
    settled(workspace, database)
    assert len(alert_messages(workspace)) == 1
    pair[0].desk.recover()  # the next start finds it recorded
    settled(workspace, database)
    assert len(workspace.calls_to("chat.postMessage")) == 1
