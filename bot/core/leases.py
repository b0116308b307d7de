"""Leases: which process runs the singleton work (sweepers, schedules) when several share
one store. A lease is one row with a holder, an expiry and an epoch; every time and every
comparison is the database's, so clock skew between the processes does not matter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

SINGLETONS = "singletons"
"""The one lease the process-wide singleton work runs under."""


@dataclass(frozen=True, slots=True)
class Lease:
    """A lease as the store holds it. `epoch` grows by one each time the lease changes hands
    (or is taken again after running out), so work can be fenced by it."""

    name: str
    holder: str
    epoch: int
    since: datetime
    """When this holder took it (the database's clock)."""
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class ProcessBeat:
    """One opsloop process as its heartbeat row shows it."""

    process_id: str
    host: str
    pid: int
    started_at: datetime
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class LeaseView:
    """The leases and the processes alive, read at the database's `now`."""

    now: datetime
    leases: tuple[Lease, ...]
    processes: tuple[ProcessBeat, ...]


class LeaseStore(Protocol):
    """Leases and process heartbeats, timed by the store's clock."""

    def acquire(self, name: str, holder: str, ttl: float) -> Lease | None:
        """Take the lease when it is free or ran out (a new epoch), or renew it when
        `holder` holds it; None when another holder's lease is still running."""
        ...

    def renew(self, lease: Lease, ttl: float) -> Lease | None:
        """Extend `lease` by `ttl` seconds from now; None when it ran out or changed hands
        (then it is lost and must not be acted on)."""
        ...

    def release(self, lease: Lease) -> None:
        """Give the lease up now, so another process can take it at once."""
        ...

    def beat(self, process_id: str, host: str, pid: int) -> None:
        """Record that the process is alive now."""
        ...

    def leave(self, process_id: str) -> None:
        """Forget a process that stopped cleanly."""
        ...

    def view(self, alive_within: float) -> LeaseView:
        """Every lease, and the processes seen within `alive_within` seconds."""
        ...


CurrentLease = Callable[[], Lease | None]
"""The lease this process holds now, as its keeper last took or renewed it (None while
another process holds it): what fenced writes are checked against."""
