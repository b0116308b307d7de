"""The courier: one thread per process that delivers the outbox to Slack.

Each pass looks at every channel's oldest open message, claims it when it is due (a
conditional update: a row another process claimed is left to it) and makes the Slack call:
a 429 puts it back until Retry-After has passed (and holds every channel that long), a 5xx
or no answer puts it back with a growing wait (at most MAX_BACKOFF), and any other refusal
settles it as failed so the channel goes on. One message a channel a second at most.

A message claimed long ago that is still "posting" belongs to a process that died during
the call: it is settled as unknown and never posted again (at most once, see README).
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timedelta

from bot.core.clock import Clock
from bot.core.errors import OpsloopError, RateLimited, SlackUnavailable
from bot.core.outbox import Action, Delivery, Lane, OutboxStore, Outgoing
from bot.core.ports import Notifier
from bot.core.values import MessageRef

log = logging.getLogger(__name__)

SPACING = 1.0
"""Seconds between two messages in one channel (Slack allows about one a second)."""
POLL = 1.0
"""Seconds between looks at the store when nothing wakes the courier (other processes'
messages, retry times)."""
STALE_CLAIM = 45.0
"""Seconds after which a claim still posting is a dead process's: longer than any Slack
call can take (the Web API client gives up after 30 s)."""
DRAIN = 3.0
"""Seconds a stop keeps delivering what is due before it leaves the rest for the next start."""
MAX_BACKOFF = 5.0
"""The longest wait between tries while Slack fails, so a message lands soon after Slack
recovers."""


class OutboxCourier:
    """Delivers outbox messages on a thread of its own; start() once, stop() once."""

    def __init__(
        self,
        store: OutboxStore,
        notifier: Notifier,
        clock: Clock,
        *,
        spacing: float = SPACING,
        poll: float = POLL,
        stale_claim: float = STALE_CLAIM,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        self.worker = f"courier-{uuid.uuid4().hex[:12]}"
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._spacing = timedelta(seconds=spacing)
        self._poll = poll
        self._stale = timedelta(seconds=stale_claim)
        self._max_backoff = max_backoff
        self._hold_until = float("-inf")
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._in_call = threading.Event()
        self._drain_until = 0.0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Deliver in the background, starting with what earlier runs left pending."""
        self._thread = threading.Thread(target=self._loop, name="opsloop-outbox", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A message was recorded: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, seconds: float = 40.0, drain: float = DRAIN) -> list[str]:
        """Deliver what is due for up to `drain` seconds (never past `seconds`), then stop,
        waiting at most `seconds` for the thread. What is left stays in the store for the
        next start. Returns what was cut short: the courier still in a Slack call."""
        thread = self._thread
        if thread is None:
            return []
        self._drain_until = self._clock.monotonic() + min(drain, seconds)
        self._stopping.set()
        self._wake.set()
        thread.join(timeout=seconds)
        if thread.is_alive() and self._in_call.is_set():
            return ["the outbox courier, still in a Slack call"]
        # Otherwise it is between calls and starts no new one: it ends on its own.
        self._thread = None
        return []

    def deliver_due(self) -> float:
        """One pass: settle dead claims, deliver every channel's next message that is due.
        Returns the seconds until something is due next (at most the poll interval)."""
        now = self._clock.now()
        for lost in self._store.abandon(now - self._stale):
            log.warning(
                "outbox message %s to %s was being posted by a process that stopped; it may "
                "be missing in Slack and is not posted again", lost.id, lost.channel_id,
            )  # fmt: skip
        wait = self._poll
        for lane in self._store.lanes():
            if self._stopping.is_set() and self._clock.monotonic() >= self._drain_until:
                break
            due = self._due(lane)
            if due > 0:
                wait = min(wait, due)
                continue
            if self._store.claim(lane.head.id, self.worker, self._clock.now(), self._spacing):
                self._deliver(lane.head)
                wait = min(wait, self._spacing.total_seconds())
        return wait

    def _due(self, lane: Lane) -> float:
        """Seconds until the lane's head may go (0 or less: now)."""
        head = lane.head
        if head.state is Delivery.POSTING:
            return self._poll  # another process is posting it
        now = self._clock.now()
        waits = [(head.not_before - now).total_seconds()]
        if lane.last_posted_at is not None:
            waits.append((lane.last_posted_at + self._spacing - now).total_seconds())
        waits.append(self._hold_until - self._clock.monotonic())
        return max(waits)

    def _deliver(self, message: Outgoing) -> None:
        self._in_call.set()
        try:
            ts = self._call(message)
        except RateLimited as error:
            self._hold_until = self._clock.monotonic() + error.retry_after
            self._retry(message, error.retry_after, error.message)
        except SlackUnavailable as error:
            backoff = min(float(2 ** max(message.attempts, 0)), self._max_backoff)
            self._retry(message, backoff, error.message)
        except OpsloopError as error:
            log.warning("outbox message %s refused: %s", message.id, error.message)
            self._store.fail(message.id, error.message)
        except Exception as error:
            # A bug, not Slack: trying again would block the channel for good.
            log.exception("outbox message %s could not be delivered", message.id)
            self._store.fail(message.id, f"unexpected {type(error).__name__}")
        else:
            self._store.delivered(message.id, ts, self._clock.now())
        finally:
            self._in_call.clear()

    def _call(self, message: Outgoing) -> str:
        if message.action is Action.POST:
            thread_ts = message.thread_ts
            if message.thread_of is not None:
                thread_ts = self._posted(message.thread_of, "it replies to").ts
            ref = self._notifier.post(
                message.channel_id, message.reply, thread_ts, broadcast=message.broadcast
            )
            return ref.ts
        target = self._posted(message.target_id, "it edits")
        self._notifier.update(MessageRef(target.channel_id, target.ts), message.reply)
        return target.ts

    def _posted(self, message_id: int | None, what: str) -> MessageRef:
        target = self._store.get(message_id) if message_id is not None else None
        if target is None or target.state is not Delivery.SENT or not target.ts:
            said = target.state.value if target is not None else "missing"
            raise OpsloopError(f"the message {what} was never posted ({said})")
        return MessageRef(target.channel_id, target.ts)

    def _retry(self, message: Outgoing, seconds: float, why: str) -> None:
        at: datetime = self._clock.now() + timedelta(seconds=seconds)
        log.info("outbox message %s: %s; next try in %.0f s", message.id, why, seconds)
        self._store.postpone(message.id, at, why)

    def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                wait = self.deliver_due()
                idle = not self._store.lanes() if self._stopping.is_set() else False
            except Exception:
                # The store may be out of reach for a while: keep trying, never die.
                log.exception("outbox pass failed")
                wait, idle = self._poll, False
            if self._stopping.is_set() and (
                idle or self._clock.monotonic() + wait >= self._drain_until
            ):
                return
            self._wake.wait(max(wait, 0.0))
