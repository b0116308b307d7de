"""Background answers: quick work is never queued behind work that waits on purpose."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from bot.core.background import Background
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
