"""The autoscaler's arithmetic against Kubernetes' HPA rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.operate.autoscale import (
    Metric,
    clamp,
    decide,
    limit_step,
    recommend,
    stabilise,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=5)


def cpu(*readings: float | None, target: float = 50) -> Metric:
    return Metric("cpu", tuple(readings), target)


def test_desired_is_ceil_of_current_times_ratio() -> None:
    assert recommend(2, cpu(90, 90)).replicas == 4  # ceil(2 * 1.8)
    assert recommend(3, cpu(20, 20, 20)).replicas == 2  # ceil(3 * 0.4) = ceil(1.2)
    assert recommend(4, cpu(70, 70, 70, 70)).replicas == 6  # ceil(5.6)


def test_no_change_within_tolerance() -> None:
    assert recommend(4, cpu(54, 54, 54, 54)).replicas == 4  # ratio 1.08
    assert recommend(4, cpu(46, 46, 46, 46)).replicas == 4  # ratio 0.92
    assert recommend(4, cpu(56, 56, 56, 56)).replicas == 5  # ratio 1.12


def test_missing_readings_never_drive_a_scale_down() -> None:
    # Two idle tasks and two unread: the unread count as on target, so ratio (0+0+50+50)/4/50.
    assert recommend(4, cpu(0, 0, None, None)).replicas == 2
    # One low reading beside three unread: filled ratio 0.85 → ceil(3.4) = 4, no scale-down.
    assert recommend(4, cpu(40, None, None, None)).replicas == 4


def test_missing_readings_count_as_idle_for_a_scale_up() -> None:
    # 100 % on one task, one unread: filled average 50 → ratio 1.0, within tolerance.
    assert recommend(2, cpu(100, None)).replicas == 2
    assert recommend(2, cpu(150, None)).replicas == 3  # filled 75 → 1.5 → 3


def test_no_reading_at_all_changes_nothing() -> None:
    found = recommend(3, cpu(None, None, None))
    assert (found.replicas, found.observed) == (3, None)


def test_scale_up_at_most_doubles() -> None:
    assert limit_step(2, 9) == 4
    assert limit_step(2, 3) == 3
    assert limit_step(0, 5) == 1


def test_scale_down_waits_for_the_highest_recommendation_in_the_window() -> None:
    history = [(NOW - timedelta(minutes=4), 5), (NOW - timedelta(minutes=1), 3)]
    assert stabilise(5, 2, history, NOW, WINDOW) == 5
    old = [(NOW - timedelta(minutes=6), 5), (NOW - timedelta(minutes=1), 3)]
    assert stabilise(5, 2, old, NOW, WINDOW) == 3
    assert stabilise(2, 4, history, NOW, WINDOW) == 4  # scale-ups are not held back


def test_clamp_to_min_and_max() -> None:
    assert clamp(0, 1, 5) == 1
    assert clamp(9, 1, 5) == 5


def test_decide_combines_the_rules_and_remembers_its_recommendation() -> None:
    up = decide(2, [cpu(100, 100)], low=1, high=3, history=(), now=NOW, window=WINDOW)
    assert (up.replicas, up.changes) == (3, True)  # 4, doubling allows it, max 3
    assert up.history == ((NOW, 3),)
    later = NOW + timedelta(minutes=1)
    down = decide(3, [cpu(5, 5, 5)], low=1, high=3, history=up.history, now=later, window=WINDOW)
    assert (down.replicas, down.changes) == (3, False)  # held by the earlier 3
    much_later = NOW + timedelta(minutes=7)
    gone = decide(3, [cpu(5, 5, 5)], low=1, high=3, history=down.history, now=much_later,
                  window=WINDOW)  # fmt: skip
    assert gone.replicas == 1


def test_memory_wins_when_it_asks_for_more() -> None:
    memory = Metric("memory", (95, 95), 60)
    found = decide(2, [cpu(50, 50), memory], low=1, high=10, history=(), now=NOW, window=WINDOW)
    assert found.replicas == 4
    assert found.recommendation is not None and found.recommendation.metric == "memory"
