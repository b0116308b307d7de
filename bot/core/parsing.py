"""From the text a user typed to a checked Invocation, without ever involving a shell.

The text is split into words the way a shell would quote them (so `"two words"` is one
argument) but nothing is expanded or executed: `$(rm -rf /)` is just a word, and it will
not pass the check of any argument kind that could reach a subprocess or an API.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Collection
from dataclasses import dataclass

from semver import Version

from bot.core.errors import NotFound, UsageError
from bot.core.values import SlashCommand
from bot.core.verbs import Arg, ArgKind, Option, Verb

MAX_TEXT = 4000

# Slack's clients turn straight quotes into typographic ones as people type.
_SMART_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")
_DURATION_RE = re.compile(r"^([1-9]\d{0,4})([smhd])$")
_ISSUE_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]+-[1-9]\d*$")
_JOB_ID_RE = re.compile(r"^[A-Za-z0-9-]{1,40}$")
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class Catalog:
    """The names the router can check arguments against: configured services and environments."""

    services: Collection[str]
    environments: Collection[str]


def split_words(text: str) -> list[str]:
    """Split command text into words, honouring quotes; a stray quote is a UsageError."""
    if len(text) > MAX_TEXT:
        raise UsageError(
            f"That command is {len(text):,} characters long; the limit is {MAX_TEXT:,}."
        )
    try:
        return shlex.split(text.translate(_SMART_QUOTES), comments=False, posix=True)
    except ValueError as error:
        raise UsageError(f"I could not read that command: {error}.") from error


def without_prefix(command: SlashCommand, prefix: str, known: Collection[str]) -> SlashCommand:
    """The command as the verbs name it: `/ops-deploy` is `/deploy` when the app's commands
    carry the prefix `ops-` (opsloop manifest --prefix). A name that is itself one of the
    `known` commands (`/release` with the prefix `re`) or whose remainder is not one passes
    unchanged."""
    name = command.command.lstrip("/").lower()
    rest = name[len(prefix) :]
    if (
        prefix
        and name.startswith(prefix.lower())
        and f"/{name}" not in known
        and f"/{rest}" in known
    ):
        return dataclasses.replace(command, command="/" + rest)
    return command


def command_words(command: SlashCommand) -> list[str]:
    """The words naming the verb and its arguments: `/deploy a b` and `/ops deploy a b` alike."""
    words = split_words(command.text)
    name = command.command.lstrip("/").lower()
    return words if name == "ops" else [name, *words]


Options = dict[str, str | bool]


def bind(verb: Verb, words: list[str], catalog: Catalog) -> tuple[dict[str, str], Options]:
    """Match words to the verb's declared arguments and options, checking every value."""
    positional, options = _split_options(verb, words)
    args: dict[str, str] = {}
    remaining = list(positional)
    for arg in verb.args:
        if arg.rest:
            if remaining:
                args[arg.name] = " ".join(remaining)
                remaining = []
            elif not arg.optional:
                raise _usage(verb, f"Missing <{arg.name}>.")
            break
        if arg.after and len(remaining) > 1 and remaining[0].lower() == arg.after:
            remaining.pop(0)
        if not remaining:
            if arg.optional:
                continue
            raise _usage(verb, f"Missing <{arg.name}>.")
        if arg.optional and _belongs_to_next(verb, arg, remaining[0], catalog):
            continue
        if arg.optional and len(remaining) > 1 and _introduces_next(verb, arg, remaining[0]):
            continue
        args[arg.name] = check_value(verb, arg.name, arg.kind, remaining.pop(0), catalog)
    if remaining:
        plural = "s" if len(remaining) > 1 else ""
        raise _usage(verb, f"Unexpected extra argument{plural}: {_shown(' '.join(remaining))}.")
    return args, options


def _belongs_to_next(verb: Verb, arg: Arg, value: str, catalog: Catalog) -> bool:
    """Whether an optional argument was left out: `value` does not fit it but fits the next
    argument (`/alerts silence web 1h` gives no environment)."""
    following = verb.args[verb.args.index(arg) + 1 :]
    if not following or _problem(arg.kind, value, catalog) is None:
        return False
    return (
        following[0].kind is not ArgKind.TEXT
        and _problem(following[0].kind, value, catalog) is None
    )


def _introduces_next(verb: Verb, arg: Arg, word: str) -> bool:
    """Whether an optional argument was left out because `word` is the next argument's
    noise word (`/ship web 1.2.0 to prod` gives no ref)."""
    following = verb.args[verb.args.index(arg) + 1 :]
    return bool(following) and following[0].after == word.lower()


def _split_options(verb: Verb, words: list[str]) -> tuple[list[str], Options]:
    declared = {option.name: option for option in verb.options}
    positional: list[str] = []
    options: Options = {}
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("--") or word == "--":
            positional.append(word)
            continue
        name, _, inline = word[2:].partition("=")
        option = declared.get(name)
        if option is None:
            known = ", ".join(f"--{o}" for o in declared) or "none"
            raise _usage(verb, f"Unknown option `--{name}` (options: {known}).")
        options[name] = _option_value(verb, option, inline, words, index)
        if option.value and not inline:
            index += 1
    return positional, options


def _option_value(
    verb: Verb, option: Option, inline: str, words: list[str], index: int
) -> str | bool:
    if option.value is None:
        if inline:
            raise _usage(verb, f"`--{option.name}` takes no value.")
        return True
    value = inline or (words[index] if index < len(words) else "")
    if not value or value.startswith("--"):
        raise _usage(verb, f"`--{option.name}` needs a <{option.value}>.")
    return check_value(verb, f"--{option.name}", option.kind, value, Catalog((), ()))


def check_value(verb: Verb, label: str, kind: ArgKind, value: str, catalog: Catalog) -> str:
    """Return the value if it is a valid `kind`, else raise a UsageError or NotFound."""
    problem = _problem(kind, value, catalog)
    if problem is None:
        return value
    if kind in (ArgKind.SERVICE, ArgKind.ENVIRONMENT) and NAME_RE.match(value):
        raise NotFound(problem)
    raise _usage(verb, f"{label}: {problem}")


def _problem(kind: ArgKind, value: str, catalog: Catalog) -> str | None:
    shown = _shown(value)
    if kind is ArgKind.SERVICE:
        return _member(shown, value, "service", catalog.services)
    if kind is ArgKind.ENVIRONMENT:
        return _member(shown, value, "environment", catalog.environments)
    if kind is ArgKind.VERSION and not Version.is_valid(value.removeprefix("v")):
        return f"{shown} is not a semantic version like 1.4.2."
    if kind is ArgKind.REF and not is_safe_ref(value):
        return f"{shown} is not a valid git branch, tag or commit."
    if kind is ArgKind.COUNT and not (value.isdecimal() and 1 <= int(value) <= 1000):
        return f"{shown} is not a whole number from 1 to 1000."
    if kind is ArgKind.DURATION and not _DURATION_RE.match(value):
        return f"{shown} is not a duration like 30m, 2h or 1d."
    if kind is ArgKind.ISSUE_KEY and not _ISSUE_KEY_RE.match(value):
        return f"{shown} is not a Jira issue key like OPS-42."
    if kind is ArgKind.JOB_ID and not _JOB_ID_RE.match(value):
        return f"{shown} is not a job id."
    return None


def _member(shown: str, value: str, what: str, known: Collection[str]) -> str | None:
    if value in known:
        return None
    names = ", ".join(f"`{name}`" for name in sorted(known)) or "none configured"
    return f"Unknown {what} {shown}. Known {what}s: {names}."


def is_safe_ref(value: str) -> bool:
    """A git ref or sha that cannot be mistaken for an option or a path outside the repo."""
    return bool(
        _REF_RE.match(value)
        and ".." not in value
        and "//" not in value
        and not value.endswith((".lock", "/", "."))
        and "/." not in value
    )


def duration_seconds(value: str) -> int:
    """`2h` is 7200; the value must already have passed the DURATION check."""
    match = _DURATION_RE.match(value)
    if match is None:
        raise UsageError(f"{_shown(value)} is not a duration like 30m, 2h or 1d.")
    return int(match.group(1)) * _DURATION_SECONDS[match.group(2)]


def _shown(value: str) -> str:
    # Echo the user's value back safely: short, with no backticks to break out of code.
    clipped = value if len(value) <= 60 else value[:57] + "..."
    return "`" + clipped.replace("`", "'") + "`"


def _usage(verb: Verb, message: str) -> UsageError:
    return UsageError(message, hint=f"Usage: `{verb.usage()}`")
