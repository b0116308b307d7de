"""A watch passes only on enough passed checks and nothing failing: no data is not success."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.ship.watching import Sample, ShipService, Verdict, WatchTally

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _ok() -> Sample:
    return Sample(True, "http", "container", "200 in 3 ms", T0)


def test_enough_passed_checks_for_the_whole_window_pass() -> None:
    tally = WatchTally(seconds=10, min_samples=3)
    for _ in range(3):
        assert tally.sample(_ok()) is Verdict.WATCHING
    assert tally.verdict(9.9) is Verdict.WATCHING
    assert tally.verdict(10) is Verdict.PASSED


def test_too_few_samples_fail_at_the_end_of_the_window() -> None:
    tally = WatchTally(seconds=10, min_samples=3)
    tally.sample(_ok())
    assert tally.verdict(10) is Verdict.FAILED
    assert "only 1 passed check(s) in 10s, fewer than the 3 needed" in tally.evidence()


def test_one_failing_check_fails_at_once_with_its_reading() -> None:
    tally = WatchTally(seconds=60, min_samples=3)
    tally.sample(_ok())
    failed = Sample(False, "http", "web.1", "HTTP 404 from /health", T0)
    assert tally.sample(failed) is Verdict.FAILED
    assert tally.verdict(1) is Verdict.FAILED
    evidence = tally.evidence()
    assert "the http check (web.1) failed: HTTP 404 from /health" in evidence
    assert "1 of 2 check(s) passed" in evidence


def test_a_firing_alert_fails_the_watch() -> None:
    tally = WatchTally(seconds=60, min_samples=1)
    tally.sample(_ok())
    assert tally.alert("HighLatency", "alertmanager", "p99 2s") is Verdict.FAILED
    assert "an alert from alertmanager fired: HighLatency (p99 2s)" in tally.evidence()


def test_the_watch_of_an_env_defaults_to_two_minutes() -> None:
    service = ShipService("web", "./web", "127.0.0.1:5000/web", watch=(("staging", 30.0),))
    assert service.watch_seconds("staging") == 30.0
    assert service.watch_seconds("prod") == 120.0
