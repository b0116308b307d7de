"""The deploy request message: what it says beside the reactions Slack shows under it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.deploy.approvals import Policy
from bot.core.deploy.model import DeployKind, DeployRequest, DeployState
from bot.core.deploy.views import request_reply

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
POLICY = Policy(needed=1, approvers=("U0BOB", "S0APPROVERS"), timeout_minutes=30)


def _request(state: DeployState, approved_by: tuple[str, ...]) -> DeployRequest:
    return DeployRequest(
        id=7, kind=DeployKind.DEPLOY, service="web", env="prod", version="1.0.0",
        from_version=None, image="127.0.0.1:5000/web", digest="sha256:" + "0" * 64,
        requester="U0ALICE", channel_id="C0DEV", message_ts="1.000100", state=state,
        approvals_needed=1, created_at=NOW, expires_at=NOW + timedelta(minutes=30),
        started_at=None, finished_at=None, detail="", shipped="", changes=(),
        approved_by=approved_by,
    )  # fmt: skip


def _text(reply_blocks: tuple[dict[str, object], ...]) -> str:
    return "\n".join(str(b.get("text", {}).get("text", "")) for b in reply_blocks)


@pytest.mark.parametrize(
    ("state", "approved_by", "tally"),
    [
        (DeployState.PENDING, (), "Approvals: 0/1"),
        (DeployState.SUCCEEDED, ("U0BOB",), "Approvals: 1/1 (<@U0BOB>)"),
    ],
)
def test_the_tally_says_only_approvers_reactions_count(
    state: DeployState, approved_by: tuple[str, ...], tally: str
) -> None:
    """Slack keeps every reaction on the message (✅ 3 after two refused ones), so the
    tally beside them says whose count, before and after the approval."""
    text = _text(request_reply(_request(state, approved_by), POLICY).blocks)
    assert tally in text
    assert "approvers: <@U0BOB>, <!subteam^S0APPROVERS> (only their reactions count)" in text
