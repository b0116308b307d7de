"""`/ops audit`'s view: pure, no servers."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.values import AuditEntry
from commands.ops import AUDIT_LINE_LIMIT, audit_view


def test_a_long_audit_fits_one_section_and_shows_it_was_cut() -> None:
    entries = [
        AuditEntry(datetime(2026, 1, 5, 9, 0, i, tzinfo=UTC), "U0ALICE", "C0DEV", "deploy",
                   "web prod " + "x" * 80, "ok")
        for i in range(AUDIT_LINE_LIMIT)
    ]  # fmt: skip
    reply = audit_view(entries, 50)
    (block,) = reply.blocks
    text = block["text"]["text"]
    assert len(text) <= 3000
    assert text.endswith("…")
    assert "at most 30 at a time" in text
