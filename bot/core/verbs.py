"""Verb declarations: what a stage offers, its arguments and its usage line.

A command module declares each verb once; help, the usage messages, argument checks and
the Slack app manifest are all generated from these declarations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from bot.core.listing import ListVerb
from bot.core.values import Click, Invocation, Reaction, Reply


class ArgKind(Enum):
    """What an argument must look like; the router checks it before any handler runs."""

    TEXT = "text"
    SERVICE = "service"
    ENVIRONMENT = "environment"
    VERSION = "version"
    REF = "ref"
    COUNT = "count"
    DURATION = "duration"
    ISSUE_KEY = "issue key"
    JOB_ID = "job id"


@dataclass(frozen=True, slots=True)
class Arg:
    """A positional argument.

    `rest` swallows every remaining word (free text). `after` names an optional word the
    user may type before it, as in `/deploy web 1.2.0 to prod`.
    """

    name: str
    kind: ArgKind = ArgKind.TEXT
    optional: bool = False
    rest: bool = False
    help: str = ""
    after: str | None = None

    def usage(self) -> str:
        """`<name>`, `[name]`, or `<name...>` for free text; `[to] <env>` with a noise word."""
        label = f"{self.name}..." if self.rest else self.name
        shown = f"[{label}]" if self.optional else f"<{label}>"
        return f"[{self.after}] {shown}" if self.after else shown


@dataclass(frozen=True, slots=True)
class Option:
    """A `--name` flag, or `--name value` when `value` names its value."""

    name: str
    value: str | None = None
    kind: ArgKind = ArgKind.TEXT
    help: str = ""

    def usage(self) -> str:
        """`[--dry-run]` or `[--for <duration>]`."""
        return f"[--{self.name} <{self.value}>]" if self.value else f"[--{self.name}]"


Handler = Callable[[Invocation], Reply]
ReactionHandler = Callable[[Reaction], None]
ClickHandler = Callable[[Click], Reply | None]


@dataclass(frozen=True, slots=True)
class Verb:
    """One thing a user can ask for: `/deploy web 1.2.0 prod` is the verb `deploy`.

    A verb whose name has two words (`build list`) is a sub-verb: `/build list`.
    `available` is False for verbs whose stage is not built yet; they still parse their
    arguments so the user learns the usage, then say so plainly. `needs_store` is False for
    the few that answer from memory alone (help), so they answer while the database is down.
    """

    name: str
    summary: str
    stage: str
    handler: Handler
    args: tuple[Arg, ...] = ()
    options: tuple[Option, ...] = ()
    available: bool = True
    direct: bool = True
    needs_store: bool = True

    @property
    def command(self) -> str:
        """The slash command that reaches this verb directly, e.g. `/build`; `/ops` for
        verbs that have no slash command of their own (`direct` False)."""
        return "/" + self.name.split(" ", 1)[0] if self.direct else "/ops"

    def usage(self) -> str:
        """The usage line, e.g. `/deploy <service> <version> <env> [--dry-run]`."""
        parts = [f"/{self.name}" if self.direct else f"/ops {self.name}"]
        parts += [arg.usage() for arg in self.args]
        parts += [option.usage() for option in self.options]
        return " ".join(parts)


class Registry:
    """Every verb, reaction handler and button handler the command modules declared."""

    def __init__(self) -> None:
        self._verbs: dict[str, Verb] = {}
        self._reaction_handlers: list[ReactionHandler] = []
        self._click_handlers: dict[str, ClickHandler] = {}
        self._lists: dict[str, ListVerb] = {}

    def add(self, verb: Verb) -> None:
        """Declare a verb; declaring the same name twice is a programming error."""
        if verb.name in self._verbs:
            raise ValueError(f"verb {verb.name!r} is declared twice")
        self._verbs[verb.name] = verb

    def add_list(self, verb: Verb, listing: ListVerb) -> None:
        """Declare a verb that shows a list: its page and export buttons find it by name."""
        self.add(verb)
        self._lists[verb.name] = listing

    def list_verb(self, name: str) -> ListVerb | None:
        """The list behind a list verb, by the verb's name."""
        return self._lists.get(name)

    def on_reaction(self, handler: ReactionHandler) -> None:
        """Call `handler` for every reaction added to or removed from a message."""
        self._reaction_handlers.append(handler)

    def on_click(self, action_prefix: str, handler: ClickHandler) -> None:
        """Call `handler` for button clicks whose action_id starts with `action_prefix`."""
        if action_prefix in self._click_handlers:
            raise ValueError(f"click handler {action_prefix!r} is declared twice")
        self._click_handlers[action_prefix] = handler

    def verbs(self) -> list[Verb]:
        """All verbs, in the order they were declared."""
        return list(self._verbs.values())

    def get(self, name: str) -> Verb | None:
        """The verb with this exact name."""
        return self._verbs.get(name)

    def match(self, words: list[str]) -> tuple[Verb, list[str]] | None:
        """The verb named by the first words (a two-word sub-verb wins), and the rest."""
        if len(words) >= 2:
            sub = self._verbs.get(f"{words[0]} {words[1]}".lower())
            if sub is not None:
                return sub, words[2:]
        if words:
            verb = self._verbs.get(words[0].lower())
            if verb is not None:
                return verb, words[1:]
        return None

    def commands(self) -> list[str]:
        """The distinct slash commands, e.g. ['/build', '/deploy', ...], in declared order."""
        return list(dict.fromkeys(verb.command for verb in self._verbs.values()))

    def reaction_handlers(self) -> list[ReactionHandler]:
        """Handlers for reactions, in declared order."""
        return list(self._reaction_handlers)

    def click_handler(self, action_id: str) -> ClickHandler | None:
        """The handler whose prefix matches this action_id, if any."""
        for prefix, handler in self._click_handlers.items():
            if action_id.startswith(prefix):
                return handler
        return None


def planned(
    name: str,
    summary: str,
    stage: str,
    args: tuple[Arg, ...] = (),
    options: tuple[Option, ...] = (),
) -> Verb:
    """A verb whose stage is not built yet: it checks its arguments, then says so."""

    def not_yet(_invocation: Invocation) -> Reply:
        # The router answers for unavailable verbs before calling this; it is only here so
        # that a verb always has a handler.
        return Reply(text=f"The {stage} stage is not available yet.")

    return Verb(
        name=name,
        summary=summary,
        stage=stage,
        handler=not_yet,
        args=args,
        options=options,
        available=False,
    )
