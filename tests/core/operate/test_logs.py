"""What /logs shows: a plain substring filter, redaction, task and time on every line."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.operate.logs import LogQuery, inline_reply, render, select
from bot.core.operate.model import LogBatch, LogLine
from bot.core.redact import Redactor

AT = datetime(2026, 1, 5, 9, 30, 15, tzinfo=UTC)
BATCH = LogBatch((
    LogLine("task1", AT, "GET /a.b 200"),
    LogLine("task2", AT, "GET /axxb 500"),
    LogLine("task1", None, "password=hunter2hunter2"),
))  # fmt: skip


def test_grep_is_a_plain_substring_never_a_pattern() -> None:
    assert [line.text for line in select(BATCH, "a.b")] == ["GET /a.b 200"]
    assert select(BATCH, "$(rm -rf /)") == []
    assert len(select(BATCH, None)) == 3


def test_lines_carry_task_and_time_and_lose_secrets() -> None:
    shown = render(BATCH.lines, Redactor(["hunter2hunter2"]))
    assert shown == [
        "task1 09:30:15 GET /a.b 200",
        "task2 09:30:15 GET /axxb 500",
        "task1 --:--:-- password=[redacted]",
    ]


def test_inline_reply_says_when_nothing_matched_or_output_was_cut() -> None:
    query = LogQuery("web", "prod", 900, 200, "timeout")
    empty = inline_reply(query, [], capped=False)
    assert "Nothing matched" in empty.text and "last 15 minute(s)" in empty.text
    cut = inline_reply(query, ["a"], capped=True)
    assert "cut short" in cut.text
