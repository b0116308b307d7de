"""Who may approve, and what votes add up to."""

from __future__ import annotations

from bot.core.deploy.approvals import Mark, Policy, Verdict, judge, mark_of_reaction, tally

POLICY = Policy(needed=2, approvers=("U0BOB", "S0LEADS"), timeout_minutes=30)
GROUPS = {"S0LEADS": frozenset({"U0CAROL"})}


def members(group: str) -> frozenset[str]:
    return GROUPS.get(group, frozenset())


def test_the_requester_cannot_approve_even_as_an_approver() -> None:
    assert judge(POLICY, "U0BOB", "U0BOB", members) is Verdict.SELF_APPROVAL


def test_approvers_count_by_id_or_through_a_group_and_others_do_not() -> None:
    assert judge(POLICY, "U0ALICE", "U0BOB", members) is Verdict.COUNTED
    assert judge(POLICY, "U0ALICE", "U0CAROL", members) is Verdict.COUNTED
    assert judge(POLICY, "U0ALICE", "U0DAVE", members) is Verdict.NOT_APPROVER


def test_distinct_people_are_counted_once_whatever_they_left() -> None:
    votes = [("U0BOB", "+1"), ("U0BOB", "white_check_mark"), ("U0BOB", Mark.BUTTON_APPROVE)]
    assert not tally(votes, 2).approved
    assert tally([*votes, ("U0CAROL", "+1")], 2).approved


def test_one_rejection_stops_the_deploy() -> None:
    counted = tally([("U0BOB", "+1"), ("U0CAROL", "+1"), ("U0CAROL", "x")], 2)
    assert counted.rejected and not counted.approved


def test_only_the_approval_and_rejection_reactions_are_marks() -> None:
    assert mark_of_reaction("+1") == "+1"
    assert mark_of_reaction("x") == "x"
    assert mark_of_reaction("eyes") is None
