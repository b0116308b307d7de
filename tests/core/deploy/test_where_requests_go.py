"""Where a deploy request is posted and what ops is told: the approval channel with a mirror
in the asker's channel (votes count on either), and checks that refuse before anyone is
asked to approve."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core.deploy.desk import Ask
from bot.core.deploy.model import DeployKind, DeployState
from bot.core.errors import IntegrationError
from tests.core.deploy.fakes import Desk, Images, Releases, answer, eventually, make_desk


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    made = make_desk(tmp_path, Images("1.2.0"), Releases("1.2.0"))
    yield made
    made.desk.stop_background()


def _ask(desk: Desk, env: str, channel: str = "C0DEV") -> None:
    desk.desk.ask(Ask(DeployKind.DEPLOY, "web", env, "1.2.0", "U0ALICE", channel, "https://r"))


def _state(desk: Desk) -> DeployState:
    return desk.store.recent(None, 1)[0].state


def test_an_approval_request_waits_in_the_ops_channel_with_a_link_from_the_askers(
    desk: Desk,
) -> None:
    _ask(desk, "prod")
    said = answer(desk)
    assert "waits for 1 approval(s) in <#C0OPS>" in said
    posted = [channel for channel, text in desk.slack.posts if "deploy #1" in text]
    assert posted == ["C0OPS", "C0DEV"]
    request = desk.store.get(1)
    assert request is not None and request.channel_id == "C0OPS"
    assert request.mirror_channel_id == "C0DEV" and request.mirror_ts
    # A reaction on the mirror in the asker's channel counts like one on the request.
    found = desk.desk.by_message("C0DEV", request.mirror_ts)
    assert found is not None and found.id == 1
    assert desk.desk.vote(found, "U0BOB", "white_check_mark", True) is None
    eventually(lambda: _state(desk) is DeployState.SUCCEEDED, "the approved deploy succeeds")
    # Both messages end on the final state (an edit may wait out its second).
    eventually(
        lambda: (
            {ref.channel_id for ref, t in desk.slack.edits if t.endswith(": succeeded")}
            == {"C0OPS", "C0DEV"}
        ),
        "both messages show succeeded",
    )


def test_asked_in_the_approval_channel_there_is_one_message(desk: Desk) -> None:
    _ask(desk, "prod", channel="C0OPS")
    assert "waits for 1 approval(s)." in answer(desk)
    assert [c for c, text in desk.slack.posts if "deploy #1" in text] == ["C0OPS"]
    assert desk.store.get(1).mirror_channel_id is None  # type: ignore[union-attr]


def test_a_deploy_needing_no_approval_stays_in_the_askers_channel_and_ops_is_told_plainly(
    desk: Desk,
) -> None:
    _ask(desk, "staging")
    assert "is starting" in answer(desk)
    eventually(lambda: _state(desk) is DeployState.SUCCEEDED, "the deploy succeeds")
    assert [c for c, text in desk.slack.posts if "deploy #1" in text] == ["C0DEV"]
    # The announcement follows the state change: wait for it.
    told = eventually(lambda: _queued_for_ops(desk, "succeeded:"), "ops is told it succeeded")
    assert "no approval needed" in told[0]
    assert "approved by no approval needed" not in told[0]


def test_what_the_engine_cannot_take_is_refused_before_anyone_is_asked(desk: Desk) -> None:
    desk.engine.refusal = IntegrationError("This Docker engine is not in Swarm mode: run it.")
    _ask(desk, "prod")
    assert "not in Swarm mode" in answer(desk)
    assert desk.slack.posts == [] and desk.store.recent(None, 5) == []


def _queued_for_ops(desk: Desk, part: str) -> list[str]:
    """The announcements queued in the outbox for the ops channel that hold `part`."""
    found = []
    for message_id in range(1, 50):
        message = desk.outbox.get(message_id)
        if message is not None and message.channel_id == "C0OPS" and part in message.reply.text:
            found.append(message.reply.text)
    return found
