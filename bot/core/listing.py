"""Lists that stay usable at any size: filters typed after the verb, a one-line summary
first, compact rows packed several to a block, pages turned in place by Previous and Next,
and everything at once as a CSV file on request.

    /services prod web-* unhealthy      /deploy list mine running      /ops audit denied

The filter words and their one answer for a word a list does not take are in
bot.core.list_filters (its names are importable from here too).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from bot.core.blocks import MAX_BLOCKS, SECTION_LIMIT, clip, context, escape, section
from bot.core.errors import UsageError
from bot.core.list_filters import (
    Filters,
    FilterWords,
    Vocabulary,
    parse_filters,
    refuse_unknown_service,
    unknown_environment,
)
from bot.core.values import Block, Reply

__all__ = [
    "BUTTON_VALUE_LIMIT", "PAGE_SIZE", "FilterWords", "Filters", "ListAction", "ListQuery",
    "ListVerb", "Listing", "Vocabulary", "page_reply", "parse_filters",
    "refuse_unknown_service", "unknown_environment",
]  # fmt: skip

PAGE_SIZE = 40
ROWS_PER_BLOCK = 10
BUTTON_VALUE_LIMIT = 2000
"""Characters in a button's value (Block Kit)."""


class ListAction(StrEnum):
    """The buttons under a list."""

    PREVIOUS = "list.previous"
    NEXT = "list.next"
    EXPORT = "list.export"


@dataclass(frozen=True, slots=True)
class Listing:
    """A list as a person sees it: a summary line, one mrkdwn row per item, and the same
    items as CSV records for the export."""

    title: str
    summary: str
    rows: tuple[str, ...]
    columns: tuple[str, ...] = ()
    records: tuple[tuple[str, ...], ...] = ()
    empty: str = "Nothing matches."
    note: str = ""
    """A warning shown under the summary (e.g. the engine did not answer)."""
    pending: str = ""
    """What is still being read (e.g. health), shown under the summary; a fuller build of
    the same list follows and edits the page in place."""

    def csv(self) -> bytes:
        """The whole list as CSV, header first."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(self.columns)
        writer.writerows([_inert(cell) for cell in record] for record in self.records)
        return out.getvalue().encode("utf-8")


def _inert(cell: str) -> str:
    """A cell a spreadsheet shows as text: lock reasons, audit arguments and Jira summaries
    are typed by people, and one starting with = + - @ would otherwise run as a formula."""
    return "'" + cell if cell[:1] in FORMULA_STARTS else cell


FORMULA_STARTS = frozenset("=+-@\t\r")


@dataclass(frozen=True, slots=True)
class ListQuery:
    """What a page button carries: the verb and the words that made the list, and a page."""

    verb: str
    words: tuple[str, ...] = field(default_factory=tuple)
    page: int = 1

    def encode(self) -> str:
        """The button value (JSON)."""
        return json.dumps({"v": self.verb, "w": list(self.words), "p": self.page})

    @classmethod
    def decode(cls, value: str) -> ListQuery:
        """The query a button carried; UsageError for a value we did not write."""
        try:
            data = json.loads(value)
            query = cls(str(data["v"]), tuple(str(w) for w in data["w"]), int(data["p"]))
        except (ValueError, KeyError, TypeError) as error:
            raise UsageError("That button does not name a list.") from error
        return query


def page_reply(listing: Listing, query: ListQuery, page_size: int = PAGE_SIZE) -> Reply:
    """One page of the list: the summary, "items 41-80 of 150", the rows (several to a
    block, each block within Slack's 3,000 characters), and Previous / Next / Export
    buttons. UsageError for a page past the end."""
    total = len(listing.rows)
    pages = max(1, -(-total // page_size))
    if query.page > pages:
        raise UsageError(
            f"There is no page {query.page}: {listing.title} has {total} item(s) on "
            f"{pages} page(s)."
        )
    first = (query.page - 1) * page_size
    shown = listing.rows[first : first + page_size]
    head = f"*{escape(listing.title)}* · {listing.summary}"
    if total > page_size:
        head += f"\nitems {first + 1}-{first + len(shown)} of {total}"
    blocks: list[Block] = [section(head)]
    if listing.note:
        blocks.append(section(f":warning: {listing.note}"))
    if listing.pending:
        blocks.append(context(f":hourglass_flowing_sand: {listing.pending}"))
    if not shown:
        blocks.append(section(f"_{listing.empty}_"))
    for start in range(0, len(shown), ROWS_PER_BLOCK):
        blocks += _packed(shown[start : start + ROWS_PER_BLOCK])
    buttons = _buttons(listing, query, pages)
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    text = f"{listing.title}: {listing.summary}"
    return Reply(text=clip(text), blocks=tuple(blocks[:MAX_BLOCKS]))


def _packed(rows: Sequence[str]) -> list[Block]:
    """Rows as few sections as their length allows (a long row is clipped on its own)."""
    blocks: list[Block] = []
    current: list[str] = []
    for raw in rows:
        row = clip(raw, SECTION_LIMIT // 2)
        if current and len("\n".join([*current, row])) > SECTION_LIMIT:
            blocks.append(section("\n".join(current)))
            current = []
        current.append(row)
    if current:
        blocks.append(section("\n".join(current)))
    return blocks


def _buttons(listing: Listing, query: ListQuery, pages: int) -> list[Block]:
    buttons: list[Block] = []
    if query.page > 1:
        buttons.append(
            _button("Previous", ListAction.PREVIOUS, replace(query, page=query.page - 1))
        )
    if query.page < pages:
        buttons.append(_button("Next", ListAction.NEXT, replace(query, page=query.page + 1)))
    if listing.records:
        buttons.append(_button("Export all as CSV", ListAction.EXPORT, query))
    if any(len(str(b["value"])) > BUTTON_VALUE_LIMIT for b in buttons):
        return []  # filters too long to carry; the typed command still pages with `page N`
    return buttons


def _button(label: str, action: ListAction, query: ListQuery) -> Block:
    return {
        "type": "button",
        "action_id": action.value,
        "text": {"type": "plain_text", "text": label},
        "value": query.encode(),
    }


Lister = Callable[[str, Filters], Listing]
"""Builds a list for a person (their user ID, for `mine`) under the given filters."""
QuickLister = Callable[[str, Filters], tuple[Listing, Callable[[], Listing] | None]]
"""Builds a list quickly, and says how to finish it (None when nothing is pending)."""


@dataclass(frozen=True, slots=True)
class ListVerb:
    """A verb that shows a list: its filter words and how to build the list."""

    verb: str
    vocabulary: Callable[[], Vocabulary]
    build: Lister
    first: QuickLister | None = None
    """A quicker build for the first answer, which leaves what is slow to read (health)
    `pending` and hands back how to finish it (see `page`)."""
    service_first: bool = False
    """The list used to take a service first (`/status web`): a first word that reads like
    a service's name and is no filter word is refused as an unknown service."""

    def parse(self, words: Sequence[str]) -> FilterWords:
        """The filters the words name; NotFound for an unknown service (`service_first`) or
        environment (after a service), UsageError for any other word the list does not take."""
        vocabulary = self.vocabulary()
        if self.service_first:
            refuse_unknown_service(words, vocabulary)
        return FilterWords(tuple(words), parse_filters(words, vocabulary))

    def reply(self, user: str, words: Sequence[str]) -> Reply:
        """The page the words ask for (`page N` among them), for `user`."""
        return self.page(user, self.parse(words))[0]

    def page(
        self, user: str, asked: FilterWords, quick: bool = False
    ) -> tuple[Reply, Callable[[], Reply] | None]:
        """The page `asked` names, and, when `quick` and the list has a `first` build that
        left parts pending, how to build the same page in full (reusing what the quick build
        read), for the caller to edit in. Otherwise the page is the full one."""
        filters = asked.filters
        query = ListQuery(self.verb, tuple(_without_page(asked.words)), filters.page)
        if not quick or self.first is None:
            return page_reply(self.build(user, filters), query), None
        listing, rest = self.first(user, filters)
        reply = page_reply(listing, query)
        if rest is None:
            return reply, None
        return reply, lambda: page_reply(rest(), query)

    def export(self, user: str, words: Sequence[str]) -> tuple[str, bytes, int]:
        """The whole list as (file name, CSV, item count)."""
        listing = self.build(user, self.parse(words).filters)
        name = self.verb.replace(" ", "-") + ".csv"
        return name, listing.csv(), len(listing.records)


def _without_page(words: Sequence[str]) -> list[str]:
    kept: list[str] = []
    skip = False
    for index, word in enumerate(words):
        if skip:
            skip = False
            continue
        if word.lower() == "page" and index + 1 < len(words):
            skip = True
            continue
        kept.append(word)
    return kept
