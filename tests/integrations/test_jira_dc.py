"""The Jira adapter against jira820, an emulator of Jira Data Center 8.20.8, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.config import JiraConfig
from bot.core.errors import JiraUnavailable, NotFound
from bot.core.plan.model import Category, pick_transition
from integrations.jira_tracker import JiraTracker
from tests.support.jira_dc import BOARD, JiraDC, World, running_jira_dc


@pytest.fixture(scope="module")
def jira_dc() -> Iterator[JiraDC]:
    with running_jira_dc() as running:
        yield running


def sprint_world() -> World:
    world = World().sprint(11, "Sprint 11", "active", goal="Ship login")
    world.sprint(12, "Sprint 12", "future", start=7)
    world.issue(1, "Login page", "In Progress", assignee="alice", points=3, sprint=11)
    world.issue(2, "Flaky deploy", "Blocked", points=2, sprint=11)
    world.issue(3, "Release notes", "Done", assignee="bob", points=5, sprint=11)
    world.issue(4, "Dark mode", sprint=12)
    world.issue(5, "Backlog one")
    world.issue(6, "Backlog two")
    return world


def tracker(jira_dc: JiraDC, board: int = BOARD) -> JiraTracker:
    return JiraTracker(JiraConfig(url=jira_dc.url, board=board, project="OPS"))


def test_active_and_next_sprint_with_items_points_and_blocked(jira_dc: JiraDC) -> None:
    jira_dc.seed(sprint_world())
    jira = tracker(jira_dc)
    report = jira.active_sprint()
    assert report is not None
    assert (report.sprint.name, report.sprint.goal) == ("Sprint 11", "Ship login")
    by_key = {i.key: i for i in report.issues}
    assert set(by_key) == {"OPS-1", "OPS-2", "OPS-3"}
    assert by_key["OPS-1"].assignee == "Alice Adams" and by_key["OPS-1"].points == 3
    assert by_key["OPS-2"].blocked and by_key["OPS-2"].assignee is None
    assert by_key["OPS-3"].category is Category.DONE
    upcoming = jira.next_sprint()
    assert upcoming is not None and [i.key for i in upcoming.issues] == ["OPS-4"]
    assert [i.key for i in jira.backlog(10)] == ["OPS-5", "OPS-6"]


def test_no_active_sprint_and_unknown_board(jira_dc: JiraDC) -> None:
    jira_dc.seed(World().issue(1, "Lonely"))
    assert tracker(jira_dc).active_sprint() is None
    with pytest.raises(NotFound, match="no board 99"):
        tracker(jira_dc, board=99).active_sprint()


def test_create_in_the_active_sprint_and_move_by_status_name(jira_dc: JiraDC) -> None:
    jira_dc.seed(sprint_world())
    jira = tracker(jira_dc)
    created = jira.create('Quote " and <b>', "Bug", into_active_sprint=True)
    stored = jira_dc.issue(created.key)
    assert stored["fields"]["summary"] == 'Quote " and <b>'
    assert stored["fields"]["issuetype"]["name"] == "Bug"
    assert [s["id"] for s in stored["fields"]["customfield_10007"]] == [11]
    move = pick_transition(created.key, jira.transitions(created.key), "in review")
    jira.transition(created.key, move)
    assert jira_dc.issue(created.key)["fields"]["status"]["name"] == "In Review"


def test_unknown_issue_and_summaries_leave_unknown_keys_out(jira_dc: JiraDC) -> None:
    jira_dc.seed(sprint_world())
    jira = tracker(jira_dc)
    with pytest.raises(NotFound, match="OPS-404"):
        jira.issue("OPS-404")
    found = jira.summaries(["OPS-1", "OPS-404"])
    assert list(found) == ["OPS-1"]
    assert (found["OPS-1"].summary, found["OPS-1"].status) == ("Login page", "In Progress")


def test_a_slow_jira_is_reported_not_waited_for(jira_dc: JiraDC) -> None:
    world = sprint_world()
    world.latency_ms = 3000
    jira_dc.seed(world)
    try:
        with pytest.raises(JiraUnavailable, match=r"did not answer within 0\.5 seconds"):
            JiraTracker(
                JiraConfig(url=jira_dc.url, board=BOARD, project="OPS"), read_timeout=0.5
            ).active_sprint()
    finally:
        jira_dc.seed(sprint_world())


def test_jira_down_is_a_clear_error() -> None:
    jira = JiraTracker(JiraConfig(url="http://127.0.0.1:9", board=BOARD, project="OPS"))
    with pytest.raises(JiraUnavailable, match="cannot be reached"):
        jira.active_sprint()
