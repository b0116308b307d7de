"""Reading the bot's answers back out of the workspace."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.scenarios.conftest import Harness

DEADLINE = 10.0


def reply_to(harness: Harness, user_id: str, channel_id: str = "C0DEV", nth: int = 1) -> str:
    """The text of the nth ephemeral answer `user_id` got in `channel_id` (blocks included),
    waiting for it: the bot answers after acknowledging, on another thread."""

    def answers() -> list[str]:
        return [_readable(e) for e in harness.workspace.ephemerals(channel_id, user_id)]

    harness.workspace.wait_for(lambda: len(answers()) >= nth, timeout=DEADLINE)
    return answers()[nth - 1]


def settled_reply(
    harness: Harness,
    user_id: str,
    unsettled: tuple[str, ...] = ("Looking up", "being checked"),
    channel_id: str = "C0DEV",
) -> str:
    """The newest ephemeral answer `user_id` got once it says none of `unsettled`: a list
    that answers with a quick page first edits its slower parts (health) in after it."""

    def newest() -> str | None:
        said = [_readable(e) for e in harness.workspace.ephemerals(channel_id, user_id)]
        if said and not any(word in said[-1] for word in unsettled):
            return said[-1]
        return None

    found: str = harness.workspace.wait_for(newest, timeout=DEADLINE)
    return found


def _readable(ephemeral: object) -> str:
    text = str(getattr(ephemeral, "text", ""))
    blocks = getattr(ephemeral, "blocks", None) or []
    parts = [text]
    for block in blocks:
        section = block.get("text") or {}
        parts.append(str(section.get("text", "")))
    return "\n".join(parts)
