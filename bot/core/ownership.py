"""Work ownership: which process runs a job or a deploy, so that another one settles it only
when its owner is gone.

A job (build, test, release) is claimed by the process that queues it, a deploy, scale or
restart by the process that moves it to running; the claim is the row's owner and a
heartbeat the owner renews every lease period (the database's clock). When the heartbeat is
older than the lease's time to live the owner is taken for dead, and the lease holder settles
the work from what the engine shows, as a restart does, saying so in its thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from bot.core.replies import best_effort


class Ownership(Protocol):
    """Claims on running work, kept alive by this process's heartbeat."""

    def beat(self) -> None:
        """Renew the heartbeat of every job and deploy this process owns."""
        ...

    def disown(self) -> None:
        """Let go of this process's claims (a clean stop): whatever it leaves running is
        settled by the next holder of the lease at once, without waiting out the heartbeat."""
        ...

    def orphaned_jobs(self) -> dict[str, str | None]:
        """Unfinished jobs whose owner's heartbeat ran out (or that have none), other than
        this process's: job id -> the owner that stopped answering (None: unknown)."""
        ...

    def orphaned_deploys(self) -> dict[int, str | None]:
        """Running deploy requests whose owner's heartbeat ran out, other than this
        process's: request id -> the owner that stopped answering (None: unknown)."""
        ...


def taken_over_note(what: str, owner: str | None) -> str:
    """Said in the thread of work another process settles because its owner stopped."""
    who = f"the opsloop process `{owner}`" if owner else "the opsloop process"
    return (
        f":arrows_counterclockwise: {who} that ran this {what} stopped answering; "
        "another opsloop process takes it over and settles it from what the engine shows."
    )


class Periodically:
    """Runs `work` at once and then every `period` seconds on a thread of its own, until
    stop(); it may start again after a stop (singleton work that comes and goes with the
    lease). A failing round is logged and the next one comes on time."""

    def __init__(self, name: str, period: float, work: Callable[[], object]) -> None:
        self.name = name
        self._period = period
        self._work = work
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the rounds (stopping any still going)."""
        self.stop()
        stop = self._stop = threading.Event()

        def loop() -> None:
            while True:
                best_effort(self.name, self._work)
                if stop.wait(self._period):
                    return

        self._thread = threading.Thread(target=loop, name=f"opsloop-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the round in hand (waiting up to `timeout` seconds for it)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
