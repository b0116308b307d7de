"""Background answers: quick work is never queued behind work that waits on purpose."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bot.core.background import Background, Patience, answer_slowly
from bot.core.errors import NotAvailableYet
from bot.core.values import Invocation, MessageRef, Reply

INVOCATION = Invocation(
    verb="plan", args={}, options={}, user_id="U0A", channel_id="C0A", team_id="T0A",
    response_url="http://127.0.0.1:9/response", text="", command="/plan",
)  # fmt: skip


class Quiet:
    """A notifier that keeps what it was asked to say."""

    def __init__(self) -> None:
        self.said: list[Reply] = []

    def respond(self, response_url: str, reply: Reply) -> None:
        self.said.append(reply)

    def post(self, channel_id: str, reply: Reply, thread_ts: str | None = None) -> MessageRef:
        raise AssertionError("not used")


def test_a_patient_wait_leaves_the_quick_answers_their_threads() -> None:
    release = threading.Event()
    work, watch, patient = (ThreadPoolExecutor(1) for _ in range(3))
    background = Background(work, watch, Quiet(), quick_wait=5.0, patient_pool=patient)  # type: ignore[arg-type]
    try:
        waiting = background.answer(
            INVOCATION, lambda: (release.wait(10), Reply(text="released"))[1],
            deadline=20, waiting="waiting", late="late", writes=True, patient=True,
        )  # fmt: skip
        assert waiting.follows
        quick = background.answer(
            INVOCATION, lambda: Reply(text="sprint"), deadline=5, waiting="…", late="late"
        )
        assert quick == Reply(text="sprint")
    finally:
        release.set()
        background.stop()


def test_answer_slowly_without_background_threads_runs_the_work_or_says_what_is_missing() -> None:
    patience = Patience(deadline=5, waiting="waiting", late="late")
    answer = answer_slowly(None, INVOCATION, lambda: Reply(text="at once"), patience)
    assert answer == Reply(text="at once")
    with pytest.raises(NotAvailableYet, match="Jira is not configured"):
        answer_slowly(None, INVOCATION, lambda: Reply(text="never"), patience,
                      unwired="Jira is not configured")  # fmt: skip


def test_answer_slowly_says_waiting_then_follows_up_on_its_patience_terms() -> None:
    quiet = Quiet()
    pools = [ThreadPoolExecutor(1) for _ in range(2)]
    background = Background(pools[0], pools[1], quiet, quick_wait=0.05)  # type: ignore[arg-type]
    release = threading.Event()
    patience = Patience(deadline=5, waiting="Asking Jira…", late="late", writes=True)
    try:
        waiting = answer_slowly(
            background, INVOCATION, lambda: (release.wait(10), Reply(text="sprint"))[1], patience
        )
        assert waiting == Reply(text=":hourglass_flowing_sand: Asking Jira…", follows=True)
        release.set()
        deadline = time.monotonic() + 10
        while quiet.said != [Reply(text="sprint")]:
            assert time.monotonic() < deadline, quiet.said
            threading.Event().wait(0.01)
    finally:
        release.set()
        background.stop()
