"""The /plan views and rules, without Jira or Slack."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.core.errors import UsageError
from bot.core.plan import views
from bot.core.plan.model import (
    Category,
    DigestMemory,
    PlanIssue,
    Sprint,
    SprintReport,
    Transition,
    jql_quote,
    mine,
    pick_transition,
    progress,
)

BOARD = "https://jira.example.com/secure/RapidBoard.jspa?rapidView=7"
SPRINT = Sprint(
    11,
    "Sprint 11",
    "active",
    "Ship it",
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2026, 1, 15, tzinfo=UTC),
)


def issue(
    n: int, status: str = "To Do", category: Category = Category.TODO, **more: object
) -> PlanIssue:
    return PlanIssue(
        key=f"OPS-{n}",
        summary=f"Item {n}",
        status=status,
        category=category,
        url=f"https://jira.example.com/browse/OPS-{n}",
        **more,  # type: ignore[arg-type]
    )


def texts(reply: object) -> str:
    return "\n".join(
        b["text"]["text"] if b["type"] == "section" else b["elements"][0]["text"]
        for b in reply.blocks  # type: ignore[attr-defined]
    )


def test_a_huge_sprint_stays_within_slacks_limits_and_ends_with_the_board_link() -> None:
    issues = tuple(
        issue(n, f"Status {n % 60}", Category.IN_PROGRESS, assignee="A" * 30, points=3)
        for n in range(1, 2001)
    )
    reply = views.sprint_view(SprintReport(SPRINT, issues, BOARD), date(2026, 1, 7))
    assert len(reply.blocks) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in reply.blocks if b["type"] == "section")
    assert BOARD in reply.blocks[-1]["elements"][0]["text"]
    assert "more sections" in texts(reply)


def test_sprint_view_shows_progress_days_left_blocked_and_unassigned() -> None:
    issues = (
        issue(1, "Done", Category.DONE, assignee="Bob", points=5),
        issue(2, "In Progress", Category.IN_PROGRESS, assignee="Alice", points=3),
        issue(3, "Blocked", Category.IN_PROGRESS, assignee="Alice", points=2),
        issue(4, "To Do", Category.TODO, flagged=True),
    )
    text = texts(views.sprint_view(SprintReport(SPRINT, issues, BOARD), date(2026, 1, 7)))
    assert "8 days left" in text
    assert "1 done · 2 in progress · 1 to do (of 4)" in text
    assert "5 done · 5 in progress · 0 to do (of 10)" in text
    blocked = text.split("*Blocked*", 1)[1].split("*Unassigned*")[0]
    assert "OPS-3" in blocked and "OPS-4" in blocked and "OPS-2" not in blocked
    assert "OPS-4" in text.split("*Unassigned*", 1)[1].split("\n\n")[0]


def test_text_from_jira_cannot_become_a_link_or_mention() -> None:
    evil = PlanIssue("OPS-1", "<!channel> <http://x|y>", "To Do", Category.TODO, "u")
    text = texts(views.issue_view(evil, BOARD))
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text


def test_empty_sprint_says_so() -> None:
    text = texts(views.sprint_view(SprintReport(SPRINT, (), BOARD), date(2026, 1, 7)))
    assert "no items yet" in text


def test_digest_counts_what_got_done_since_the_last_one() -> None:
    issues = (
        issue(1, "Done", Category.DONE, points=5),
        issue(2, "Done", Category.DONE, points=3),
        issue(3, "Blocked", Category.IN_PROGRESS),
    )
    memory = DigestMemory(frozenset({"OPS-1"}), 5.0, datetime(2026, 1, 6, tzinfo=UTC))
    reply = views.digest_view(SprintReport(SPRINT, issues, BOARD), memory, date(2026, 1, 7))
    text = texts(reply)
    assert reply.public
    assert "*1* done since the last digest (+3 points)" in text
    assert "OPS-2" in text.split("*Done*", 1)[1].split("*Blocked*")[0]
    assert "OPS-1" not in text.split("*Done*", 1)[1].split("*Blocked*")[0]


def test_progress_counts_points_by_category() -> None:
    counts = progress([issue(1, points=2), issue(2, "Done", Category.DONE, points=1.5)])
    assert (counts.todo, counts.done, counts.total_points) == (1, 1, 3.5)


def test_pick_transition_by_status_name_or_lists_the_valid_ones() -> None:
    moves = [Transition("11", "Start work", "In Progress"), Transition("21", "Finish", "Done")]
    assert pick_transition("OPS-1", moves, "in  progress").id == "11"
    assert pick_transition("OPS-1", moves, "finish").id == "21"
    with pytest.raises(UsageError) as refused:
        pick_transition("OPS-1", moves, "Shipped`")
    assert "`In Progress`, `Done`" in refused.value.message


def test_mine_matches_by_account_or_email() -> None:
    issues = [
        issue(1, assignee="A", assignee_id="acc-1"),
        issue(2, assignee="B", assignee_email="Bee@Example.com"),
        issue(3, assignee="C", assignee_id="acc-3", assignee_email="c@example.com"),
    ]
    assert [i.key for i in mine(issues, "bee@example.com", frozenset({"acc-1"}))] == [
        "OPS-1",
        "OPS-2",
    ]


@pytest.mark.parametrize(
    ("raw", "quoted"),
    [
        ("alice", '"alice"'),
        ('x" OR project = "SECRET', '"x\\" OR project = \\"SECRET"'),
        ("back\\slash", '"back\\\\slash"'),
    ],
)
def test_jql_quote_keeps_text_one_literal(raw: str, quoted: str) -> None:
    assert jql_quote(raw) == quoted


def test_jql_quote_refuses_control_characters() -> None:
    with pytest.raises(UsageError):
        jql_quote("a\nb")
