"""Events and clicks: retried and repeated deliveries reach the stages exactly once."""

from __future__ import annotations

import threading

from bot.core.values import Click, MessageRef, Reaction, Reply
from tests.scenarios.conftest import Harness
from tests.scenarios.replies import reply_to

DEADLINE = 10.0


class Recorder:
    """A stage stand-in that remembers what reached it."""

    def __init__(self) -> None:
        self.reactions: list[Reaction] = []
        self.seen = threading.Event()

    def __call__(self, reaction: Reaction) -> None:
        self.reactions.append(reaction)
        self.seen.set()


def _bot_message(harness: Harness) -> MessageRef:
    return harness.bot.services.notifier.post("C0OPS", Reply(text="deploy web 1.2.0 to prod?"))


def test_a_retried_event_is_handled_once_even_across_a_restart(harness: Harness) -> None:
    recorder = Recorder()
    harness.bot.registry.on_reaction(recorder)
    message = _bot_message(harness)
    first = harness.slack.reaction_added(
        "U0BOB", "white_check_mark", "C0OPS", message.ts, event_id="Ev0RETRY1"
    )
    retries = [
        harness.slack.reaction_added(
            "U0BOB", "white_check_mark", "C0OPS", message.ts, event_id="Ev0RETRY1",
            retry_num=n, retry_reason="http_timeout",
        )
        for n in (1, 2)
    ]  # fmt: skip
    assert [r.status_code for r in (first, *retries)] == [200, 200, 200]
    assert recorder.seen.wait(DEADLINE)
    restarted = harness.restart()
    try:
        restarted.bot.registry.on_reaction(recorder)
        again = restarted.slack.reaction_added(
            "U0BOB", "white_check_mark", "C0OPS", message.ts, event_id="Ev0RETRY1", retry_num=3
        )
        assert again.status_code == 200
        restarted.bot.workers.shutdown(wait=True)
    finally:
        restarted.bot.stop()
    harness.bot.workers.shutdown(wait=True)
    assert len(recorder.reactions) == 1
    assert recorder.reactions[0].base_name == "white_check_mark"
    assert recorder.reactions[0].user_id == "U0BOB"


def test_distinct_events_all_arrive_and_skin_tones_keep_their_base_name(harness: Harness) -> None:
    recorder = Recorder()
    harness.bot.registry.on_reaction(recorder)
    message = _bot_message(harness)
    harness.workspace.user_react("U0BOB", "C0OPS", message.ts, "+1::skin-tone-4")
    harness.workspace.user_unreact("U0BOB", "C0OPS", message.ts, "+1::skin-tone-4")
    harness.bot.workers.shutdown(wait=True)
    assert [(r.base_name, r.added) for r in recorder.reactions] == [("+1", True), ("+1", False)]


def test_a_click_reaches_its_handler_and_the_answer_goes_to_the_clicker(harness: Harness) -> None:
    clicks: list[Click] = []

    def approve(click: Click) -> Reply:
        clicks.append(click)
        return Reply(text=f"noted, <@{click.user_id}>")

    harness.bot.registry.on_click("test.approve", approve)
    message = _bot_message(harness)
    response = harness.workspace.user_click("U0CAROL", "C0OPS", message.ts, "test.approve", "42")
    assert response.status_code == 200
    assert reply_to(harness, "U0CAROL", channel_id="C0OPS") == "noted, <@U0CAROL>"
    assert [(c.action_id, c.value, c.message_ts) for c in clicks] == [
        ("test.approve", "42", message.ts)
    ]
