"""What changed between two revisions: commits, the Jira keys they mention, and the view
that /changes, /release and /deploy share."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.core.blocks import escape as _escape
from bot.core.blocks import section as _section
from bot.core.values import Block

JIRA_KEY_RE = re.compile(r"\b[A-Z][A-Z0-9_]{1,9}-[1-9]\d{0,6}\b")
SHOWN_COMMITS = 20


@dataclass(frozen=True, slots=True)
class Commit:
    """One commit, as git log tells it."""

    sha: str
    subject: str
    author: str
    committed_at: datetime

    @property
    def short(self) -> str:
        """The first 12 characters of the sha."""
        return self.sha[:12]


@dataclass(frozen=True, slots=True)
class IssueSummary:
    """A Jira issue as release notes show it."""

    key: str
    summary: str
    status: str
    url: str


class IssueLookup(Protocol):
    """Resolves Jira keys to summaries (the Jira adapter); unknown keys are left out."""

    def summaries(self, keys: Sequence[str]) -> dict[str, IssueSummary]:
        """The issues for these keys that exist."""
        ...


class SourceRepository(Protocol):
    """A service's git repository, read without a shell."""

    def resolve(self, ref: str) -> str:
        """The full sha `ref` names (NotFound if none, RepositoryUnavailable if unreachable)."""
        ...

    def log(self, since: str | None, until: str, limit: int = 200) -> list[Commit]:
        """Commits reachable from `until` but not from `since`, newest first."""
        ...


def jira_keys(commits: Sequence[Commit]) -> list[str]:
    """The Jira keys the commit subjects mention, in first-mention order, each once."""
    found: dict[str, None] = {}
    for commit in commits:
        for key in JIRA_KEY_RE.findall(commit.subject):
            found.setdefault(key, None)
    return list(found)


def changes_blocks(
    title: str,
    commits: Sequence[Commit],
    issues: Mapping[str, IssueSummary] | None,
) -> list[Block]:
    """A title, the commits (newest first, at most 20 shown) and the Jira issues they name:
    with summary and status when Jira answered (`issues` not None), plain keys when not."""
    blocks: list[Block] = [_section(title)]
    if not commits:
        blocks.append(_section("_No commits._"))
        return blocks
    shown = [
        f"`{c.sha[:7]}` {_escape(c.subject)[:150]} _({_escape(c.author)})_"
        for c in commits[:SHOWN_COMMITS]
    ]
    if len(commits) > SHOWN_COMMITS:
        shown.append(f"_… and {len(commits) - SHOWN_COMMITS} more_")
    blocks.append(_section("\n".join(shown)))
    keys = jira_keys(commits)
    if keys:
        blocks.append(_section("*Issues*\n" + "\n".join(_issue_line(k, issues) for k in keys)))
    return blocks


def _issue_line(key: str, issues: Mapping[str, IssueSummary] | None) -> str:
    if issues is None:
        return f"• {key}"
    issue = issues.get(key)
    if issue is None:
        return f"• {key} _(not found in Jira)_"
    return f"• <{issue.url}|{key}> {_escape(issue.summary)[:150]} — *{_escape(issue.status)}*"


def revision_not_in_repository(service: str, version: str | None, revision: str) -> str:
    """What /deploy and /changes say when an image was built from a commit the service's
    repository does not have (the repository was made again, or its history rewritten)."""
    what = f"`{service}` `{version}`" if version else f"`{service}`"
    return (
        f":warning: {what} was built from commit `{revision[:12]}`, which is not in "
        f"`{service}`'s repository: it was built from other code (an older copy of the "
        f"repository, or history that was rewritten), so what it ships cannot be listed."
    )
