"""Keeping secrets out of Slack and out of the logs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from bot.core.blocks import escape

REDACTED = "[redacted]"

# Slack tokens have a recognisable shape even when we were never told their value.
_SLACK_TOKEN_RE = re.compile(r"\bx(?:ox[abposr]|app)-[A-Za-z0-9-]{6,}")
# The user and password written into a URL (https://user:password@host/...), whatever
# their length: a 3-character password is as secret as a long one. The part before the
# @ cannot hold /, ?, # or @ unencoded, nor space or the brackets and quotes around it.
_URL_CREDENTIALS_RE = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#@<>|`'\"]+@")
# Short values would blank out ordinary words wherever they appear; real secrets are long.
MIN_KNOWN_LENGTH = 6


class Redactor:
    """Replaces every known secret, the credentials in any URL, and anything shaped like a
    Slack token, with [redacted].

    A known secret is also found in its mrkdwn-escaped form (`&` as `&amp;`, `<` as `&lt;`,
    `>` as `&gt;`), so text escaped for Slack before it reaches the redactor still loses it.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        long_enough = {s for s in secrets if len(s) >= MIN_KNOWN_LENGTH}
        forms = long_enough | {escape(s) for s in long_enough}
        known = sorted(forms, key=len, reverse=True)
        self._known = re.compile("|".join(re.escape(s) for s in known)) if known else None

    def __call__(self, text: str) -> str:
        """The text with secrets replaced."""
        if self._known is not None:
            text = self._known.sub(REDACTED, text)
        text = _URL_CREDENTIALS_RE.sub(rf"\g<1>{REDACTED}@", text)
        return _SLACK_TOKEN_RE.sub(REDACTED, text)


def public_source(source: str) -> str:
    """A repository address without the credentials written into it, fit for anyone to read."""
    parts = urlsplit(source)
    if parts.hostname and (parts.username or parts.password):
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return source
