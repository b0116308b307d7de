"""LiveMessage folds bursts of progress into at most one edit per interval."""

from __future__ import annotations

import itertools
import threading
import time

from bot.core.clock import SystemClock
from bot.core.errors import IntegrationError
from bot.core.progress import LiveMessage
from bot.core.values import MessageRef, Reply

INTERVAL = 0.2


class RecordingNotifier:
    """Remembers each edit with the monotonic time it was made."""

    def __init__(self) -> None:
        self.edits: list[tuple[float, str]] = []
        self.changed = threading.Event()

    def update(self, ref: MessageRef, reply: Reply) -> None:
        self.edits.append((time.monotonic(), reply.text))
        self.changed.set()

    def respond(self, response_url: str, reply: Reply) -> None:
        raise AssertionError("not used")

    def post(self, channel_id: str, reply: Reply, thread_ts: str | None = None) -> MessageRef:
        raise AssertionError("not used")

    def ephemeral(self, channel_id: str, user_id: str, reply: Reply) -> None:
        raise AssertionError("not used")


def test_a_burst_becomes_few_edits_spaced_by_the_interval_ending_with_the_final() -> None:
    notifier = RecordingNotifier()
    live = LiveMessage(notifier, MessageRef("C1", "1.1"), SystemClock(), interval=INTERVAL)
    for step in range(200):
        live.show(Reply(text=f"step {step}"))
    live.finish(Reply(text="done"))
    times = [at for at, _ in notifier.edits]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert notifier.edits[0][1] == "step 0"
    assert notifier.edits[-1][1] == "done"
    assert len(notifier.edits) <= 3
    assert all(gap >= INTERVAL * 0.95 for gap in gaps)


def test_the_newest_content_lands_without_another_call() -> None:
    notifier = RecordingNotifier()
    live = LiveMessage(notifier, MessageRef("C1", "1.1"), SystemClock(), interval=INTERVAL)
    live.show(Reply(text="first"))
    live.show(Reply(text="second"))
    live.show(Reply(text="third"))
    deadline = time.monotonic() + 5
    while len(notifier.edits) < 2 and time.monotonic() < deadline:
        notifier.changed.wait(0.05)
    assert [text for _, text in notifier.edits] == ["first", "third"]


def test_nothing_is_sent_after_finish() -> None:
    notifier = RecordingNotifier()
    live = LiveMessage(notifier, MessageRef("C1", "1.1"), SystemClock(), interval=0.01)
    live.finish(Reply(text="done"))
    live.show(Reply(text="late"))
    assert [text for _, text in notifier.edits] == ["done"]


class RefusingNotifier(RecordingNotifier):
    """Slack refuses every edit, as when the bot was removed from the channel."""

    def update(self, ref: MessageRef, reply: Reply) -> None:
        super().update(ref, reply)
        raise IntegrationError("Slack refused chat.update: not_in_channel.")


def test_a_refused_edit_does_not_stop_the_work_it_reports_on() -> None:
    notifier = RefusingNotifier()
    live = LiveMessage(notifier, MessageRef("C1", "1.1"), SystemClock(), interval=0.01)
    live.show(Reply(text="step 1"))
    live.finish(Reply(text="done"))
    assert [text for _, text in notifier.edits] == ["step 1", "done"]
