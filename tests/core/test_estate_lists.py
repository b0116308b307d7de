"""The estate views as lists, pure: /status rows and counts from one engine listing, /monitor
and /alerts under their filters, and the pager's quick first build."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.code.catalogue import Deployment
from bot.core.deploy.model import DeployKind, DeployRequest, DeployState
from bot.core.errors import NotFound
from bot.core.listing import Filters, Listing, ListVerb, Vocabulary, refuse_unknown_service
from bot.core.monitor.listings import alerts_listing, checks_listing
from bot.core.monitor.model import (
    Alert,
    AlertSource,
    AlertState,
    CheckKind,
    CheckRecord,
    CheckState,
    Silence,
)
from bot.core.operate.model import Placement
from bot.core.operate.overview import EstateContext, alerts_by_key, status_listing
from bot.core.operate.views import with_open_alerts
from bot.core.values import Reply

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _placement(service: str, env: str = "prod", kind: str = "container") -> Placement:
    return Placement(service, env, kind, f"r/{service}", 1, 10)


def _alert(number: int, service: str | None, state: AlertState, **fields: str) -> Alert:
    return Alert(id=number, source=AlertSource.CHECK, key=f"k{number}", service=service,
                 env="prod" if service else None, title="down", detail="HTTP 500",
                 state=state, since=T0, opened_at=T0, **fields)  # type: ignore[arg-type]  # fmt: skip


def _deploy(service: str, user: str) -> DeployRequest:
    return DeployRequest(
        id=7, kind=DeployKind.DEPLOY, service=service, env="prod", version="1.0.0",
        from_version=None, image="", digest="", requester=user, channel_id="C0",
        message_ts=None, state=DeployState.SUCCEEDED, approvals_needed=0, created_at=T0,
        expires_at=None, started_at=T0, finished_at=T0, detail="", shipped="", changes=(),
    )  # fmt: skip


def test_status_counts_every_deployment_and_filters_by_state_and_mine() -> None:
    placements = [_placement(f"s{n:03d}") for n in range(150)] + [_placement("s003", "dev",
                                                                             "swarm")]  # fmt: skip
    running = {
        ("s001", "prod"): Deployment("o-s001", "container", "running", "1.0.0",
                                     status="Up 2 minutes (healthy)", running=1, desired=1),
        ("s002", "prod"): Deployment("o-s002", "container", "exited", "1.0.0",
                                     status="Exited (3) 1 minute ago", running=0, desired=1),
        ("s003", "dev"): Deployment("o-s003", "swarm", "3 replicas", "2.0.0", running=2,
                                    desired=3, updating="updating"),
        ("s004", "prod"): Deployment("x-s004", "", "", foreign="theirs"),
    }  # fmt: skip
    context = EstateContext(
        deploying=frozenset({("s003", "dev")}), locked=frozenset({"dev"}),
        last_deploys={("s001", "prod"): _deploy("s001", "U0ALICE")},
        alerts=alerts_by_key([_alert(9, "s001", AlertState.OPEN),
                              _alert(8, "s002", AlertState.ACKNOWLEDGED)]),
    )  # fmt: skip
    now = T0 + timedelta(hours=2)
    everything = status_listing(placements, running, context, Filters(), user="U0A", now=now)
    assert everything.summary == (
        "151 deployments: 2 unhealthy, 1 deploying, 1 locked, 1 alerting, 148 not deployed"
    )
    rows = {row.split(" · ")[0]: row for row in everything.rows}
    assert rows[":large_green_circle: *s001* `prod`"].endswith("deployed by <@U0ALICE> 2h ago")
    assert "container Up 2 minutes (healthy)" in rows[":large_green_circle: *s001* `prod`"]
    assert "swarm 2/3 running · updating" in rows[":red_circle: *s003* `dev`"]
    assert "another opsloop installation" in everything.rows[4]

    mine = status_listing(placements, running, context, Filters(mine=True), user="U0ALICE",
                          now=now)  # fmt: skip
    assert len(mine.rows) == 1 and mine.summary.endswith("· 1 shown")
    sick = Filters(states=frozenset({"unhealthy"}))
    unhealthy = status_listing(placements, running, context, sick, user="U0A", now=now)
    assert [r.split(" · ")[0] for r in unhealthy.rows] == [
        ":red_circle: *s002* `prod`", ":red_circle: *s003* `dev`"]  # fmt: skip
    dev = status_listing(placements, running, context, Filters(envs=frozenset({"dev"})),
                         user="U0A", now=now)  # fmt: skip
    assert dev.summary.startswith("1 of 151 deployments: 1 unhealthy")
    assert len(everything.records) == 151 and everything.records[1][3] == "running"


def test_status_says_when_the_engine_could_not_be_read() -> None:
    listing = status_listing([_placement("web")], {}, EstateContext(note="The engine is down."),
                             Filters(), user="U0A", now=T0)  # fmt: skip
    assert "The engine is down. What runs shows as unknown." in listing.note
    assert listing.summary.endswith("0 not deployed") and "unknown" in listing.rows[0]


def test_one_service_status_lists_its_open_alerts_only() -> None:
    reply = Reply(text="Status", blocks=({"type": "section"}, {"type": "context"}))
    shown = with_open_alerts(
        reply, [_alert(3, "web", AlertState.OPEN), _alert(4, "api", AlertState.OPEN)],
        {("web", "prod")},
    )  # fmt: skip
    text = str(shown.blocks[1])
    assert "*Open alerts*" in text and "Alert #3" in text and "Alert #4" not in text
    assert shown.blocks[2] == {"type": "context"}  # the usage line stays last
    assert "No open alerts." in str(with_open_alerts(reply, [], {("web", "prod")}).blocks)


def _check(service: str, env: str, state: CheckState) -> CheckRecord:
    return CheckRecord(key=f"{service}/{env}/c/http", service=service, env=env, instance="c",
                       kind=CheckKind.HTTP, state=state, last_detail="HTTP 500", last_at=T0,
                       latency_ms=4.0)  # fmt: skip


def test_checks_count_first_and_show_results_of_a_named_service() -> None:
    records = [_check("web", "prod", CheckState.FIRING), _check("web", "dev", CheckState.OK),
               _check("api", "prod", CheckState.FAILING)]  # fmt: skip
    listing = checks_listing(records, Filters())
    assert listing.summary == "3 checks: 1 firing, 1 failing, 1 passing"
    assert "last:" not in listing.rows[1]  # web/dev (rows by key) is ok: no result shown
    named = checks_listing(records, Filters(services=frozenset({"web"})))
    assert all("last: HTTP 500, 4 ms" in row for row in named.rows)
    firing = checks_listing(records, Filters(states=frozenset({"firing"})))
    assert firing.summary.endswith("· 1 shown") and len(firing.records) == 1


def test_alerts_filter_by_state_where_and_mine_and_list_silences() -> None:
    alerts = [
        _alert(5, "web", AlertState.OPEN), _alert(4, "api", AlertState.ACKNOWLEDGED,
                                                  acknowledged_by="U0BOB"),
        _alert(3, None, AlertState.SILENCED),
    ]  # fmt: skip
    silence = Silence(id=1, service="web", env=None, alert_id=None, until=T0, reason="",
                      created_by="U0BOB", created_at=T0)  # fmt: skip
    everything = alerts_listing(alerts, [silence], Filters(), "U0A")
    assert everything.summary == (
        "3 open alerts: 1 firing, 1 acknowledged, 1 silenced · 1 silences in force"
    )
    assert len(everything.rows) == 4 and everything.rows[3].startswith(":mute: Silence #1")
    only_silences = alerts_listing(alerts, [silence], Filters(states=frozenset({"silences"})),
                                   "U0A")  # fmt: skip
    assert [r[0] for r in only_silences.records] == ["silence"]
    bobs = alerts_listing(alerts, [silence], Filters(mine=True), "U0BOB")
    assert [r[1] for r in bobs.records] == ["4", "1"]
    # An alert that names no service passes only when no service is asked for.
    web = alerts_listing(alerts, [silence], Filters(services=frozenset({"web"})), "U0A")
    assert [r[1] for r in web.records] == ["5", "1"]


def test_a_quick_first_build_answers_and_says_how_to_finish() -> None:
    built: list[str] = []

    def full(user: str, filters: Filters) -> Listing:
        built.append("full")
        return Listing("Things", "2 things: 0 down", ("a", "b"))

    def quick(user: str, filters: Filters) -> tuple[Listing, object]:
        built.append("quick")
        return Listing("Things", "2 things", ("a", "b"), pending="Checking…"), lambda: full(
            user, filters
        )

    verb = ListVerb("things", Vocabulary, full, quick)  # type: ignore[arg-type]
    first, rest = verb.page("U0A", verb.parse([]), quick=True)
    assert built == ["quick"] and "Checking…" in str(first.blocks) and rest is not None
    assert "0 down" in rest().text and built == ["quick", "full"]
    plain, none = verb.page("U0A", verb.parse([]))
    assert none is None and "0 down" in plain.text


def test_a_first_word_that_names_nothing_is_an_unknown_service() -> None:
    words = Vocabulary(envs={"prod"}, services={"web"}, states={"firing"})
    with pytest.raises(NotFound, match="Unknown service `nosuch`"):
        refuse_unknown_service(["nosuch"], words)
    for fine in (["prod"], ["web"], ["we*"], ["page", "2"], [], ["Nosuch!"]):
        refuse_unknown_service(fine, words)
