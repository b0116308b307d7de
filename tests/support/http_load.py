"""A steady HTTP load on loopback, as a user's clients would send it, for the zero-downtime
tests and benchmark: a thread sends a GET every 1/rate seconds on a new connection and
records what came back (the body of a 2xx, or why it failed) and how long it took."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import TracebackType

import httpx


@dataclass(frozen=True, slots=True)
class Hit:
    """One request: its 2xx body, or the failure (a status or an error) in `error`."""

    body: str
    error: str
    seconds: float
    at: float = 0.0
    """When it was sent (time.monotonic())."""


class LoadLoop:
    """GET `url` at `rate` requests a second until the `with` block ends."""

    def __init__(self, url: str, rate: float = 20.0, timeout: float = 10.0) -> None:
        self.url = url
        self._interval = 1.0 / rate
        self._timeout = timeout
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-loop", daemon=True)

    def __enter__(self) -> LoadLoop:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(self._timeout + 5)

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                reply = httpx.get(self.url, timeout=self._timeout)
                hit = Hit(
                    reply.text.strip() if reply.is_success else "",
                    "" if reply.is_success else f"HTTP {reply.status_code}",
                    time.monotonic() - started,
                    started,
                )
            except httpx.HTTPError as error:
                hit = Hit(
                    "", f"{type(error).__name__}: {error}", time.monotonic() - started, started
                )
            with self._lock:
                self._hits.append(hit)
            due += self._interval
            self._stop.wait(max(0.0, due - time.monotonic()))

    @property
    def hits(self) -> list[Hit]:
        """Every request so far, in the order sent."""
        with self._lock:
            return list(self._hits)

    @property
    def failures(self) -> list[Hit]:
        """The requests that did not get a 2xx."""
        return [hit for hit in self.hits if hit.error]

    def failed_for(self) -> float:
        """Seconds from the first failed request's start to the last one's end (0 when none
        failed): how long the service did not answer."""
        failed = self.failures
        if not failed:
            return 0.0
        return max(hit.at + hit.seconds for hit in failed) - min(hit.at for hit in failed)

    def served(self) -> list[str]:
        """The bodies served, each run of equal ones said once: ["1", "2"] for a switch."""
        runs: list[str] = []
        for hit in self.hits:
            if not hit.error and (not runs or runs[-1] != hit.body):
                runs.append(hit.body)
        return runs

    def wait_for(self, more: int, deadline: float = 30.0) -> None:
        """Return once `more` further requests were answered (or after `deadline` s)."""
        wanted = len(self.hits) + more
        until = time.monotonic() + deadline
        while len(self.hits) < wanted and time.monotonic() < until:
            self._stop.wait(self._interval)
