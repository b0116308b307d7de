"""Logging with secrets removed from every record, whatever logger wrote it; as text lines or
as one JSON object a line (OPSLOOP_LOG_FORMAT=json), every time stamp with its UTC offset."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from bot.core.redact import Redactor

FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class LogSettingError(ValueError):
    """OPSLOOP_LOG_LEVEL or OPSLOOP_LOG_FORMAT holds a value opsloop does not know."""


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with secrets replaced by [redacted]."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redacted, and drop the raw arguments."""
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        record.msg = self._redact(message)
        record.args = None
        return True


def local_time(record: logging.LogRecord) -> str:
    """The record's time in the machine's zone with its offset, to the millisecond:
    `2026-03-01T09:00:00.123+01:00`."""
    return datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """`2026-03-01T09:00:00.123+01:00 INFO bot.app: message`, then any traceback."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The time stamp with its UTC offset (the standard one has none)."""
        return local_time(record)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and exception when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": local_time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "thread": record.threadName,
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def log_level(value: str) -> int:
    """The level OPSLOOP_LOG_LEVEL names (any case; empty means INFO)."""
    name = value.strip().upper() or "INFO"
    if name not in LEVELS:
        raise LogSettingError(
            f"OPSLOOP_LOG_LEVEL={value!r} is not a log level; use one of {', '.join(LEVELS)}"
        )
    return int(getattr(logging, name))


def log_format(value: str) -> str:
    """The format OPSLOOP_LOG_FORMAT names: text (the default) or json."""
    name = value.strip().lower() or "text"
    if name not in FORMATS:
        raise LogSettingError(f"OPSLOOP_LOG_FORMAT={value!r} is not known; use text or json")
    return name


def configure_logging(redact: Redactor, level: int = logging.INFO, style: str = "text") -> None:
    """Log to stderr through a handler that redacts secrets, as text or JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if style == "json" else TextFormatter())
    handler.addFilter(RedactingFilter(redact))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # Their INFO lines (each migration step, each HTTP request) drown the bot's own.
    for chatty in ("alembic", "httpx", "httpcore", "urllib3"):
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))
