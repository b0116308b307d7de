"""Change notification shared by the workspace state and its call log."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class ChangeFeed:
    """A version counter that waiters can block on instead of sleeping."""

    def __init__(self, lock: threading.RLock) -> None:
        self._cond = threading.Condition(lock)
        self._version = 0

    @property
    def version(self) -> int:
        """Increases by one on every change."""
        with self._cond:
            return self._version

    def bump(self) -> None:
        """Record a change and wake every waiter."""
        with self._cond:
            self._version += 1
            self._cond.notify_all()

    def wait_past(self, seen: int, timeout: float) -> None:
        """Block until the version moves past ``seen`` or ``timeout`` seconds pass."""
        with self._cond:
            self._cond.wait_for(lambda: self._version != seen, timeout)

    def wait_until(self, predicate: Callable[[], T], timeout: float, description: str = "") -> T:
        """Re-check ``predicate`` after every change until it returns something truthy,
        and return that; TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.version
            result = predicate()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                what = description or getattr(predicate, "__name__", "condition")
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            # Capped so predicates over things outside the workspace are still re-polled.
            self.wait_past(seen, min(remaining, 0.05))
