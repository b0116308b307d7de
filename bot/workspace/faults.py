"""Injected failures for the local Slack workspace (rate limits, 5xx, slowness)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

ANY_METHOD = "*"


@dataclass
class Fault:
    """One armed fault: what to do to the next ``remaining`` calls of ``method``."""

    method: str
    kind: str  # "ratelimit" | "server_error" | "slow"
    remaining: int
    retry_after: int = 1
    status: int = 500
    seconds: float = 0.0
    channel: str | None = None
    """Only calls to this channel (the call's ``channel`` parameter); None: every call."""


class Faults:
    """Per-method (or ``"*"`` for every method) fault injection.

    Each fault applies to the next ``times`` matching calls, then normal service resumes.
    A rate-limited or 5xx call never takes effect. ``slow`` delays the call, then serves it.
    Faults apply to Web API methods only (``/api/...``), not to response_url or uploads.
    A fault armed with ``channel`` hits only calls whose ``channel`` parameter is that channel.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: list[Fault] = []

    def ratelimit(
        self,
        method: str = ANY_METHOD,
        times: int = 1,
        retry_after: int = 1,
        channel: str | None = None,
    ) -> None:
        """Answer HTTP 429, ``Retry-After: retry_after``, body ok:false "ratelimited"."""
        self._arm(Fault(method, "ratelimit", times, retry_after=retry_after, channel=channel))

    def server_error(
        self,
        method: str = ANY_METHOD,
        times: int = 1,
        status: int = 500,
        channel: str | None = None,
    ) -> None:
        """Answer HTTP ``status`` with body ok:false "fatal_error"."""
        self._arm(Fault(method, "server_error", times, status=status, channel=channel))

    def slow(self, method: str, seconds: float, times: int = 1) -> None:
        """Delay the response by ``seconds`` before serving the call normally."""
        self._arm(Fault(method, "slow", times, seconds=seconds))

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._armed.clear()

    @property
    def pending(self) -> list[Fault]:
        """Faults that still have calls left to affect."""
        with self._lock:
            return [Fault(**vars(f)) for f in self._armed]

    def take(self, method: str, channel: object = None) -> list[Fault]:
        """Consume the faults that hit this call (to ``channel``, when it names one): at
        most one delay plus at most one failure (the delay happens first)."""
        hits: list[Fault] = []
        with self._lock:
            for kind_group in (("slow",), ("ratelimit", "server_error")):
                for fault in self._armed:
                    if (
                        fault.kind in kind_group
                        and fault.method in (method, ANY_METHOD)
                        and fault.channel in (None, channel)
                    ):
                        fault.remaining -= 1
                        hits.append(Fault(**vars(fault)))
                        break
            self._armed = [f for f in self._armed if f.remaining > 0]
        return hits

    def _arm(self, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._armed.append(fault)
