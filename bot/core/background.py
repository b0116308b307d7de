"""Slow answers off the router's two workers: work that talks to Jira, Docker or git runs on
its own threads. A quick answer comes back as the command's reply; a slow one is followed up
through the command's response_url, and one that misses its deadline is answered with a
clear message instead of silence. Work that changes something (a Jira issue created, a job
started) is never reported as failed just for being slow: past its deadline the user is told
it is still going (so they do not send it twice), and the real result follows when it comes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait as wait_for
from dataclasses import dataclass
from functools import partial

from bot.core.errors import NotAvailableYet
from bot.core.ports import Notifier
from bot.core.replies import answer, best_effort
from bot.core.values import Invocation, Outcome, Reply

log = logging.getLogger(__name__)

QUICK_WAIT = 0.5
WORK_THREADS = 4
WATCH_THREADS = 4
PATIENT_THREADS = 8


@dataclass(frozen=True, slots=True)
class Patience:
    """How one kind of slow work is answered (Background.answer's terms): what the user
    sees at once when it is not quick, after how many seconds it is late and what is said
    then, whether it changes something (`writes`) or waits for minutes on purpose."""

    deadline: float
    waiting: str
    late: str
    writes: bool = False
    patient: bool = False


def answer_slowly(
    background: Background | None,
    invocation: Invocation,
    work: Callable[[], Reply],
    patience: Patience,
    *,
    unwired: str | None = None,
) -> Reply:
    """`work`'s answer through `background` on `patience`'s terms. A bot built without
    Background threads answers NotAvailableYet(`unwired`) when that is given, else runs
    `work` at once on the caller's thread."""
    if background is None:
        if unwired is not None:
            raise NotAvailableYet(unwired)
        return work()
    return background.answer(
        invocation,
        work,
        deadline=patience.deadline,
        waiting=patience.waiting,
        late=patience.late,
        writes=patience.writes,
        patient=patience.patient,
    )


class Background:
    """Runs work on `work_pool` and follows slow work up from `watch_pool` (kept apart, so
    that hung work can never starve the watchers that report it). Work that waits on
    purpose for minutes (a /release waiting for its test) runs on `patient_pool`, so it
    never takes a thread from the quick answers (/plan, /services)."""

    def __init__(
        self,
        work_pool: Executor,
        watch_pool: Executor,
        notifier: Notifier,
        quick_wait: float = QUICK_WAIT,
        patient_pool: Executor | None = None,
    ) -> None:
        self._work = work_pool
        self._watch = watch_pool
        self._patient = patient_pool or work_pool
        self._notifier = notifier
        self._quick = quick_wait

    @classmethod
    def threaded(cls, notifier: Notifier) -> Background:
        """With thread pools of its own (stop() shuts them down)."""
        work = ThreadPoolExecutor(WORK_THREADS, thread_name_prefix="opsloop-slow")
        watch = ThreadPoolExecutor(WATCH_THREADS, thread_name_prefix="opsloop-watch")
        patient = ThreadPoolExecutor(PATIENT_THREADS, thread_name_prefix="opsloop-patient")
        return cls(work, watch, notifier, patient_pool=patient)

    def stop(self) -> None:
        """Stop taking work; work in hand ends on its own (every call has a timeout)."""
        for pool in {self._work, self._watch, self._patient}:
            pool.shutdown(wait=False, cancel_futures=True)

    def answer(
        self,
        invocation: Invocation,
        work: Callable[[], Reply],
        *,
        deadline: float,
        waiting: str,
        late: str,
        writes: bool = False,
        patient: bool = False,
    ) -> Reply:
        """`work`'s reply when it comes within the quick wait; otherwise `waiting` now and
        the reply (or `late`, after `deadline` seconds) through the invocation's
        response_url, settling its outcome. With `writes`, `late` must say the work is still
        going: the reply still follows when the work ends (within the response_url's 30
        minutes). `patient` work may wait for minutes on purpose and runs apart."""
        future = (self._patient if patient else self._work).submit(work)
        try:
            return future.result(timeout=self._quick)
        except FutureTimeout:
            pass
        remaining = max(deadline - self._quick, 0.1)
        self._watch.submit(self._follow_up, future, invocation, remaining, late, writes)
        return Reply(text=f":hourglass_flowing_sand: {waiting}", follows=True)

    def run(self, work: Callable[[], None]) -> Future[None]:
        """Fire-and-forget work (scheduled jobs); failures are logged."""
        return self._work.submit(best_effort, "run background work", work)

    def _follow_up(
        self,
        future: Future[Reply],
        invocation: Invocation,
        patience: float,
        late: str,
        writes: bool,
    ) -> None:
        done, _ = wait_for([future], timeout=patience)
        if not done:
            if not writes:
                invocation.settle(Outcome.FAILED, late)
                self._say(invocation, Reply(text=f":warning: {late}"))
                return
            self._say(invocation, Reply(text=f":hourglass_flowing_sand: {late}"))
            # The result comes when the work ends; no watcher thread waits for it meanwhile.
            future.add_done_callback(lambda ended: self._deliver(ended, invocation))
            return
        self._deliver(future, invocation)

    def _deliver(self, future: Future[Reply], invocation: Invocation) -> None:
        answered = answer(partial(future.result, timeout=0), "That")
        invocation.settle(answered.outcome, answered.detail)
        if not answered.reply.said:
            self._say(invocation, answered.reply)

    def _say(self, invocation: Invocation, reply: Reply) -> None:
        best_effort(
            "deliver a background answer",
            partial(self._notifier.respond, invocation.response_url, reply),
        )
