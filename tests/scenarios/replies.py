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


def _readable(ephemeral: object) -> str:
    text = str(getattr(ephemeral, "text", ""))
    blocks = getattr(ephemeral, "blocks", None) or []
    parts = [text]
    for block in blocks:
        section = block.get("text") or {}
        parts.append(str(section.get("text", "")))
    return "\n".join(parts)
