"""Every Slack post and edit of the Monitor stage goes through AlertMessages: one seam over the
Notifier port, so that alerts can move onto a persistent outbox without touching the rules.

Posting respects Slack's one message per second per channel (a post waits for its turn), and
edits of one alert's message are folded: a burst of changes lands as one edit, at most one a
second, with the newest content. A refused post or edit is logged, never raised into the
check or command that caused it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from bot.core.clock import Clock
from bot.core.errors import OpsloopError
from bot.core.monitor.model import Alert
from bot.core.monitor.views import alert_reply, change_line, deploy_thread_reply
from bot.core.ports import Notifier
from bot.core.progress import LiveMessage
from bot.core.values import MessageRef, Reply

log = logging.getLogger(__name__)
POST_INTERVAL = 1.0


class ChannelPacer:
    """Lets one message a second into each channel; callers wait for their turn."""

    def __init__(self, clock: Clock, interval: float = POST_INTERVAL) -> None:
        self._clock = clock
        self._interval = interval
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait_turn(self, channel_id: str) -> None:
        """Return when a message may go into `channel_id`, and count it as sent."""
        with self._lock:
            now = self._clock.monotonic()
            turn = max(now, self._next.get(channel_id, now))
            self._next[channel_id] = turn + self._interval
        if turn > now:
            threading.Event().wait(turn - now)


class AlertMessages:
    """The alert's message, its thread and its reply in the deploy thread."""

    def __init__(self, notifier: Notifier, clock: Clock, channel_id: str) -> None:
        self.channel_id = channel_id
        self._notifier = notifier
        self._clock = clock
        self._pacer = ChannelPacer(clock)
        self._live: dict[tuple[str, str], LiveMessage] = {}
        self._lock = threading.Lock()

    def post_alert(self, alert: Alert, previous: Alert | None) -> MessageRef | None:
        """Post a new alert's message in the monitor channel."""
        reply = alert_reply(alert, previous)
        return self._post(f"alert #{alert.id}", self.channel_id, reply, None, broadcast=False)

    def show_alert(self, alert: Alert, previous: Alert | None = None) -> None:
        """Edit the alert's message to its current content (folded with other edits)."""
        if alert.channel_id and alert.message_ts:
            ref = MessageRef(alert.channel_id, alert.message_ts)
            self._edit(ref, alert_reply(alert, previous))
        if alert.thread_channel_id and alert.thread_ts:
            ref = MessageRef(alert.thread_channel_id, alert.thread_ts)
            self._edit(ref, deploy_thread_reply(alert))

    def add_line(self, alert: Alert, text: str | None = None) -> None:
        """One line in the alert's thread: its latest change, or `text`."""
        if alert.channel_id and alert.message_ts:
            line = Reply(text=text or change_line(alert), public=True)
            self._post(f"alert #{alert.id} line", alert.channel_id, line, alert.message_ts)

    def post_in_deploy_thread(
        self, alert: Alert, channel_id: str, thread_ts: str
    ) -> MessageRef | None:
        """Reply in the deploy's thread, broadcast to its channel."""
        reply = deploy_thread_reply(alert)
        return self._post(f"alert #{alert.id} in deploy thread", channel_id, reply, thread_ts,
                          broadcast=True)  # fmt: skip

    def _post(
        self,
        what: str,
        channel_id: str,
        reply: Reply,
        thread_ts: str | None,
        broadcast: bool = False,
    ) -> MessageRef | None:
        self._pacer.wait_turn(channel_id)
        return _quietly(
            what, lambda: self._notifier.post(channel_id, reply, thread_ts, broadcast=broadcast)
        )

    def _edit(self, ref: MessageRef, reply: Reply) -> None:
        with self._lock:
            live = self._live.get((ref.channel_id, ref.ts))
            if live is None:
                live = LiveMessage(self._notifier, ref, self._clock)
                self._live[(ref.channel_id, ref.ts)] = live
        live.show(reply)


def _quietly(what: str, send: Callable[[], MessageRef]) -> MessageRef | None:
    try:
        return send()
    except OpsloopError as error:
        log.warning("could not post %s: %s", what, error.message)
        return None
