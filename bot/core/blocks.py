"""Block Kit building blocks every stage's views share, within Slack's limits."""

from __future__ import annotations

from bot.core.values import Block

SECTION_LIMIT = 3000
"""Characters in one section's text."""
CONTEXT_LIMIT = 2000
MAX_BLOCKS = 50
"""Blocks in one message."""


def escape(text: str) -> str:
    """Text safe inside mrkdwn: &, < and > escaped so nothing becomes a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int = SECTION_LIMIT) -> str:
    """The text, cut with an ellipsis when it is longer than `limit`."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> Block:
    """One mrkdwn section, clipped to Slack's 3000 characters."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text)}}


def context(text: str) -> Block:
    """A small grey line under a message."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, CONTEXT_LIMIT)}]}
