"""/plan end to end: Slack workspace → bot → Jira (jira820 Data Center emulator, or the Cloud
fake) and back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.config import parse_config
from bot.settings import Settings
from bot.workspace import SlackWorkspace
from commands.plan import DIGEST_JOB
from tests.scenarios.conftest import Harness, start_bot
from tests.scenarios.replies import reply_to
from tests.support.jira_cloud import TOKEN, USER, CloudState, running_jira_cloud
from tests.support.jira_dc import JiraDC, World, running_jira_dc

CONFIG = """
slack:
  ops_channel: C0OPS
  team_channel: C0TEAM
services:
  web:
    repo: ./web
    image: 127.0.0.1:5000/web
jira:
  url: {url}
  user: {user}
  token_env: JIRA_TOKEN
  board: 7
  project: OPS
  digest: {{cron: "0 9 * * mon-fri", timezone: Europe/Berlin}}
"""


@pytest.fixture(scope="module")
def jira_dc() -> Iterator[JiraDC]:
    with running_jira_dc() as running:
        yield running


def started(workspace: SlackWorkspace, settings: Settings, url: str, user: str = USER) -> Harness:
    config = parse_config(CONFIG.format(url=url, user=user), {"JIRA_TOKEN": TOKEN})
    return start_bot(workspace, settings, config)


@pytest.fixture
def plan_bot(workspace: SlackWorkspace, settings: Settings, jira_dc: JiraDC) -> Iterator[Harness]:
    world = World().sprint(11, "Sprint 11", "active", goal="Ship login")
    world.issue(1, "Login page", "In Progress", assignee="alice", points=3, sprint=11)
    world.issue(2, "Flaky deploy", "Blocked", points=2, sprint=11)
    world.issue(3, "Release notes", "Done", assignee="bob", points=5, sprint=11)
    jira_dc.seed(world)
    harness = started(workspace, settings, jira_dc.url)
    yield harness
    harness.bot.stop()
    harness.slack.close()


def test_plan_shows_the_active_sprint(plan_bot: Harness) -> None:
    plan_bot.slack.slash("/plan", "")
    answer = reply_to(plan_bot, "U0ALICE")
    assert "Sprint 11" in answer and "Ship login" in answer
    assert "1 done · 2 in progress · 0 to do (of 3)" in answer
    blocked = answer.split("*Blocked*", 1)[1]
    assert "OPS-2" in blocked.split("*Unassigned*")[0]
    assert "/browse/OPS-1|OPS-1>" in answer
    last = plan_bot.workspace.ephemerals("C0DEV", "U0ALICE")[0].blocks[-1]
    assert "RapidBoard.jspa?rapidView=7|Open the board" in str(last)


def test_plan_mine_finds_the_caller_by_slack_email(plan_bot: Harness) -> None:
    plan_bot.slack.slash("/plan", "mine", user_id="U0ALICE")
    answer = reply_to(plan_bot, "U0ALICE")
    assert "OPS-1" in answer and "OPS-2" not in answer and "OPS-3" not in answer


def test_plan_move_by_status_name_and_refusal_lists_valid_ones(
    plan_bot: Harness, jira_dc: JiraDC
) -> None:
    plan_bot.slack.slash("/plan", "move OPS-1 Shipped")
    refused = reply_to(plan_bot, "U0ALICE")
    assert "cannot move to `Shipped`" in refused and "`In Review`" in refused
    assert jira_dc.issue("OPS-1")["fields"]["status"]["name"] == "In Progress"
    plan_bot.slack.slash("/plan", "move OPS-1 in review")
    assert "Moved from *In Progress*" in reply_to(plan_bot, "U0ALICE", nth=2)
    assert jira_dc.issue("OPS-1")["fields"]["status"]["name"] == "In Review"


def test_plan_add_creates_in_the_active_sprint(plan_bot: Harness, jira_dc: JiraDC) -> None:
    plan_bot.slack.slash("/plan", 'add Fix "the" login --type Bug --sprint')
    answer = reply_to(plan_bot, "U0ALICE")
    assert "Created in the active sprint" in answer and "/browse/OPS-4|OPS-4>" in answer
    created = jira_dc.issue("OPS-4")["fields"]
    assert (created["summary"], created["issuetype"]["name"]) == ("Fix the login", "Bug")
    assert [s["id"] for s in created["customfield_10007"]] == [11]


def test_bad_issue_key_and_unknown_issue(plan_bot: Harness) -> None:
    plan_bot.slack.slash("/plan", "OPS-1) OR (project = X")
    assert "is not a Jira issue key like OPS-42" in reply_to(plan_bot, "U0ALICE")
    plan_bot.slack.slash("/plan", "OPS-404")
    assert "Jira has no issue OPS-404" in reply_to(plan_bot, "U0ALICE", nth=2)


def test_the_digest_posts_once_per_fire_time_to_the_team_channel(plan_bot: Harness) -> None:
    scheduler = plan_bot.bot.scheduler
    assert scheduler is not None
    fire = datetime(2026, 1, 7, 8, 0, tzinfo=UTC)
    assert scheduler.fire(DIGEST_JOB, fire)
    assert not scheduler.fire(DIGEST_JOB, fire)
    plan_bot.workspace.wait_for(lambda: plan_bot.workspace.messages("C0TEAM"), timeout=10)
    posts = [m for m in plan_bot.workspace.messages("C0TEAM") if "Sprint digest" in m.text]
    assert len(posts) == 1
    text = str(posts[0].blocks)
    assert "*1* done since the sprint started" in text and "OPS-2" in text


def test_while_jira_hangs_plan_says_so_and_the_bot_keeps_serving(
    workspace: SlackWorkspace, settings: Settings
) -> None:
    with running_jira_cloud(CloudState(hanging=True)) as cloud:
        harness = started(workspace, settings, cloud.url)
        try:
            harness.slack.slash("/plan", "")
            harness.slack.slash("/ops", "help", user_id="U0BOB")
            assert "/plan" in reply_to(harness, "U0BOB")
            assert "Asking Jira" in reply_to(harness, "U0ALICE")
            late = reply_to(harness, "U0ALICE", nth=2)
            assert "did not answer" in late
            assert TOKEN not in late
        finally:
            cloud.state.release.set()
            harness.bot.stop()
            harness.slack.close()


def test_a_slow_plan_add_says_it_is_still_going_and_then_answers(
    workspace: SlackWorkspace, settings: Settings, jira_dc: JiraDC
) -> None:
    world = World(latency_ms=2000).sprint(11, "Sprint 11", "active")
    world.issue(1, "Login page", "In Progress", assignee="alice", sprint=11)
    jira_dc.seed(world)
    harness = started(workspace, settings, jira_dc.url)
    try:
        harness.slack.slash("/plan", "add Slow Jira ticket")
        assert "Asking Jira" in reply_to(harness, "U0ALICE")
        still = reply_to(harness, "U0ALICE", nth=2)
        assert "do not send it again" in still and "Try again later" not in still
        done = harness.workspace.wait_for(
            lambda: len(harness.workspace.ephemerals("C0DEV", "U0ALICE")) >= 3, timeout=30
        )
        assert done
        assert "Created" in reply_to(harness, "U0ALICE", nth=3)
        assert jira_dc.issue("OPS-2")["fields"]["summary"] == "Slow Jira ticket"
    finally:
        harness.bot.stop()
        harness.slack.close()


def test_a_long_backlog_pages_in_place_and_filters(
    workspace: SlackWorkspace, settings: Settings, jira_dc: JiraDC
) -> None:
    world = World().sprint(11, "Sprint 11", "active")
    for n in range(1, 61):
        world.issue(n, f"Backlog item {n}", assignee="alice" if n % 3 == 0 else None)
    jira_dc.seed(world)
    harness = started(workspace, settings, jira_dc.url)
    try:
        harness.slack.slash("/plan", "backlog")
        ws = harness.workspace

        def listed() -> list[str]:
            return [str(e.blocks) for e in ws.ephemerals("C0DEV", "U0ALICE") if e.blocks]

        ws.wait_for(lambda: any("*Backlog*" in b for b in listed()), timeout=20)
        (message,) = [e for e in ws.ephemerals("C0DEV", "U0ALICE") if e.blocks]
        first = str(message.blocks)
        assert "60 items: 0 blocked, 40 unassigned" in first and "items 1-40 of 60" in first
        on_first = set(re.findall(r"\|(OPS-\d+)>", first))
        assert len(on_first) == 40
        button = next(
            element
            for block in message.blocks or []
            if block["type"] == "actions"
            for element in block["elements"]
            if element["text"]["text"] == "Next"
        )
        harness.slack.block_action("U0ALICE", "C0DEV", message.ts, button["action_id"],
                                   button["value"])  # fmt: skip
        ws.wait_for(lambda: "items 41-60 of 60" in listed()[0], timeout=20)
        on_second = set(re.findall(r"\|(OPS-\d+)>", listed()[0]))
        assert len(on_second) == 20 and not on_first & on_second

        harness.slack.slash("/plan", "backlog unassigned page 1", user_id="U0BOB")
        assert "40 shown" in reply_to(harness, "U0BOB")
    finally:
        harness.bot.stop()
        harness.slack.close()
