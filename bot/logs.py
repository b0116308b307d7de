"""Logging with secrets removed from every record, whatever logger wrote it."""

from __future__ import annotations

import logging

from bot.core.redact import Redactor


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


def configure_logging(redact: Redactor, level: int = logging.INFO) -> None:
    """Log to stderr through a handler that redacts secrets."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(redact))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # Their INFO lines (each migration step, each HTTP request) drown the bot's own.
    for chatty in ("alembic", "httpx", "httpcore", "urllib3"):
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))
