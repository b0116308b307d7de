"""Thread pools a stop waits for for a bounded time, not for ever."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, ParamSpec, TypeVar

_P = ParamSpec("_P")
_T = TypeVar("_T")


class DrainingPool(ThreadPoolExecutor):
    """A ThreadPoolExecutor that knows which of its work has not finished, so that a stop
    can wait for that work for at most a given time (ThreadPoolExecutor.shutdown waits for
    ever, or not at all)."""

    def __init__(self, max_workers: int, thread_name_prefix: str) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._guard = threading.Lock()
        self._unfinished: set[Future[Any]] = set()

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        """As ThreadPoolExecutor.submit; RuntimeError once the pool is drained."""
        future = super().submit(fn, *args, **kwargs)
        with self._guard:
            self._unfinished.add(future)
        future.add_done_callback(self._forget)
        return future

    def _forget(self, future: Future[Any]) -> None:
        with self._guard:
            self._unfinished.discard(future)

    def drain(self, timeout: float | None, *, cancel_queued: bool) -> int:
        """Take no more work, drop the work that has not started when `cancel_queued`, and
        wait up to `timeout` seconds (None: as long as it takes) for the rest. Returns how
        many pieces of work are still running; their threads go on until they end."""
        self.shutdown(wait=False, cancel_futures=cancel_queued)
        with self._guard:
            pending = set(self._unfinished)
        _done, running = wait(pending, timeout=timeout)
        return len(running)
