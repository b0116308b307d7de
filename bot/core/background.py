"""Slow answers off the router's two workers: work that talks to Jira, Docker or git runs on
its own threads. A quick answer comes back as the command's reply; a slow one is followed up
through the command's response_url, and one that misses its deadline is answered with a
clear message instead of silence."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from bot.core.errors import OpsloopError
from bot.core.ports import Notifier
from bot.core.values import Reply

log = logging.getLogger(__name__)

QUICK_WAIT = 0.5
WORK_THREADS = 4
WATCH_THREADS = 4


class Background:
    """Runs work on `work_pool` and follows slow work up from `watch_pool` (kept apart, so
    that hung work can never starve the watchers that report it)."""

    def __init__(
        self,
        work_pool: Executor,
        watch_pool: Executor,
        notifier: Notifier,
        quick_wait: float = QUICK_WAIT,
    ) -> None:
        self._work = work_pool
        self._watch = watch_pool
        self._notifier = notifier
        self._quick = quick_wait

    @classmethod
    def threaded(cls, notifier: Notifier) -> Background:
        """With thread pools of its own (stop() shuts them down)."""
        work = ThreadPoolExecutor(WORK_THREADS, thread_name_prefix="opsloop-slow")
        watch = ThreadPoolExecutor(WATCH_THREADS, thread_name_prefix="opsloop-watch")
        return cls(work, watch, notifier)

    def stop(self) -> None:
        """Stop taking work; work in hand ends on its own (every call has a timeout)."""
        for pool in (self._work, self._watch):
            pool.shutdown(wait=False, cancel_futures=True)

    def answer(
        self,
        response_url: str,
        work: Callable[[], Reply],
        *,
        deadline: float,
        waiting: str,
        late: str,
    ) -> Reply:
        """`work`'s reply when it comes within the quick wait; otherwise `waiting` now and
        the reply (or `late`, after `deadline` seconds) through the response_url."""
        future = self._work.submit(work)
        try:
            return future.result(timeout=self._quick)
        except FutureTimeout:
            pass
        remaining = max(deadline - self._quick, 0.1)
        self._watch.submit(self._follow_up, future, response_url, remaining, late)
        return Reply(text=f":hourglass_flowing_sand: {waiting}")

    def run(self, work: Callable[[], None]) -> Future[None]:
        """Fire-and-forget work (scheduled jobs); failures are logged."""
        return self._work.submit(_logged, work)

    def _follow_up(self, future: Future[Reply], response_url: str, wait: float, late: str) -> None:
        try:
            reply = future.result(timeout=wait)
        except FutureTimeout:
            reply = Reply(text=f":warning: {late}")
        except OpsloopError as error:
            text = f":warning: {error.message}"
            reply = Reply(text=f"{text}\n{error.hint}" if error.hint else text)
        except Exception:
            reference = uuid.uuid4().hex[:8]
            log.exception("background answer failed (reference %s)", reference)
            reply = Reply(
                text=f":x: That failed unexpectedly; the log has reference `{reference}`."
            )
        self._notifier.respond(response_url, reply)


def _logged(work: Callable[[], None]) -> None:
    try:
        work()
    except Exception:
        log.exception("background work failed")
