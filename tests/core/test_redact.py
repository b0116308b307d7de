"""Secrets never leave: known values and token-shaped strings are replaced."""

from __future__ import annotations

from bot.core.redact import REDACTED, Redactor


def test_known_secrets_and_slack_tokens_are_replaced() -> None:
    redact = Redactor(["s3cr3t-signing-value", "abc"])
    text = "token xoxb-1234-5678-abcdef and secret s3cr3t-signing-value and abc"
    assert redact(text) == f"token {REDACTED} and secret {REDACTED} and abc"


def test_app_level_tokens_are_replaced_without_being_known() -> None:
    assert Redactor([])("xapp-1-A0-123-deadbeef") == REDACTED
