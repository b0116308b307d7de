"""A message that shows live progress without breaking Slack's rate limit: chat.update is
allowed about once a second per message, so edits in between are folded into the next one."""

from __future__ import annotations

import logging
import threading

from bot.core.clock import Clock
from bot.core.errors import OpsloopError
from bot.core.ports import Notifier
from bot.core.values import MessageRef, Reply

MIN_INTERVAL = 1.0

log = logging.getLogger(__name__)


class LiveMessage:
    """Edits one message in place, at most once per `interval` seconds.

    show() may be called as often as progress happens; the newest content always lands,
    at the latest `interval` after it was shown. finish() writes the final content at
    once (after waiting out the interval) and stops further edits. An edit Slack refuses
    is logged and dropped: it never raises into the work being reported.
    """

    def __init__(
        self, notifier: Notifier, ref: MessageRef, clock: Clock, interval: float = MIN_INTERVAL
    ) -> None:
        self.ref = ref
        self._notifier = notifier
        self._clock = clock
        self._interval = interval
        self._lock = threading.Lock()
        self._pending: Reply | None = None
        self._last_sent = float("-inf")
        self._timer: threading.Timer | None = None
        self._finished = False
        self.updates_sent = 0

    def show(self, reply: Reply) -> None:
        """Show this content soon; earlier content not yet sent is dropped."""
        with self._lock:
            if self._finished:
                return
            self._pending = reply
            wait = self._last_sent + self._interval - self._clock.monotonic()
            if wait <= 0 and self._timer is None:
                self._send_locked()
            elif self._timer is None:
                self._timer = threading.Timer(wait, self._flush)
                self._timer.daemon = True
                self._timer.start()

    def finish(self, reply: Reply) -> None:
        """Write the final content and stop: nothing shown later is sent."""
        with self._lock:
            self._finished = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            wait = self._last_sent + self._interval - self._clock.monotonic()
        if wait > 0:
            threading.Event().wait(wait)
        with self._lock:
            self._pending = reply
            self._send_locked()

    def _flush(self) -> None:
        with self._lock:
            self._timer = None
            if self._pending is not None and not (self._finished):
                self._send_locked()

    def _send_locked(self) -> None:
        reply, self._pending = self._pending, None
        if reply is None:
            return
        self._last_sent = self._clock.monotonic()
        self.updates_sent += 1
        try:
            self._notifier.update(self.ref, reply)
        except OpsloopError as error:
            # Progress is a courtesy: a refused edit must not stop the work it reports on.
            log.warning("could not edit %s/%s: %s", self.ref.channel_id, self.ref.ts, error)
