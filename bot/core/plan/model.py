"""Plan: sprints, issues and their progress as the Slack user sees them, the port to the
issue tracker (Jira), and the rules that need no tracker: progress, blocked, "mine", the
status a `/plan move` means, and JQL quoting."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from bot.core.errors import UsageError

BLOCKED_RE = re.compile(r"block|imped", re.IGNORECASE)
_JQL_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")


class Category(StrEnum):
    """Jira's three status categories: every status falls into one."""

    TODO = "To Do"
    IN_PROGRESS = "In Progress"
    DONE = "Done"

    @classmethod
    def from_jira(cls, key: str) -> Category:
        """statusCategory.key (new, indeterminate, done) to a Category."""
        return {"done": cls.DONE, "indeterminate": cls.IN_PROGRESS}.get(key, cls.TODO)


@dataclass(frozen=True, slots=True)
class PlanIssue:
    """One Jira issue as /plan shows it."""

    key: str
    summary: str
    status: str
    category: Category
    url: str
    issue_type: str = "Task"
    assignee: str | None = None
    """The assignee's display name; None when unassigned."""
    assignee_id: str | None = None
    """accountId on Jira Cloud, the user name on Server / Data Center."""
    assignee_email: str | None = None
    points: float | None = None
    flagged: bool = False

    @property
    def blocked(self) -> bool:
        """Flagged, or in a status named like Blocked or Impeded."""
        return self.flagged or bool(BLOCKED_RE.search(self.status))


@dataclass(frozen=True, slots=True)
class Sprint:
    """A sprint of the board: active, future or closed."""

    id: int
    name: str
    state: str
    goal: str = ""
    start: datetime | None = None
    end: datetime | None = None

    def days_left(self, today: date) -> int | None:
        """Calendar days until the sprint's end (0 on the last day); None without an end."""
        if self.end is None:
            return None
        return max((self.end.date() - today).days, 0)


@dataclass(frozen=True, slots=True)
class SprintReport:
    """A sprint with its items, and where the board is."""

    sprint: Sprint
    issues: tuple[PlanIssue, ...]
    board_url: str


@dataclass(frozen=True, slots=True)
class Progress:
    """Issue counts and story points per category."""

    done: int = 0
    in_progress: int = 0
    todo: int = 0
    done_points: float = 0.0
    in_progress_points: float = 0.0
    todo_points: float = 0.0

    @property
    def total(self) -> int:
        """Every issue counted."""
        return self.done + self.in_progress + self.todo

    @property
    def total_points(self) -> float:
        """Every story point counted."""
        return self.done_points + self.in_progress_points + self.todo_points


def progress(issues: Iterable[PlanIssue]) -> Progress:
    """Count the issues and their points by status category."""
    counts = dict.fromkeys(Category, 0)
    points = dict.fromkeys(Category, 0.0)
    for issue in issues:
        counts[issue.category] += 1
        points[issue.category] += issue.points or 0.0
    return Progress(
        done=counts[Category.DONE],
        in_progress=counts[Category.IN_PROGRESS],
        todo=counts[Category.TODO],
        done_points=points[Category.DONE],
        in_progress_points=points[Category.IN_PROGRESS],
        todo_points=points[Category.TODO],
    )


@dataclass(frozen=True, slots=True)
class Transition:
    """A move an issue can make now, and the status it leads to."""

    id: str
    name: str
    to_status: str


@dataclass(frozen=True, slots=True)
class DigestMemory:
    """What the last digest saw, so the next one can tell what changed since."""

    done_keys: frozenset[str]
    done_points: float
    at: datetime


class Tracker(Protocol):
    """The issue tracker behind /plan (Jira). Every method may raise JiraUnavailable (down,
    slow, refusing the credentials) or NotFound (no such board or issue)."""

    @property
    def board_url(self) -> str:
        """Where the board is, for the link at the end of every answer."""
        ...

    def active_sprint(self) -> SprintReport | None:
        """The board's active sprint with its items; None when no sprint is active."""
        ...

    def next_sprint(self) -> SprintReport | None:
        """The board's next future sprint with its items; None when none is planned."""
        ...

    def backlog(self, limit: int) -> list[PlanIssue]:
        """The top `limit` backlog items, in rank order."""
        ...

    def issue(self, key: str) -> PlanIssue:
        """One issue by key."""
        ...

    def create(self, summary: str, issue_type: str, into_active_sprint: bool) -> PlanIssue:
        """A new issue in the configured project (and in the active sprint when asked)."""
        ...

    def transitions(self, key: str) -> list[Transition]:
        """The moves the issue can make now."""
        ...

    def transition(self, key: str, transition: Transition) -> PlanIssue:
        """Make the move and return the issue as it is afterwards."""
        ...

    def user_ids(self, email: str) -> frozenset[str]:
        """The Jira account ids (Cloud) or user names (Server) with this e-mail address."""
        ...


def mine(issues: Sequence[PlanIssue], email: str, user_ids: frozenset[str]) -> list[PlanIssue]:
    """The issues assigned to the person with this e-mail (by Jira account or by e-mail)."""
    wanted = email.strip().lower()
    return [
        issue
        for issue in issues
        if (issue.assignee_id is not None and issue.assignee_id in user_ids)
        or (issue.assignee_email or "").strip().lower() == wanted
    ]


def pick_transition(key: str, transitions: Sequence[Transition], wanted: str) -> Transition:
    """The move to the status the user named (or the move's own name), case and spacing
    ignored; a UsageError that lists the valid statuses when none matches."""
    target = _fold(wanted)
    for transition in transitions:
        if _fold(transition.to_status) == target:
            return transition
    for transition in transitions:
        if _fold(transition.name) == target:
            return transition
    shown = (wanted if len(wanted) <= 40 else wanted[:37] + "...").replace("`", "'")
    if not transitions:
        raise UsageError(f"{key} cannot move anywhere from where it is now.")
    valid = ", ".join(f"`{t.to_status}`" for t in transitions)
    raise UsageError(
        f"{key} cannot move to `{shown}`. Valid statuses now: {valid}.",
        hint=f"Usage: `/plan move {key} <status>`",
    )


def jql_quote(value: str) -> str:
    """`value` as one JQL string literal: quoted, with backslashes and quotes escaped, so no
    text can change the shape of a query. Control characters are refused."""
    if _JQL_FORBIDDEN.search(value):
        raise UsageError("That value contains control characters, which Jira cannot search for.")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _fold(text: str) -> str:
    return " ".join(text.lower().split())


class DigestLedger(Protocol):
    """What the last sprint digest saw, kept in the store across restarts."""

    def load(self, job_id: str) -> DigestMemory | None:
        """The memory of the job's last digest, if any."""
        ...

    def save(self, job_id: str, memory: DigestMemory) -> None:
        """Remember what this digest saw."""
        ...
