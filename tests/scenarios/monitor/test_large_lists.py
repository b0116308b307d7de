"""/monitor and /alerts for an estate of 150 services (300 checks, 90 open alerts), through the
local workspace: counts first, pages turned in place to the last item and back, each filter,
the CSV export, and bad words refused (the workspace checks Slack's limits on every message).

The checks' states and the alerts are put in the store before the bot reads them: the point
here is the lists, and announcing 90 alerts would wait on Slack's one post a second."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import build
from bot.config import parse_config
from bot.core.monitor.model import AlertState, CheckKind, CheckRecord, CheckState, Silence
from bot.settings import Settings
from bot.workspace import SignedClient, SlackWorkspace
from tests.scenarios.conftest import Harness
from tests.scenarios.large_lists import Lists, pages, seed_alert

SERVICES = 150
FIRING = 60
ACKNOWLEDGED = 20
SILENCED = 10


def name(n: int) -> str:
    return f"svc-{n:03d}"


def _config(tmp: Path) -> str:
    lines = ["slack:", "  ops_channel: C0OPS", "services:"]
    for n in range(SERVICES):
        lines += [
            f"  {name(n)}:", f"    repo: {tmp}", f"    image: 127.0.0.1:5000/{name(n)}",
            "    port: 8080", "    checks: {enabled: false}", "    deploy:",
            "      staging: {target: container}", "      prod: {target: container}",
        ]  # fmt: skip
    lines += ["environments:", "  staging: {}", "  prod: {}"]
    # Nothing here reads the engine; a socket that is not there makes sure of it.
    lines += ["docker:", f"  host: unix://{tmp}/no-engine.sock"]
    return "\n".join(lines) + "\n"


def _state(n: int, env: str) -> CheckState:
    if (n, env) == (1, "prod"):
        return CheckState.FIRING
    if (n, env) in ((2, "prod"), (3, "staging")):
        return CheckState.FAILING
    return CheckState.OK


@pytest.fixture
def estate(workspace: SlackWorkspace, settings: Settings, tmp_path: Path) -> Iterator[Harness]:
    config = parse_config(_config(tmp_path), {})
    # The check loop reads the checks' states from the store when the bot is built: put
    # them there with one bot, then read them with the next (as after a restart).
    seeding = build(settings, config)
    monitoring = seeding.services.monitor
    assert monitoring is not None
    store = monitoring.desk.store
    now = datetime.now(UTC)
    for n in range(SERVICES):
        for env in ("staging", "prod"):
            store.save_check(CheckRecord(
                key=f"{name(n)}/{env}/container/http", service=name(n), env=env,
                instance="container", kind=CheckKind.HTTP, state=_state(n, env),
                last_detail="HTTP 200" if _state(n, env) is CheckState.OK else "HTTP 500",
                last_at=now, latency_ms=3.0,
            ))  # fmt: skip
    seeding.stop()
    bot = build(settings, config)
    server = bot.start()
    client = SignedClient(server.events_url, settings.signing_secret, workspace)
    workspace.connect_bot(client)
    harness = Harness(bot=bot, workspace=workspace, slack=client, settings=settings)
    try:
        yield harness
    finally:
        bot.stop()
        client.close()


def _seed_alerts(harness: Harness) -> dict[str, int]:
    """Alerts on services 0-89 in prod: 0-59 firing, 60-79 acknowledged (60 by bob), 80-89
    silenced; and one silence in force (bob's, of service 85 in prod)."""
    monitoring = harness.bot.services.monitor
    assert monitoring is not None
    store, now = monitoring.desk.store, datetime.now(UTC)
    ids: dict[str, int] = {}
    for n in range(FIRING + ACKNOWLEDGED + SILENCED):
        if n < FIRING:
            state = AlertState.OPEN
        elif n < FIRING + ACKNOWLEDGED:
            state = AlertState.ACKNOWLEDGED
        else:
            state = AlertState.SILENCED
        ids[name(n)] = seed_alert(harness, name(n), "prod", state)
    store.move(ids[name(FIRING)], [AlertState.ACKNOWLEDGED], AlertState.ACKNOWLEDGED, now,
               acknowledged_by="U0BOB", acknowledged_at=now)  # fmt: skip
    store.add_silence(Silence(id=0, service=name(85), env="prod", alert_id=None,
                              until=now + timedelta(hours=1), reason="maintenance",
                              created_by="U0BOB", created_at=now))  # fmt: skip
    return ids


def test_monitor_counts_first_and_pages_through_300_checks(estate: Harness) -> None:
    lists = Lists(estate)
    ts, first = lists.show("/monitor")
    assert "*Checks* · 300 checks: 1 firing, 2 failing, 297 passing" in first
    assert "items 1-40 of 300" in first and "[Next]" in first and "[Previous]" not in first
    assert f"`{name(0)}/prod/container/http`" in first
    # Only failing checks show their last result when no service is named.
    assert "last: HTTP 500" in first and "last: HTTP 200" not in first
    last = pages(lists, ts, first, 300)
    assert f"`{name(149)}/staging/container/http`" in last
    # Every turn edited the same message.
    assert len(estate.workspace.ephemerals("C0DEV", "U0ALICE")) == 1

    rows = lists.export(ts, "monitor.csv")
    assert rows[0][:6] == ["check", "service", "environment", "instance", "kind", "state"]
    assert len(rows) == 1 + 300
    assert [r[5] for r in rows if r[1] == name(1) and r[2] == "prod"] == ["firing"]


def test_monitor_filters(estate: Harness) -> None:
    lists = Lists(estate)
    _ts, firing = lists.show("/monitor", "firing")
    assert "1 shown" in firing and f"`{name(1)}/prod/container/http` — firing" in firing
    _ts, failing = lists.show("/monitor", "failing prod")
    assert "150 checks: 1 firing, 1 failing" in failing and name(2) in failing
    assert name(3) not in failing
    _ts, prefix = lists.show("/monitor", "svc-01*")
    assert "20 checks:" in prefix and "items" not in prefix
    # Naming a service shows each of its checks' last result and latency.
    _ts, one = lists.show("/monitor", f"{name(7)} staging")
    assert "1 checks:" in one and "last: HTTP 200, 3 ms at" in one
    _ts, paged = lists.show("/monitor", "page 8")
    assert "items 281-300 of 300" in paged


def test_alerts_counts_first_pages_filters_and_exports(estate: Harness) -> None:
    ids = _seed_alerts(estate)
    lists = Lists(estate)
    ts, first = lists.show("/alerts")
    assert (
        "*Alerts* · 90 open alerts: 60 firing, 20 acknowledged, 10 silenced · 1 silences in force"
    ) in first
    assert "items 1-40 of 91" in first
    # Newest first.
    assert f"Alert #{ids[name(89)]}:" in first and f"Alert #{ids[name(0)]}:" not in first
    last = pages(lists, ts, first, 91)
    assert f"Alert #{ids[name(0)]}:" in last and "Silence #1: `svc-085` in `prod`" in last

    _ts, firing = lists.show("/alerts", "firing")
    assert "60 shown" in firing and "— *firing*" in firing and "*acknowledged*" not in firing
    _ts, acknowledged = lists.show("/alerts", "acknowledged")
    assert "20 shown" in acknowledged and "— *firing*" not in acknowledged
    _ts, silenced = lists.show("/alerts", "silenced silences")
    assert "11 shown" in silenced and "Silence #1" in silenced
    _ts, mine = Lists(estate, user="U0BOB").show("/alerts", "mine")
    assert "2 shown" in mine and f"Alert #{ids[name(FIRING)]}:" in mine
    _ts, prefix = lists.show("/alerts", "svc-00*")
    assert "10 open alerts: 10 firing" in prefix
    _ts, staging = lists.show("/alerts", "staging")
    assert "0 open alerts" in staging and "No open alert or silence matches." in staging

    rows = lists.export(ts, "alerts.csv")
    assert rows[0][:3] == ["kind", "id", "state"] and len(rows) == 1 + 91
    assert {r[2] for r in rows[1:]} == {"firing", "acknowledged", "silenced", "in force"}


def test_bad_filters_and_a_page_past_the_end_are_refused(estate: Harness) -> None:
    lists = Lists(estate)
    said = lists.answer("/alerts", "burning")
    assert "`burning` is not a filter of this list" in said and "firing, silenced" in said
    said = lists.answer("/monitor", "nosuch")
    assert "Unknown service `nosuch`" in said and "a state (failing, firing, ok, resolved)" in said
    said = lists.answer("/monitor", "page 9")
    assert "There is no page 9: Checks has 300 item(s) on 8 page(s)." in said
    said = lists.answer("/alerts", "page 0")
    assert "a page is a whole number from 1" in said


@pytest.mark.parametrize("command", ["/status", "/monitor", "/alerts", "/services"])
def test_an_unknown_word_after_a_service_is_an_unknown_environment_in_every_list(
    estate: Harness, command: str
) -> None:
    # One check for every list: before, /status said "Unknown environment" and /monitor,
    # /alerts and /services "`prood` is not a filter".
    said = Lists(estate).answer(command, f"{name(1)} prood")
    assert "Unknown environment `prood`. Known environments: `prod`, `staging`." in said
    assert "is not a filter" not in said
