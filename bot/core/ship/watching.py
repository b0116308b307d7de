"""What a /ship pipeline needs to know of a service, and the rules of its watch.

A watch passes only when its window ran out with at least `min_samples` passed checks and
nothing failed: no check result failed and no alert (our own or Alertmanager's) for the
service in the environment fired. No data is not success: a window with too few checks fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

DEFAULT_WATCH = 120.0


@dataclass(frozen=True, slots=True)
class ShipService:
    """One service as /ship runs it (opsloop.yml's values, turned into core's)."""

    name: str
    repo: str
    image: str
    dockerfile: str = "Dockerfile"
    test: tuple[str, ...] = ()
    test_timeout: int = 600
    test_report: str | None = None
    pipeline: tuple[str, ...] = ()
    """The environments, in order."""
    watch: tuple[tuple[str, float], ...] = ()
    """Seconds each environment's watch lasts."""
    min_samples: int = 3
    check_interval: float = 15.0

    def watch_seconds(self, env: str) -> float:
        """How long the watch after a deploy to `env` lasts."""
        return dict(self.watch).get(env, DEFAULT_WATCH)


@dataclass(frozen=True, slots=True)
class ShipSettings:
    """Every service /ship may run, and where announcements go."""

    ops_channel: str
    services: dict[str, ShipService] = field(default_factory=dict)


class Verdict(StrEnum):
    """Where a watch stands."""

    WATCHING = "watching"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Sample:
    """One check result of the watched deployment (from the Monitor stage's check loop)."""

    passed: bool
    kind: str
    instance: str
    detail: str
    at: datetime


class WatchTally:
    """Samples and alerts seen in one watch window."""

    def __init__(self, seconds: float, min_samples: int) -> None:
        self.seconds = seconds
        self.min_samples = min_samples
        self.passes = 0
        self.samples = 0
        self.failure: str | None = None
        self.readings: list[str] = []

    def sample(self, sample: Sample) -> Verdict:
        """Count one check result; a failed one fails the watch."""
        self.samples += 1
        where = "" if sample.instance == "container" else f" ({sample.instance})"
        self.readings.append(
            f"{sample.at:%H:%M:%S} {sample.kind}{where}: "
            f"{'ok' if sample.passed else 'FAILED'} — {sample.detail}"
        )
        del self.readings[:-5]
        if sample.passed:
            self.passes += 1
        elif self.failure is None:
            self.failure = f"the {sample.kind} check{where} failed: {sample.detail}"
        return Verdict.FAILED if self.failure else Verdict.WATCHING

    def alert(self, title: str, source: str, detail: str) -> Verdict:
        """An alert for the service in the environment fired: the watch fails."""
        if self.failure is None:
            self.failure = f"an alert from {source} fired: {title}" + (
                f" ({detail})" if detail else ""
            )
        return Verdict.FAILED

    def verdict(self, elapsed: float) -> Verdict:
        """The verdict after `elapsed` seconds of the window."""
        if self.failure is not None:
            return Verdict.FAILED
        if elapsed < self.seconds:
            return Verdict.WATCHING
        if self.passes < self.min_samples:
            self.failure = (
                f"only {self.passes} passed check(s) in {self.seconds:g}s, fewer than the "
                f"{self.min_samples} needed (no data is not success)"
            )
            return Verdict.FAILED
        return Verdict.PASSED

    def evidence(self) -> str:
        """The failure (if any) and the last readings, for the thread and the announcement."""
        lines = [self.failure] if self.failure else []
        lines.append(f"{self.passes} of {self.samples} check(s) passed.")
        if self.readings:
            lines.append("Last readings:\n" + "\n".join(f"• {r}" for r in self.readings))
        return "\n".join(lines)
