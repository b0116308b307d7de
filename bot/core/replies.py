"""How an error becomes the answer a Slack user sees: one wording wherever it happens."""

from __future__ import annotations

import logging
import uuid

from bot.core.errors import OpsloopError
from bot.core.values import Reply

log = logging.getLogger(__name__)


def error_reply(error: OpsloopError) -> Reply:
    """The error's message, and its hint (usually the usage line) under it."""
    text = f":warning: {error.message}"
    if error.hint:
        text += f"\n{error.hint}"
    return Reply(text=text)


def unexpected_reply(what: str) -> tuple[Reply, str]:
    """For a bug: logs the exception being handled under a short reference and tells the user
    `what` failed and where to look. Returns the reply and a detail line for the audit log.
    Call it from an `except` block."""
    reference = uuid.uuid4().hex[:8]
    log.exception("%s failed (reference %s)", what, reference)
    reply = Reply(
        text=f":x: {what} failed unexpectedly. The bot's log has the details under "
        f"reference `{reference}`."
    )
    return reply, f"unexpected error, reference {reference}"
