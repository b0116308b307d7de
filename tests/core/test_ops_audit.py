"""`/ops audit`'s list: pure, no servers."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.listing import Filters, ListQuery, page_reply
from bot.core.values import AuditEntry
from commands.ops import audit_listing


def _entries(count: int) -> list[AuditEntry]:
    return [
        AuditEntry(datetime(2026, 1, 5, 9, 0, i % 60, tzinfo=UTC),
                   "U0ALICE" if i % 2 else "U0BOB", "C0DEV", "deploy", "web prod " + "x" * 80,
                   "denied" if i % 10 == 0 else "ok")
        for i in range(count)
    ]  # fmt: skip


def test_a_long_audit_pages_within_slacks_limits() -> None:
    listing = audit_listing(_entries(95), Filters(), "U0ALICE")
    assert listing.summary.startswith("95 commands") and "10 denied" in listing.summary
    last = page_reply(listing, ListQuery("audit", (), 3))
    text = " ".join(b["text"]["text"] for b in last.blocks if b["type"] == "section")
    assert "items 81-95 of 95" in text
    assert all(len(b["text"]["text"]) <= 3000 for b in last.blocks if b["type"] == "section")
    labels = [
        e["text"]["text"] for b in last.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert labels == ["Previous", "Export all as CSV"]


def test_filters_keep_the_outcome_and_the_callers_own() -> None:
    denied = audit_listing(_entries(95), Filters(states=frozenset({"denied"})), "U0ALICE")
    assert len(denied.rows) == 10 and all("*denied*" in row for row in denied.rows)
    mine = audit_listing(_entries(95), Filters(mine=True), "U0ALICE")
    assert len(mine.rows) == 47 and all("<@U0ALICE>" in row for row in mine.rows)
