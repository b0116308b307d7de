"""Secrets never reach the log, whichever logger writes them, in messages or tracebacks."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime

import pytest

from bot.core.redact import Redactor
from bot.logs import (
    JsonFormatter,
    LogSettingError,
    RedactingFilter,
    TextFormatter,
    log_format,
    log_level,
)


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


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("opsloop.test", logging.WARNING, __file__, 1, message, None, None)


def test_text_lines_carry_the_utc_offset() -> None:
    line = TextFormatter().format(_record("hello"))
    stamp, level, rest = line.split(" ", 2)
    assert datetime.fromisoformat(stamp).utcoffset() is not None
    assert (level, rest) == ("WARNING", "opsloop.test: hello")


def test_json_lines_hold_the_redacted_message_and_traceback() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter(Redactor(["jira-token-123456"])))
    logger = logging.getLogger("tests.logs.json")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise RuntimeError("refused jira-token-123456")
        except RuntimeError:
            logger.exception("call with %s failed", "jira-token-123456")
    finally:
        logger.removeHandler(handler)
    entry = json.loads(stream.getvalue())
    assert entry["level"] == "ERROR" and entry["logger"] == "tests.logs.json"
    assert entry["message"] == "call with [redacted] failed"
    assert "RuntimeError: refused [redacted]" in entry["exception"]
    assert datetime.fromisoformat(entry["time"]).utcoffset() is not None
    assert "jira-token-123456" not in stream.getvalue()


def test_log_settings_are_read_or_refused() -> None:
    assert log_level("debug") == logging.DEBUG
    assert log_level("") == logging.INFO
    assert log_format("JSON") == "json"
    with pytest.raises(LogSettingError, match="one of DEBUG, INFO"):
        log_level("verbose")
