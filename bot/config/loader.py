"""Load opsloop.yml into a :class:`Config`, or raise a :class:`ConfigError` naming every problem."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from bot.config._checks import AT, KeyPath, dotted
from bot.config._yaml import Document, read_yaml
from bot.config.models import Config, undefined_environments

# (key path, line, message) of one problem, before it is named by its source.
Found = tuple[KeyPath, int | None, str]


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One problem: the dotted key path ("" for the whole file), its 1-based line, and what to fix.

    ``str()`` gives the editor-friendly form ``opsloop.yml:12: services.web.port: must be ...``.
    """

    key: str
    line: int | None
    message: str
    source: str = "opsloop.yml"

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(Exception):
    """opsloop.yml is unusable. ``problems`` lists all of them, in file order; ``str()`` shows each
    on its own line. No secret value appears in it."""

    def __init__(self, problems: Iterable[ConfigProblem], path: Path) -> None:
        self.problems = tuple(problems)
        self.path = path
        super().__init__(str(self))

    def __reduce__(self) -> tuple[type[ConfigError], tuple[tuple[ConfigProblem, ...], Path]]:
        return type(self), (self.problems, self.path)

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = [f"{self.path} has {len(self.problems)} problems:"]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)


def load_config(path: Path, environ: Mapping[str, str]) -> Config:
    """Read and validate the opsloop.yml at ``path``; ``${VAR}`` and ``token_env`` come from
    ``environ``. Raises ConfigError with every problem, including an unreadable file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
        problem = ConfigProblem("", None, f"cannot read the file: {reason}", str(path))
        raise ConfigError([problem], path) from None
    return parse_config(text, environ, source=str(path))


def parse_config(text: str, environ: Mapping[str, str], source: str = "opsloop.yml") -> Config:
    """Validate opsloop.yml ``text``; ``source`` names it in problems. Raises ConfigError with
    every problem found: YAML syntax, duplicate keys, unset ${VAR}s, types, values, and
    cross-references (a deploy to an undefined environment). docker.namespace, when not set,
    is derived from the location ``source`` names (relative to the working directory)."""
    doc = read_yaml(text, environ)
    found: list[Found] = list(doc.problems)
    if doc.data is not None:
        # Top-level "x-" keys hold YAML anchors for reuse, as in docker-compose files.
        doc.data = {key: value for key, value in doc.data.items() if not key.startswith("x-")}
        found += _resolve_token_env(doc, environ)
        found += _deploy_problems(doc)
        try:
            config = Config.model_validate(doc.data, context={"config_path": Path(source)})
        except ValidationError as error:
            found += _validation_problems(error, doc)
        else:
            if not found:
                return config
    problems = {ConfigProblem(dotted(path), line, msg, source): None for path, line, msg in found}
    ordered = sorted(problems, key=lambda p: (p.line is None, p.line or 0, p.key))
    raise ConfigError(ordered, Path(source))


def _line(doc: Document, path: KeyPath) -> int | None:
    """The line of ``path``, or of its closest ancestor that is in the file."""
    for end in range(len(path), -1, -1):
        if path[:end] in doc.lines:
            return doc.lines[path[:end]]
    return None


def _resolve_token_env(doc: Document, environ: Mapping[str, str]) -> list[Found]:
    found = _token_env_at(doc, environ, ("jira",))
    return found + _token_env_at(doc, environ, ("monitor", "alertmanager"))


def _token_env_at(doc: Document, environ: Mapping[str, str], where: KeyPath) -> list[Found]:
    section: object = doc.data
    for part in where:
        section = section.get(part) if isinstance(section, dict) else None
    if not isinstance(section, dict) or not isinstance(section.get("token_env"), str):
        return []
    at: KeyPath = (*where, "token_env")
    name = section["token_env"]
    if "token" in section:
        return [(at, _line(doc, at), "give token or token_env, not both")]
    if not environ.get(name):
        # Not naming the variable: a token pasted here by mistake must not be echoed.
        return [(at, _line(doc, at), "the environment variable it names is not set or is empty")]
    section["token"] = environ[name]
    doc.lines[(*where, "token")] = doc.lines[at]
    return []


def _deploy_problems(doc: Document) -> list[Found]:
    """Undefined deploy environments, found even when other parts fail validation."""
    services, environments = doc.data.get("services"), doc.data.get("environments", {})
    if not isinstance(services, dict) or not isinstance(environments, dict):
        return []
    deploys = [
        (name, service["deploy"])
        for name, service in services.items()
        if isinstance(service, dict) and isinstance(service.get("deploy"), dict)
    ]
    problems = undefined_environments(deploys, environments)
    return [(path, _line(doc, path), message) for path, message in problems]


def _validation_problems(error: ValidationError, doc: Document) -> list[Found]:
    found: list[Found] = []
    for detail in error.errors(include_url=False):
        loc: KeyPath = tuple(detail["loc"])
        if loc and loc[-1] == "[key]":
            loc = loc[:-1]
        if any(loc[:end] in doc.tainted for end in range(len(loc) + 1)):
            continue
        ctx = detail.get("ctx") or {}
        pairs = ctx[AT] if AT in ctx else [((), _message(detail, loc))]
        for relative, message in pairs:
            found.append(((*loc, *relative), _line(doc, (*loc, *relative)), message))
    return found


_TYPE_MESSAGES = {
    "missing": "is required but missing",
    "model_type": "must be a mapping of keys to values",
    "model_attributes_type": "must be a mapping of keys to values",
    "dict_type": "must be a mapping of names to settings",
    "mapping_type": "must be a mapping of names to settings",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "string_too_short": "must not be empty",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "literal_error": "must be {expected}",
}


def _message(detail: ErrorDetails, loc: KeyPath) -> str:
    kind, ctx = detail["type"], detail.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    template = _TYPE_MESSAGES.get(kind)
    if template is None:
        text = detail["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
        return text[:1].lower() + text[1:]
    message = template.format(**ctx)
    if kind.endswith(("_type", "_parsing")):
        message += f" (got {_kind(detail.get('input'))})"
    if kind == "model_type" and detail.get("input") is None:
        message += "; write {} to take every default"
    if kind == "string_type" and isinstance(detail.get("input"), bool | int | float):
        message += "; put it in quotes"
    return message


def _kind(value: object) -> str:
    """What a YAML value is, named without showing it (it may be a secret)."""
    names = {NoneType: "nothing", bool: "true/false", int: "a number", float: "a number"}
    names |= {str: "a string", list: "a list", dict: "a mapping"}
    return names.get(type(value), f"a {type(value).__name__}")


def _unknown_key(loc: KeyPath) -> str:
    known = _fields_at(loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    if close:
        return f"unknown key (did you mean '{close[0]}'?)"
    return f"unknown key (expected one of: {', '.join(known)})" if known else "unknown key"


def _fields_at(loc: KeyPath) -> list[str]:
    """The keys the model at ``loc`` accepts, by walking Config's annotations."""
    kind: Any = Config
    for part in loc:
        kind = _unwrap(kind)
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            field = kind.model_fields.get(str(part))
            if field is None:
                return []
            kind = field.annotation
        elif args := get_args(kind):
            kind = args[-1] if get_origin(kind) is Mapping else args[0]
        else:
            return []
    kind = _unwrap(kind)
    return list(kind.model_fields) if isinstance(kind, type) and issubclass(kind, BaseModel) else []


def _unwrap(kind: Any) -> Any:
    """X from Annotated[X, ...] and from X | None."""
    while True:
        origin = get_origin(kind)
        if origin is Annotated:
            kind = get_args(kind)[0]
        elif origin in (Union, UnionType):
            rest = [arg for arg in get_args(kind) if arg is not NoneType]
            if len(rest) != 1:
                return kind
            kind = rest[0]
        else:
            return kind
