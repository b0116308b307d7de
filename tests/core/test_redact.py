"""Secrets never leave: known values and token-shaped strings are replaced."""

from __future__ import annotations

from bot.core.blocks import escape
from bot.core.redact import REDACTED, Redactor


def test_known_secrets_and_slack_tokens_are_replaced() -> None:
    redact = Redactor(["s3cr3t-signing-value", "abc"])
    text = "token xoxb-1234-5678-abcdef and secret s3cr3t-signing-value and abc"
    assert redact(text) == f"token {REDACTED} and secret {REDACTED} and abc"


def test_app_level_tokens_are_replaced_without_being_known() -> None:
    assert Redactor([])("xapp-1-A0-123-deadbeef") == REDACTED


def test_credentials_in_a_url_are_replaced_whatever_their_length() -> None:
    redact = Redactor([])
    text = "clone https://bot:p&ss@git.example.com/web.git and ssh://x@h/r.git, mail a@b.c"
    assert redact(text) == (
        f"clone https://{REDACTED}@git.example.com/web.git and ssh://{REDACTED}@h/r.git, mail a@b.c"
    )


def test_a_known_secret_escaped_for_slack_is_still_replaced() -> None:
    secret = "to<k>en&more"
    redact = Redactor([secret])
    escaped = escape(f"the key is {secret}.")
    assert redact(escaped) == f"the key is {REDACTED}."
