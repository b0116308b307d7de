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

from bot.core.errors import OpsloopError
from bot.core.ports import Notifier
from bot.core.replies import error_reply, unexpected_reply
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
        writes: bool = False,
    ) -> Reply:
        """`work`'s reply when it comes within the quick wait; otherwise `waiting` now and
        the reply (or `late`, after `deadline` seconds) through the response_url. With
        `writes`, `late` must say the work is still going: the reply still follows when the
        work ends (within the response_url's 30 minutes)."""
        future = self._work.submit(work)
        try:
            return future.result(timeout=self._quick)
        except FutureTimeout:
            pass
        remaining = max(deadline - self._quick, 0.1)
        self._watch.submit(self._follow_up, future, response_url, remaining, late, writes)
        return Reply(text=f":hourglass_flowing_sand: {waiting}")

    def run(self, work: Callable[[], None]) -> Future[None]:
        """Fire-and-forget work (scheduled jobs); failures are logged."""
        return self._work.submit(_logged, work)

    def _follow_up(
        self, future: Future[Reply], response_url: str, patience: float, late: str, writes: bool
    ) -> None:
        done, _ = wait_for([future], timeout=patience)
        if not done:
            if not writes:
                self._say(response_url, Reply(text=f":warning: {late}"))
                return
            self._say(response_url, Reply(text=f":hourglass_flowing_sand: {late}"))
            # The result comes when the work ends; no watcher thread waits for it meanwhile.
            future.add_done_callback(lambda ended: self._deliver(ended, response_url))
            return
        self._deliver(future, response_url)

    def _deliver(self, future: Future[Reply], response_url: str) -> None:
        try:
            reply = future.result(timeout=0)
        except OpsloopError as error:
            reply = error_reply(error)
        except Exception:
            reply, _detail = unexpected_reply("That")
        self._say(response_url, reply)

    def _say(self, response_url: str, reply: Reply) -> None:
        try:
            self._notifier.respond(response_url, reply)
        except Exception:
            log.exception("could not deliver a background answer")


def _logged(work: Callable[[], None]) -> None:
    try:
        work()
    except Exception:
        log.exception("background work failed")
