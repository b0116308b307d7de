"""Cancelling a pipeline between steps (audited; nothing after the running step runs), one
pipeline at a time per service and environment, and a restart during a watch."""

from __future__ import annotations

from sqlalchemy import create_engine, select

from bot.store.tables import audit_log
from tests.scenarios.ship.support import ShipBot, answer, ship_bot

__all__ = ["ship_bot"]


def test_cancel_stops_after_the_running_step(ship_bot: ShipBot, registry_addr: str) -> None:
    s = ship_bot()
    s.ship(f"{s.service} 1.0.0")
    s.wait_thread(1, "Build `build-")
    refused = s.ship(f"{s.service} 1.0.1 to staging")
    assert "Pipeline #1" in refused and "is running" in refused
    s.harness.slack.slash("/ship", "cancel 1", user_id="U0ALICE", channel_id="C0DEV")
    shown = s.wait_state(1, "cancelled")
    assert "Cancelled by <@U0ALICE> between steps." in shown
    assert ":heavy_minus_sign: deploy to staging" in shown
    assert "1.0.0" not in s.tags(registry_addr) or ":white_check_mark: release" in shown
    assert answer(s.staging_port) == ""
    s.wait_announcement("was cancelled")
    s.harness.slack.slash("/ship", "list cancelled", user_id="U0ALICE", channel_id="C0DEV")
    listed = s.ws.wait_for(
        lambda: next(
            (e for e in s.ws.ephemerals("C0DEV", "U0ALICE") if "Pipelines" in str(e)), None
        ),
        timeout=10,
        description="/ship list",
    )
    assert "#1" in str(listed) and "cancelled" in str(listed)
    engine = create_engine(s.harness.settings.database_url)
    with engine.connect() as connection:
        verbs = [row.verb for row in connection.execute(select(audit_log))]
    engine.dispose()
    assert "ship cancel" in verbs


def test_a_restart_during_the_watch_starts_its_window_again(ship_bot: ShipBot) -> None:
    s = ship_bot(watch="8s")
    assert "started" in s.ship(f"{s.service} 1.0.0 to staging")
    s.wait_thread(1, "Watching `staging`")
    s.harness = s.harness.restart()
    s.wait_thread(1, "opsloop restarted")
    s.wait_thread(1, "starts its 8s window again after the restart")
    shown = s.wait_state(1, "succeeded")
    assert ":white_check_mark: watch in staging" in shown
    assert answer(s.staging_port) == "v1"
