"""Deploys end to end on the real engine, approved (or not) through the local workspace."""

from __future__ import annotations

import itertools

from bot.workspace import SlackWorkspace
from bot.workspace.payloads import reaction_event
from tests.scenarios.conftest import Harness
from tests.scenarios.deploy.support import (
    BROKEN,
    DEADLINE,
    GOOD,
    NEWER,
    Env,
    announcements,
    answer,
    env,
    images,
    request_message,
    swarm,
    text_of,
    wait_state,
)
from tests.scenarios.replies import reply_to

__all__ = ["env", "images", "swarm"]


def _deploy(env: Env, user: str, version: str, where: str = "prod") -> None:
    env.ws.user_command(user, "C0DEV", "/deploy", f"{env.service} {version} to {where}")


def test_reaction_approval_counts_only_approvers_once_and_rolls_out(env: Env) -> None:
    ws = env.ws
    _deploy(env, "U0ALICE", GOOD)
    request = request_message(ws, "C0DEV")
    assert "waits for 1 approval" in reply_to(env.harness, "U0ALICE", nth=2)

    ws.user_react("U0ALICE", "C0DEV", request.ts, "white_check_mark")
    assert "cannot approve" in reply_to(env.harness, "U0ALICE", nth=3)
    ws.user_react("U0DAVE", "C0DEV", request.ts, "+1")
    assert "Only approvers" in reply_to(env.harness, "U0DAVE")
    assert "— *pending*" in text_of(ws.message("C0DEV", request.ts))  # type: ignore[arg-type]

    # Bob approves with a skin tone, Slack retries the event, and he clicks Approve too.
    ws.state.react("C0DEV", request.ts, "+1::skin-tone-3", "U0BOB")
    for retry in (None, 1, 2):
        env.harness.slack.reaction_added(
            "U0BOB", "+1::skin-tone-3", "C0DEV", request.ts, event_id="Ev0DEPLOYAPPROVE",
            retry_num=retry, retry_reason="http_timeout" if retry else None,
        )  # fmt: skip
    ws.user_click("U0CAROL", "C0DEV", request.ts, "deploy.approve", first_id(request))

    done = wait_state(ws, request, "succeeded")
    assert answer(env.port) == GOOD
    assert "<@U0BOB>" in text_of(done)
    said = announcements(ws, env.service)
    ws.wait_for(lambda: len(announcements(ws, env.service)) >= 2, timeout=DEADLINE)
    said = announcements(ws, env.service)
    assert [("started" in s, "succeeded" in s) for s in said] == [(True, False), (False, True)]
    assert "approved by <@U0BOB>" in said[1]
    thread = ws.thread("C0DEV", request.ts)
    assert any("Succeeded" in m.text for m in thread[1:])


def test_failing_health_keeps_old_version_and_locks_refuse_others(env: Env) -> None:
    ws = env.ws
    _deploy(env, "U0ALICE", GOOD)
    first = request_message(ws, "C0DEV")
    ws.user_click("U0BOB", "C0DEV", first.ts, "deploy.approve", first_id(first))
    wait_state(ws, first, "succeeded")

    _deploy(env, "U0ALICE", BROKEN)
    second = request_message(ws, "C0DEV", nth=2)
    ws.user_react("U0CAROL", "C0DEV", second.ts, "white_check_mark")
    failed = wait_state(ws, second, "failed", timeout=90)
    assert "keeps serving" in text_of(failed)
    assert answer(env.port) == GOOD

    ws.user_command("U0BOB", "C0DEV", "/lock", "prod release freeze --for 2h")
    ws.wait_for(lambda: any("locked `prod`" in m.text for m in ws.messages("C0DEV")), DEADLINE)
    _deploy(env, "U0ALICE", NEWER)
    refusal = reply_to(env.harness, "U0ALICE", nth=6)
    assert "locked by <@U0BOB> (release freeze)" in refusal
    assert answer(env.port) == GOOD


def test_reject_an_unrelated_reaction_and_expiry(env: Env) -> None:
    ws = env.ws
    _deploy(env, "U0ALICE", GOOD)
    request = request_message(ws, "C0DEV")
    ws.user_react("U0CAROL", "C0DEV", request.ts, "x")
    wait_state(ws, request, "rejected")

    _deploy(env, "U0ALICE", GOOD)
    again = request_message(ws, "C0DEV", nth=2)
    ws.user_react("U0BOB", "C0DEV", again.ts, "eyes")
    env.clock.advance(10 * 60)
    expired = wait_state(ws, again, "expired")
    assert "Approvals: 0/1" in text_of(expired)
    ws.user_react("U0BOB", "C0DEV", again.ts, "white_check_mark")
    assert "expired" in reply_to(env.harness, "U0BOB")
    assert answer(env.port) == ""


def test_a_withdrawn_approval_does_not_count_and_distinct_approvers_are_needed(env: Env) -> None:
    ws = env.ws
    _deploy(env, "U0ALICE", GOOD, where="qa")
    request = request_message(ws, "C0DEV")
    ws.user_react("U0BOB", "C0DEV", request.ts, "white_check_mark")
    ws.wait_for(lambda: "Approvals: 1/2" in text_of(ws.message("C0DEV", request.ts)), DEADLINE)
    ws.user_unreact("U0BOB", "C0DEV", request.ts, "white_check_mark")
    ws.wait_for(lambda: "Approvals: 0/2" in text_of(ws.message("C0DEV", request.ts)), DEADLINE)
    ws.user_react("U0CAROL", "C0DEV", request.ts, "+1")
    ws.wait_for(lambda: "Approvals: 1/2" in text_of(ws.message("C0DEV", request.ts)), DEADLINE)
    assert "— *pending*" in text_of(ws.message("C0DEV", request.ts))
    ws.user_click("U0BOB", "C0DEV", request.ts, "deploy.approve", first_id(request))
    wait_state(ws, request, "succeeded")
    assert answer(env.qa_port) == GOOD


def _shown(ws: SlackWorkspace, ts: str) -> str:
    message = ws.message("C0DEV", ts)
    return text_of(message) if message is not None else ""


def first_id(message: object) -> str:
    """The request id the buttons of a request message carry."""
    for block in getattr(message, "blocks", None) or []:
        for element in block.get("elements", []):
            if element.get("action_id") == "deploy.approve":
                return str(element["value"])
    raise AssertionError("no Approve button")


def test_a_reaction_removal_handled_before_its_addition_leaves_no_vote(env: Env) -> None:
    ws = env.ws
    _deploy(env, "U0ALICE", GOOD, where="qa")
    request = request_message(ws, "C0DEV")

    def shown() -> int:
        updates = ws.calls_to("chat.update")
        return len([c for c in updates if c.params.get("ts") == request.ts])

    # Bob added then removed :+1:, and Slack stamped the events in that order; the bot
    # handles the removal first (the router's two workers can swap them).
    before = shown()
    for kind, stamp in (("reaction_removed", "1767603600.000200"),
                        ("reaction_added", "1767603600.000100")):  # fmt: skip
        event = reaction_event(
            kind, user_id="U0BOB", reaction="+1", channel_id="C0DEV", ts=request.ts,
            item_user="U0BOT",
        )  # fmt: skip
        env.harness.slack.event({**event, "event_ts": stamp})
        ws.wait_for(lambda n=before: shown() > n, timeout=DEADLINE, description=kind)
        before = shown()
    ws.user_react("U0CAROL", "C0DEV", request.ts, "+1")
    ws.wait_for(lambda: "Approvals: 1/2 (<@U0CAROL>)" in _shown(ws, request.ts), DEADLINE)
    ws.wait_for(lambda: shown() > before, timeout=DEADLINE, description="Carol's vote")
    assert "— *pending*" in _shown(ws, request.ts)
    assert answer(env.qa_port) == ""


def test_quick_votes_edit_the_request_at_most_once_a_second_ending_on_the_tally(env: Env) -> None:
    ws = env.ws
    _deploy(env, "U0ALICE", GOOD, where="qa")
    request = request_message(ws, "C0DEV")
    ws.user_react("U0BOB", "C0DEV", request.ts, "white_check_mark")
    ws.user_react("U0BOB", "C0DEV", request.ts, "+1")
    ws.user_unreact("U0BOB", "C0DEV", request.ts, "white_check_mark")
    ws.user_react("U0CAROL", "C0DEV", request.ts, "+1")
    done = wait_state(ws, request, "succeeded")
    assert "Approvals: 2/2 (<@U0BOB>, <@U0CAROL>)" in text_of(done)
    stamps = [c.timestamp for c in ws.calls_to("chat.update") if c.params.get("ts") == request.ts]
    assert len(stamps) >= 2
    # Slack allows about one edit a second per message (a little slack for the clock).
    assert all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(stamps))


def test_lock_reasons_are_shown_as_typed_not_as_mentions_or_links(harness: Harness) -> None:
    ws = harness.workspace
    ws.user_command("U0BOB", "C0DEV", "/lock", "prod <!channel> <https://evil|docs>")
    said = ws.wait_for(
        lambda: [m.text for m in ws.messages("C0DEV") if "locked `prod`" in m.text], DEADLINE
    )
    assert "&lt;!channel&gt; &lt;https://evil|docs&gt;" in said[0]
    assert "<!channel>" not in said[0] and "<https://" not in said[0]
    ws.user_command("U0ALICE", "C0DEV", "/lock", "prod")
    refusal = reply_to(harness, "U0ALICE")
    assert "&lt;!channel&gt;" in refusal and "<!channel>" not in refusal
