"""The LeaseKeeper: runs the singleton work (sweepers, schedules) only while this process
holds the lease, and stops it at once when the lease is lost.

With one process the lease is taken at start, so the work starts as it always did. With
several on one store, the others keep trying every third of the time to live and take
over once the holder's lease runs out (it died) or is given up (it stopped cleanly).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.core.leases import SINGLETONS, Lease, LeaseStore, LeaseView
from bot.core.replies import best_effort

log = logging.getLogger(__name__)

JOIN_SECONDS = 5.0
EXPIRY_MARGIN = 0.05
"""Seconds past a lease's expiry before trying for it: the database must see it ran out."""


def _nothing() -> None:
    return None


@dataclass(frozen=True, slots=True)
class Singleton:
    """Work that runs in one process at a time: `start` when the lease is taken (it must
    return promptly, leaving threads of its own running), `stop` when it is lost or the
    process stops. Either may be called again later, in that order."""

    name: str
    start: Callable[[], None]
    stop: Callable[[], None] = field(default=_nothing)


class LeaseKeeper:
    """Holds one lease for this process and runs its singletons while it does."""

    def __init__(
        self,
        store: LeaseStore,
        *,
        process_id: str,
        host: str,
        pid: int,
        ttl: float,
        lease: str = SINGLETONS,
        on_change: Callable[[Lease | None], None] = lambda _lease: None,
    ) -> None:
        self._store = store
        self.process_id = process_id
        self._host = host
        self._pid = pid
        self.ttl = ttl
        self.name = lease
        self._on_change = on_change
        self._work: list[Singleton] = []
        self._beats: list[Callable[[], None]] = []
        self._lease: Lease | None = None
        self._running: list[Singleton] = []
        self._changing = threading.Lock()
        self._stopping = threading.Event()
        self._taking = True
        self._thread: threading.Thread | None = None
        self._next_round = self.period

    @property
    def period(self) -> float:
        """How often the lease is renewed (or tried for): a third of its time to live."""
        return self.ttl / 3

    @property
    def next_round(self) -> float:
        """Seconds from one round to the next: a period, or less while a standby waits for
        the holder's lease to run out."""
        return self._next_round

    @property
    def lease(self) -> Lease | None:
        """The lease as last taken or renewed, or None while another process holds it."""
        return self._lease

    def status(self) -> LeaseView:
        """Every lease, and the processes whose heartbeat is younger than the time to live."""
        return self._store.view(self.ttl)

    def add(self, work: Singleton) -> None:
        """Run `work` under the lease; when the lease is held already, it starts now."""
        with self._changing:
            self._work.append(work)
            if self._lease is not None and not self._stopping.is_set():
                self._start(work)

    def add_beat(self, beat: Callable[[], None]) -> None:
        """Call `beat` every period, holding the lease or not (the heartbeat of the work
        this process owns, bot.core.ownership); a failing beat is logged and skipped."""
        self._beats.append(beat)

    def start(self) -> None:
        """Try for the lease now (so a lone process starts its work before it serves),
        then keep it or keep trying for it on a thread of its own."""
        self.tick()
        self._thread = threading.Thread(target=self._loop, name="opsloop-lease", daemon=True)
        self._thread.start()

    def stop_taking(self) -> None:
        """Keep renewing a lease held, but take none from now on: a process shutting down
        must not start singleton work again while it drains what is in hand."""
        with self._changing:
            self._taking = False

    def stop(self) -> None:
        """Stop the singletons, give the lease up so another process takes it at once,
        and remove this process's heartbeat. Safe to repeat."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(JOIN_SECONDS)
        with self._changing:
            held = self._lease
            self._lose()
        if held is not None:
            best_effort(f"give up the lease {self.name}", lambda: self._store.release(held))
        best_effort("remove this process's heartbeat", lambda: self._store.leave(self.process_id))

    def tick(self) -> None:
        """One round: beat, then renew the lease held or try to take it. A renewal that
        fails or is refused loses the lease at once: the singletons stop before anything
        else happens."""
        best_effort(
            "record this process's heartbeat",
            lambda: self._store.beat(self.process_id, self._host, self._pid),
        )
        for beat in self._beats:
            best_effort("renew the heartbeat of the work this process owns", beat)
        with self._changing:
            if self._stopping.is_set():
                return
            if self._lease is not None:
                self._renew(self._lease)
            else:
                self._take()

    def _renew(self, held: Lease) -> None:
        try:
            renewed = self._store.renew(held, self.ttl)
        except Exception:
            log.warning("could not renew the lease %s; giving it up", self.name, exc_info=True)
            renewed = None
        if renewed is None:
            log.warning("lost the lease %s (epoch %s); stopping its work", self.name, held.epoch)
            self._lose()
            return
        self._lease = renewed

    def _take(self) -> None:
        if not self._taking:
            return
        taken = best_effort(
            f"take the lease {self.name}",
            lambda: self._store.acquire(self.name, self.process_id, self.ttl),
        )
        if taken is None:
            self._next_round = self._until_free()
            return
        log.info("took the lease %s (epoch %s)", self.name, taken.epoch)
        self._lease = taken
        self._on_change(taken)
        for work in self._work:
            self._start(work)

    def _start(self, work: Singleton) -> None:
        def start() -> bool:
            work.start()
            return True

        if best_effort(f"start {work.name}", start):
            self._running.append(work)

    def _lose(self) -> None:
        was_held = self._lease is not None
        self._lease = None
        while self._running:
            work = self._running.pop()
            best_effort(f"stop {work.name}", work.stop)
        if was_held:
            self._on_change(None)

    def _until_free(self) -> float:
        """How long to wait before trying again: until the holder's lease runs out (by the
        database's clock) when that is sooner than a period, so a dead holder's lease is
        taken as soon as it expires rather than up to a period later."""
        view = best_effort("read the leases", lambda: self._store.view(self.ttl))
        held = (
            next((lease for lease in view.leases if lease.name == self.name), None)
            if view
            else None
        )
        if view is None or held is None:
            return self.period
        left = (held.expires_at - view.now).total_seconds() + EXPIRY_MARGIN
        return min(self.period, max(EXPIRY_MARGIN, left))

    def _loop(self) -> None:
        while not self._stopping.wait(self._next_round):
            self._next_round = self.period
            self.tick()
