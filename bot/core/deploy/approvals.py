"""Who may approve a deploy, and what the votes on a request add up to.

The rules hold whatever reaches the bot: a reaction, a button click or a retried event all
end up in judge(), which refuses the requester, ignores people who are not approvers, and
counts distinct people.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from bot.core.access import belongs

APPROVE_REACTIONS = frozenset({"white_check_mark", "+1", "heavy_check_mark"})
REJECT_REACTIONS = frozenset({"x"})


class ActionId(StrEnum):
    """The buttons on an approval request."""

    APPROVE = "deploy.approve"
    REJECT = "deploy.reject"


class Mark(StrEnum):
    """How a vote was cast: by which reaction, or by a button."""

    BUTTON_APPROVE = "button:approve"
    BUTTON_REJECT = "button:reject"


def is_approving(mark: str) -> bool:
    """Whether a stored mark (a reaction's base name or a button mark) approves."""
    return mark in APPROVE_REACTIONS or mark == Mark.BUTTON_APPROVE


def is_rejecting(mark: str) -> bool:
    """Whether a stored mark rejects."""
    return mark in REJECT_REACTIONS or mark == Mark.BUTTON_REJECT


def event_time(event_ts: str) -> datetime | None:
    """Slack's `1700000000.123456` as a UTC time, to the microsecond; None when absent or
    malformed (the vote is then stamped with the bot's clock)."""
    seconds, _, fraction = event_ts.partition(".")
    if not seconds.isdigit() or not (fraction == "" or fraction.isdigit()):
        return None
    micros = int((fraction + "000000")[:6])
    return datetime.fromtimestamp(int(seconds), UTC) + timedelta(microseconds=micros)


def mark_of_reaction(base_name: str) -> str | None:
    """The mark a reaction casts (skin tones already stripped), None for other emoji."""
    if base_name in APPROVE_REACTIONS or base_name in REJECT_REACTIONS:
        return base_name
    return None


@dataclass(frozen=True, slots=True)
class Policy:
    """An environment's approval rule: how many approvals, from whom, within how long."""

    needed: int
    approvers: tuple[str, ...]
    timeout_minutes: int


class Verdict(StrEnum):
    """What one person's vote means for the request."""

    COUNTED = "counted"
    SELF_APPROVAL = "self_approval"
    NOT_APPROVER = "not_approver"


def judge(
    policy: Policy, requester: str, voter: str, members: Callable[[str], Iterable[str]]
) -> Verdict:
    """Whether `voter` may vote on `requester`'s deploy under `policy`. `members` lists a
    user group's members (the Slack directory)."""
    if voter == requester:
        return Verdict.SELF_APPROVAL
    if belongs(voter, policy.approvers, members):
        return Verdict.COUNTED
    return Verdict.NOT_APPROVER


@dataclass(frozen=True, slots=True)
class Tally:
    """The votes so far: distinct approvers and rejecters."""

    approved_by: tuple[str, ...]
    rejected_by: tuple[str, ...]
    needed: int

    @property
    def rejected(self) -> bool:
        """One rejection from an approver stops the deploy."""
        return bool(self.rejected_by)

    @property
    def approved(self) -> bool:
        """Enough distinct people approved, and nobody rejected."""
        return not self.rejected and len(self.approved_by) >= self.needed


def tally(votes: Iterable[tuple[str, str]], needed: int) -> Tally:
    """Count (user, mark) votes: each person once, however many marks they left."""
    approving: dict[str, None] = {}
    rejecting: dict[str, None] = {}
    for user, mark in votes:
        if is_rejecting(mark):
            rejecting.setdefault(user, None)
        elif is_approving(mark):
            approving.setdefault(user, None)
    return Tally(tuple(approving), tuple(rejecting), needed)
