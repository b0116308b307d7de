"""Secrets never reach the log, whichever logger writes them, in messages or tracebacks."""

from __future__ import annotations

import io
import logging

from bot.core.redact import Redactor
from bot.logs import RedactingFilter


def test_messages_arguments_and_tracebacks_are_redacted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(Redactor(["jira-token-123456"])))
    logger = logging.getLogger("tests.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("calling Jira with %s", "jira-token-123456")
        try:
            raise RuntimeError("refused token xoxb-9999-8888-abcdef")
        except RuntimeError:
            logger.exception("call failed")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert "calling Jira with [redacted]" in written
    assert "refused token [redacted]" in written
    assert "jira-token-123456" not in written and "xoxb-9999" not in written
