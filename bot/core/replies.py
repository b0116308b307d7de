"""How a failure becomes what people see and what the log keeps: one wording and one path,
wherever it happens (the router, the stages' own threads, background answers).

    answer(work, what)       a Reply for the user whatever `work` raises, with its outcome
    best_effort(what, work)  work whose failure must not stop the caller: logged, never raised
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from bot.core.errors import OpsloopError
from bot.core.values import Outcome, Reply

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Answered:
    """What the user was told, the outcome it counts as, and a line for the audit log."""

    reply: Reply
    outcome: Outcome
    detail: str = ""


def answer(work: Callable[[], Reply], what: str) -> Answered:
    """Run `work` for a user. An OpsloopError becomes its message (with its hint) and its
    outcome; anything else is a bug: logged under a short reference the user is given, with
    `what` saying what failed (e.g. "`/deploy`")."""
    try:
        return Answered(work(), Outcome.OK)
    except OpsloopError as error:
        return Answered(error_reply(error), Outcome(error.outcome), error.message)
    except Exception:
        reply, detail = unexpected_reply(what)
        return Answered(reply, Outcome.ERROR, detail)


def best_effort(what: str, work: Callable[[], T]) -> T | None:
    """`work`'s result, or None when it raised: the failure is logged with `what` (e.g.
    "post the announcement of deploy #4") and never reaches the caller."""
    try:
        return work()
    except Exception:
        log.warning("could not %s", what, exc_info=True)
        return None


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
