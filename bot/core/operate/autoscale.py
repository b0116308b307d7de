"""The autoscaler's arithmetic, after Kubernetes' horizontal pod autoscaler, as pure functions.

    desired = ceil(current * observed / target)

- no change while observed/target is within TOLERANCE of 1;
- tasks without a reading: for a scale-up they count as idle (0 %), for a scale-down as
  exactly on target, so a task the bot cannot read never pulls the count down;
- a scale-up at most doubles the replicas in one step;
- a scale-down goes only to the highest recommendation of the stabilisation window, so a
  short dip does not shed replicas that the next spike needs again;
- never outside min..max.

With several metrics (CPU and memory) the highest recommendation wins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

TOLERANCE = 0.1


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric's readings (percent of the limit, None for a task without a reading) and
    its target percent."""

    name: str
    readings: tuple[float | None, ...]
    target: float


@dataclass(frozen=True, slots=True)
class Recommendation:
    """What one metric asks for: `replicas`, and the observed average behind it."""

    metric: str
    replicas: int
    observed: float | None
    target: float


def recommend(current: int, metric: Metric, tolerance: float = TOLERANCE) -> Recommendation:
    """The replica count `metric` asks for, before limits and stabilisation."""
    known = [r for r in metric.readings if r is not None]
    missing = len(metric.readings) - len(known)
    if not known or current < 1:
        return Recommendation(metric.name, current, None, metric.target)
    observed = sum(known) / len(known)
    ratio = observed / metric.target
    if abs(ratio - 1.0) <= tolerance:
        return Recommendation(metric.name, current, observed, metric.target)
    if missing:
        # Kubernetes' rule: fill the gaps so that they damp the move, never drive it.
        filler = 0.0 if ratio > 1.0 else metric.target
        filled = (sum(known) + filler * missing) / (len(known) + missing)
        new_ratio = filled / metric.target
        if abs(new_ratio - 1.0) <= tolerance or (new_ratio > 1.0) != (ratio > 1.0):
            return Recommendation(metric.name, current, observed, metric.target)
        ratio = new_ratio
    return Recommendation(metric.name, math.ceil(current * ratio), observed, metric.target)


def strongest(current: int, metrics: Sequence[Metric]) -> Recommendation | None:
    """The highest recommendation over the metrics (None without any reading at all)."""
    found = [recommend(current, metric) for metric in metrics]
    found = [r for r in found if r.observed is not None]
    return max(found, key=lambda r: r.replicas) if found else None


def limit_step(current: int, wanted: int) -> int:
    """A scale-up at most doubles (from zero, to one)."""
    return min(wanted, max(2 * current, 1))


def stabilise(
    current: int,
    wanted: int,
    history: Sequence[tuple[datetime, int]],
    now: datetime,
    window: timedelta,
) -> int:
    """A scale-down only to the highest recommendation within `window` before `now`
    (`history` holds earlier recommendations; `wanted` is today's). Scale-ups pass."""
    if wanted >= current:
        return wanted
    recent = [replicas for at, replicas in history if now - at <= window]
    return min(current, max([wanted, *recent]))


def clamp(replicas: int, low: int, high: int) -> int:
    """`replicas` within low..high."""
    return max(low, min(high, replicas))


def keep_recent(
    history: Sequence[tuple[datetime, int]], now: datetime, window: timedelta
) -> tuple[tuple[datetime, int], ...]:
    """The recommendations still inside the window (what needs remembering)."""
    return tuple((at, replicas) for at, replicas in history if now - at <= window)


@dataclass(frozen=True, slots=True)
class Decision:
    """One evaluation: the replicas to run, and why."""

    current: int
    replicas: int
    recommendation: Recommendation | None
    history: tuple[tuple[datetime, int], ...]

    @property
    def changes(self) -> bool:
        """Whether the replica count moves."""
        return self.replicas != self.current


def decide(
    current: int,
    metrics: Sequence[Metric],
    *,
    low: int,
    high: int,
    history: Sequence[tuple[datetime, int]],
    now: datetime,
    window: timedelta,
) -> Decision:
    """Everything above in order: recommend, cap the step, stabilise, clamp. The returned
    history includes this evaluation's recommendation, trimmed to the window."""
    found = strongest(current, metrics)
    if found is None:
        kept = keep_recent(history, now, window)
        return Decision(current, clamp(current, low, high), None, kept)
    wanted = limit_step(current, found.replicas)
    settled = stabilise(current, wanted, history, now, window)
    kept = keep_recent([*history, (now, clamp(wanted, low, high))], now, window)
    return Decision(current, clamp(settled, low, high), found, kept)
