"""The filter words typed after a list's verb (bot.core.listing). A word is an environment,
a service name or a prefix ending in `*`, a state the list knows, or `mine`; `page N` opens
page N. Anything else is refused with what the list takes; an unknown word right after a
service, in a list that filters on environments, as an unknown environment naming the known
ones (`/monitor web prood`), whatever the list. Pure."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from bot.core.blocks import escape
from bot.core.errors import NotFound, UsageError


@dataclass(frozen=True, slots=True)
class Filters:
    """What a person asked to see. Empty means everything."""

    envs: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    states: frozenset[str] = frozenset()
    mine: bool = False
    page: int = 1

    def service(self, name: str) -> bool:
        """Whether a service passes the service filters."""
        if not self.services and not self.prefixes:
            return True
        return name in self.services or any(name.startswith(p) for p in self.prefixes)

    def env(self, name: str | None) -> bool:
        """Whether an environment passes (an item with no environment passes only when no
        environment was asked for)."""
        return not self.envs or name in self.envs

    def state(self, name: str) -> bool:
        """Whether a state passes."""
        return not self.states or name in self.states


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The filter words one list understands."""

    envs: Collection[str] = ()
    services: Collection[str] = ()
    states: Collection[str] = ()
    mine: bool = False

    def describe(self) -> str:
        """The kinds of word this list takes, for a refusal."""
        kinds = []
        if self.envs:
            kinds.append("an environment (" + ", ".join(sorted(self.envs)) + ")")
        if self.services:
            kinds.append("a service or a prefix ending in `*`")
        if self.states:
            kinds.append("a state (" + ", ".join(sorted(self.states)) + ")")
        if self.mine:
            kinds.append("`mine`")
        kinds.append("`page N`")
        return ", ".join(kinds)


def parse_filters(words: Sequence[str], vocabulary: Vocabulary) -> Filters:
    """The filters the words name; UsageError for a word the list does not take."""
    envs: set[str] = set()
    services: set[str] = set()
    prefixes: list[str] = []
    states: set[str] = set()
    mine, page = False, 1
    rest = [w.lower() for w in words]
    after_service = False
    while rest:
        word = rest.pop(0)
        follows_service, after_service = after_service, False
        if word == "page" and rest:
            page = _page_number(rest.pop(0))
        elif word in vocabulary.envs:
            envs.add(word)
        elif word in vocabulary.services:
            services.add(word)
            after_service = True
        elif vocabulary.services and word.endswith("*") and len(word) > 1:
            prefixes.append(word[:-1])
            after_service = True
        elif word in vocabulary.states:
            states.add(word)
        elif vocabulary.mine and word == "mine":
            mine = True
        elif follows_service and vocabulary.envs:
            raise unknown_environment(word, vocabulary.envs)
        else:
            raise UsageError(
                f"`{escape(word[:40])}` is not a filter of this list.",
                hint=f"It takes {vocabulary.describe()}.",
            )
    return Filters(frozenset(envs), frozenset(services), tuple(prefixes), frozenset(states),
                   mine, page)  # fmt: skip


def unknown_environment(word: str, known: Collection[str]) -> NotFound:
    """The answer to a word where an environment was meant (after a service) that is none."""
    names = ", ".join(f"`{name}`" for name in sorted(known)) or "none"
    return NotFound(f"Unknown environment `{escape(word[:40])}`. Known environments: {names}.")


def refuse_unknown_service(words: Sequence[str], vocabulary: Vocabulary) -> None:
    """NotFound "Unknown service `x`" when the first word reads like a service's name yet
    is no word the list takes, for lists that used to take a service first (`/status x`)."""
    if not words:
        return
    word = words[0].lower()
    known = (*vocabulary.envs, *vocabulary.services, *vocabulary.states, "page", "mine")
    if word in known or word.endswith("*") or not _NAME.fullmatch(word):
        return
    raise NotFound(
        f"Unknown service `{word}`: it is no service, environment or state this list knows.",
        hint=f"It takes {vocabulary.describe()}.",
    )


_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")


def _page_number(word: str) -> int:
    if not word.isdigit() or int(word) < 1:
        raise UsageError(f"`page {escape(word[:10])}`: a page is a whole number from 1.")
    return int(word)


@dataclass(frozen=True, slots=True)
class FilterWords:
    """The words typed after a list's verb and the filters they name, parsed once (before
    any slow read, so that a bad word is answered at once) and used to build the page."""

    words: tuple[str, ...]
    filters: Filters
