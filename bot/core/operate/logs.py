"""From the lines the engine gave to what the user sees: filtered by a plain substring,
secrets redacted, each line prefixed with its task and time; short output inline, long
output as a file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.core.blocks import clip, section
from bot.core.operate.model import LogBatch, LogLine
from bot.core.values import Reply

INLINE_LINES = 40
DEFAULT_TAIL = 200
MAX_TAIL = 1000
INLINE_CHARS = 2900


@dataclass(frozen=True, slots=True)
class LogQuery:
    """What /logs asked for."""

    service: str
    env: str
    since_seconds: int | None
    tail: int
    grep: str | None

    def describe(self) -> str:
        """`web` in `prod`, last 200 per task, since 15m, matching "timeout"."""
        parts = [f"`{self.service}` in `{self.env}`, last {self.tail} line(s) per task"]
        if self.since_seconds:
            parts.append(f"from the last {self.since_seconds // 60 or 1} minute(s)")
        if self.grep is not None:
            shown = self.grep.replace("`", "'")
            parts.append(f"containing `{shown}`")
        return ", ".join(parts)


def render(lines: Sequence[LogLine], redact: Callable[[str], str]) -> list[str]:
    """`<task> <HH:MM:SS> <text>` per line, secrets redacted."""
    shown = []
    for line in lines:
        at = line.at.strftime("%H:%M:%S") if line.at else "--:--:--"
        shown.append(redact(f"{line.task} {at} {line.text}"))
    return shown


def select(batch: LogBatch, grep: str | None) -> list[LogLine]:
    """The lines containing `grep` as typed (no pattern language), all when None."""
    if grep is None:
        return list(batch.lines)
    return [line for line in batch.lines if grep in line.text]


def inline_reply(query: LogQuery, shown: Sequence[str], capped: bool) -> Reply:
    """Up to INLINE_LINES lines in a code block."""
    head = f"Logs of {query.describe()}: {len(shown)} line(s)"
    if capped:
        head += " (cut short: the output was too large or too slow)"
    if not shown:
        return Reply(text=f"{head}. Nothing matched." if query.grep else f"{head}.")
    body = clip("\n".join(shown).replace("```", "'''"), INLINE_CHARS)
    return Reply(text=head, blocks=(section(head), section(f"```{body}```")))


def file_note(query: LogQuery, count: int, capped: bool) -> str:
    """The message the file is uploaded under."""
    note = f":page_facing_up: Logs of {query.describe()}: {count} line(s), in the file below."
    if capped:
        note += " Cut short: the output was too large or too slow."
    return note
