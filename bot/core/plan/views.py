"""What /plan and the sprint digest look like in Slack: pure functions from sprints and issues
to Block Kit, always within Slack's limits (50 blocks a message, 3,000 characters a text),
and always ending with a link to the board."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from bot.core.blocks import MAX_BLOCKS, SECTION_LIMIT, escape
from bot.core.blocks import section as _section
from bot.core.listing import Filters, Listing
from bot.core.plan.model import (
    Category,
    DigestMemory,
    PlanIssue,
    Progress,
    SprintReport,
    progress,
)
from bot.core.values import Block, Reply

SUMMARY_LIMIT = 120
_ORDER = {Category.IN_PROGRESS: 0, Category.TODO: 1, Category.DONE: 2}


def sprint_view(report: SprintReport, today: date, title: str = "Sprint") -> Reply:
    """The sprint: name, goal, dates and days left, progress, what is blocked or unassigned,
    then the items grouped by status."""
    sprint = report.sprint
    head = [f"*{title}: {escape(sprint.name)}*"]
    if sprint.goal:
        head.append(f"_Goal:_ {escape(sprint.goal)}")
    head.append(_dates(report, today))
    lines: list[str] = ["\n".join(head), progress_text(progress(report.issues))]
    if not report.issues:
        lines.append("_This sprint has no items yet._")
        return fit(f"{title} {sprint.name}", lines, report.board_url)
    lines += callouts(report.issues)
    for status, issues in group_by_status(report.issues):
        lines.append(f"*{escape(status)}* ({len(issues)})\n" + "\n".join(map(issue_line, issues)))
    return fit(f"{title} {sprint.name}: {len(report.issues)} items", lines, report.board_url)


def mine_view(report: SprintReport, issues: Sequence[PlanIssue], today: date) -> Reply:
    """The caller's own items in the active sprint."""
    sprint = report.sprint
    header = f"*Your items in {escape(sprint.name)}* · {_dates(report, today)}"
    if not issues:
        return fit("No items of yours", [header, "_Nothing is assigned to you._"], report.board_url)
    lines = [header, progress_text(progress(issues))]
    for status, group in group_by_status(issues):
        lines.append(f"*{escape(status)}*\n" + "\n".join(map(issue_line, group)))
    return fit(f"Your {len(issues)} items in {sprint.name}", lines, report.board_url)


BACKLOG_STATES = ("todo", "in-progress", "blocked", "unassigned")


def backlog_listing(
    issues: Sequence[PlanIssue], filters: Filters, own: frozenset[str], board_url: str
) -> Listing:
    """The backlog in rank order, by state (todo, in-progress, blocked, unassigned) and
    `mine` (`own` holds the caller's issue keys)."""
    kept = [
        (rank, issue)
        for rank, issue in enumerate(issues, 1)
        if (not filters.states or filters.states & _backlog_states(issue))
        and (not filters.mine or issue.key in own)
    ]
    blocked = sum(issue.blocked for issue in issues)
    unassigned = sum(issue.assignee is None for issue in issues)
    return Listing(
        title="Backlog",
        summary=f"{len(issues)} items: {blocked} blocked, {unassigned} unassigned"
        + (f" · {len(kept)} shown" if len(kept) != len(issues) else "")
        + f" · <{board_url}|board>",
        rows=tuple(f"{rank}. {issue_line(issue)}" for rank, issue in kept),
        columns=("rank", "key", "summary", "status", "type", "assignee", "points", "url"),
        records=tuple(_backlog_record(rank, issue) for rank, issue in kept),
        empty="No backlog item matches." if issues else "The backlog is empty.",
    )


def _backlog_states(issue: PlanIssue) -> set[str]:
    states = {"in-progress" if issue.category is Category.IN_PROGRESS else "todo"}
    if issue.blocked:
        states.add("blocked")
    if issue.assignee is None:
        states.add("unassigned")
    return states


def _backlog_record(rank: int, issue: PlanIssue) -> tuple[str, ...]:
    points = _num(issue.points) if issue.points is not None else ""
    return (str(rank), issue.key, issue.summary, issue.status, issue.issue_type,
            issue.assignee or "", points, issue.url)  # fmt: skip


def issue_view(issue: PlanIssue, board_url: str, lead: str = "") -> Reply:
    """One issue: key (a link), type, status, summary, assignee, points."""
    facts = [
        f"*Status:* {escape(issue.status)}",
        f"*Type:* {escape(issue.issue_type)}",
        f"*Assignee:* {escape(issue.assignee) if issue.assignee else '_unassigned_'}",
    ]
    if issue.points is not None:
        facts.append(f"*Points:* {_num(issue.points)}")
    if issue.blocked:
        facts.append(":no_entry: *Blocked*")
    text = f"{lead}<{issue.url}|{issue.key}> {escape(issue.summary)}\n" + " · ".join(facts)
    return fit(f"{issue.key}: {issue.summary}"[:200], [text], board_url)


def digest_view(report: SprintReport, memory: DigestMemory | None, today: date) -> Reply:
    """The scheduled sprint digest: progress since the last digest, what got done, what is
    blocked, days left. Posted in the channel, so public."""
    now = progress(report.issues)
    done = [i for i in report.issues if i.category is Category.DONE]
    fresh = [i for i in done if memory is None or i.key not in memory.done_keys]
    since = "since the sprint started" if memory is None else "since the last digest"
    head = f"*Sprint digest: {escape(report.sprint.name)}* · {_dates(report, today)}"
    delta = now.done_points - (memory.done_points if memory else 0.0)
    change = f"*{len(fresh)}* done {since} ({_signed(delta)} points)"
    lines = [head, progress_text(now), change]
    if fresh:
        lines.append("*Done*\n" + "\n".join(issue_line(i) for i in fresh))
    blocked = [i for i in report.issues if i.blocked and i.category is not Category.DONE]
    lines.append(
        ":no_entry: *Blocked*\n" + "\n".join(map(issue_line, blocked))
        if blocked
        else ":white_check_mark: Nothing is blocked."
    )
    reply = fit(f"Sprint digest: {report.sprint.name}", lines, report.board_url)
    return Reply(text=reply.text, blocks=reply.blocks, public=True)


def progress_text(counts: Progress) -> str:
    """`3 done · 2 in progress · 4 to do (of 9) · points 5 / 3 / 8 (of 16)` with a bar."""
    total = counts.total
    share = counts.done / total if total else 0.0
    bar = "▰" * round(share * 10) + "▱" * (10 - round(share * 10))
    text = (
        f"{bar} *{round(share * 100)}%* · {counts.done} done · {counts.in_progress} in progress"
        f" · {counts.todo} to do (of {total})"
    )
    if counts.total_points:
        text += (
            f"\n*Points:* {_num(counts.done_points)} done · {_num(counts.in_progress_points)}"
            f" in progress · {_num(counts.todo_points)} to do"
            f" (of {_num(counts.total_points)})"
        )
    return text


def callouts(issues: Sequence[PlanIssue]) -> list[str]:
    """The blocked and the unassigned open items, called out before the list."""
    open_items = [i for i in issues if i.category is not Category.DONE]
    lines = []
    blocked = [i for i in open_items if i.blocked]
    if blocked:
        lines.append(":no_entry: *Blocked*\n" + "\n".join(map(issue_line, blocked)))
    unassigned = [i for i in open_items if i.assignee is None]
    if unassigned:
        lines.append(":bust_in_silhouette: *Unassigned*\n" + "\n".join(map(issue_line, unassigned)))
    return lines


def group_by_status(issues: Iterable[PlanIssue]) -> list[tuple[str, list[PlanIssue]]]:
    """Items grouped by status name, in-progress statuses first, done last."""
    groups: dict[str, list[PlanIssue]] = {}
    order: dict[str, int] = {}
    for issue in issues:
        groups.setdefault(issue.status, []).append(issue)
        order.setdefault(issue.status, _ORDER[issue.category])
    return sorted(groups.items(), key=lambda item: order[item[0]])


def issue_line(issue: PlanIssue) -> str:
    """`• <link|OPS-1> Summary — Alice · 3 pts`."""
    summary = escape(issue.summary)
    if len(summary) > SUMMARY_LIMIT:
        summary = summary[: SUMMARY_LIMIT - 1] + "…"
    who = escape(issue.assignee) if issue.assignee else "_unassigned_"
    points = f" · {_num(issue.points)} pts" if issue.points is not None else ""
    flag = " :no_entry:" if issue.blocked and issue.category is not Category.DONE else ""
    return f"• <{issue.url}|{issue.key}> {summary} — {who}{points}{flag}"


def fit(
    text: str, paragraphs: Sequence[str], board_url: str | None, link: str = "Open the board"
) -> Reply:
    """Paragraphs as sections of at most 3,000 characters (long ones split at line ends),
    and the board link as the last block (when there is a board): at most 50 blocks, what
    does not fit is counted."""
    sections: list[str] = []
    for paragraph in paragraphs:
        sections += _split(paragraph)
    footer: list[Block] = []
    if board_url:
        footer.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{board_url}|{link}>"}]}
        )
    room = MAX_BLOCKS - len(footer)
    if len(sections) > room:
        dropped = len(sections) - (room - 1)
        where = "see the board" if board_url else "ask for less"
        sections = [*sections[: room - 1], f"_… {dropped} more sections: {where}._"]
    blocks: list[Block] = [_section(s) for s in sections]
    return Reply(text=text[:SECTION_LIMIT], blocks=(*blocks, *footer))


def _split(paragraph: str) -> list[str]:
    if len(paragraph) <= SECTION_LIMIT:
        return [paragraph]
    parts: list[str] = []
    current = ""
    for raw in paragraph.split("\n"):
        line = raw if len(raw) <= SECTION_LIMIT else raw[: SECTION_LIMIT - 1] + "…"
        if current and len(current) + 1 + len(line) > SECTION_LIMIT:
            parts.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        parts.append(current)
    return parts


def _dates(report: SprintReport, today: date) -> str:
    sprint = report.sprint
    if sprint.start is None or sprint.end is None:
        return "_not scheduled yet_"
    span = f"{sprint.start:%b %d} to {sprint.end:%b %d}"
    left = sprint.days_left(today)
    if sprint.state != "active" or left is None:
        return span
    return f"{span} · *{left} day{'s' if left != 1 else ''} left*"


def _num(value: float) -> str:
    return f"{value:g}"


def _signed(value: float) -> str:
    return f"+{value:g}" if value >= 0 else f"{value:g}"
