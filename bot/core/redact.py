"""Keeping secrets out of Slack and out of the logs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

REDACTED = "[redacted]"

# Slack tokens have a recognisable shape even when we were never told their value.
_SLACK_TOKEN_RE = re.compile(r"\bx(?:ox[abposr]|app)-[A-Za-z0-9-]{6,}")


class Redactor:
    """Replaces every known secret, and anything shaped like a Slack token, with [redacted]."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Short values would blank out ordinary words; real secrets are long.
        known = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)
        self._known = re.compile("|".join(re.escape(s) for s in known)) if known else None

    def __call__(self, text: str) -> str:
        """The text with secrets replaced."""
        if self._known is not None:
            text = self._known.sub(REDACTED, text)
        return _SLACK_TOKEN_RE.sub(REDACTED, text)


def public_source(source: str) -> str:
    """A repository address without the credentials written into it, fit for anyone to read."""
    parts = urlsplit(source)
    if parts.hostname and (parts.username or parts.password):
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return source
