"""A version that fails its health path in staging never replaces the one serving there, and
prod is untouched; a version that passes its deploy and breaks within the watch is rolled
back on its own, with the evidence in the thread and in #ops."""

from __future__ import annotations

from tests.scenarios.ship.support import ShipBot, answer, service_files, ship_bot

__all__ = ["ship_bot"]


def test_a_version_failing_its_health_in_staging_stops_before_prod(ship_bot: ShipBot) -> None:
    s = ship_bot()
    assert "started" in s.ship(f"{s.service} 1.0.0 to staging")
    s.wait_state(1, "succeeded")
    s.commit({**service_files("v2"), "app/NO_HEALTH": "yes\n"}, "OPS-3 loses the health path")
    assert "started" in s.ship(f"{s.service} 1.1.0")
    shown = s.wait_state(2, "failed")
    assert ":x: deploy to staging" in shown
    assert ":heavy_minus_sign: deploy to prod" in shown
    assert answer(s.staging_port) == "v1"  # the old version kept serving
    assert answer(s.prod_port) == ""  # prod untouched
    s.wait_announcement("failed")


def test_a_version_that_breaks_within_the_watch_is_rolled_back(ship_bot: ShipBot) -> None:
    s = ship_bot(watch="15s")
    assert "started" in s.ship(f"{s.service} 1.0.0 to staging")
    s.wait_state(1, "succeeded")
    files = service_files("v2")
    files["app/BREAK_AFTER"] = "4\n"
    s.commit(files, "OPS-4 breaks after a while")
    assert "started" in s.ship(f"{s.service} 1.1.0")
    shown = s.wait_state(2, "rolled back")
    assert ":white_check_mark: deploy to staging" in shown
    assert ":x: watch in staging" in shown
    assert ":heavy_minus_sign: deploy to prod" in shown
    said = s.wait_thread(2, "rollback #")
    assert "the http check failed" in said and "HTTP 404" in said
    s.wait_thread(2, "to `1.0.0` succeeded")
    assert answer(s.staging_port) == "v1"
    assert answer(s.prod_port) == ""
    ops = s.wait_announcement("rolled staging back to 1.0.0")
    assert "the http check failed" in ops
