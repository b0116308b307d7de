"""YAML text -> plain data, the 1-based line of every key path, and the problems found on the way.

Built on yaml.SafeLoader's node API rather than ``yaml.safe_load`` so that every key keeps its
line, duplicate keys are caught (plain YAML silently keeps the last one), and ``${VAR}`` is
expanded in string values before validation, so that ``port: ${WEB_PORT}`` still becomes an int.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from bot.config._checks import KeyPath

_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"
# "$${" is the escape for a literal "${"; a "${" with no closing "}" is reported.
_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class Document:
    """What was read: ``data`` holds dicts, lists and scalars; lines and problems by key path."""

    data: Any = None
    lines: dict[KeyPath, int] = field(default_factory=dict)
    problems: list[tuple[KeyPath, int | None, str]] = field(default_factory=list)
    # Key paths whose value is already known to be wrong (an unset ${VAR}): validation errors
    # there would only repeat the problem.
    tainted: set[KeyPath] = field(default_factory=set)


def read_yaml(text: str, environ: Mapping[str, str]) -> Document:
    """Read one YAML document; a syntax error, empty text or a non-mapping top is a problem."""
    doc = Document()
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            doc.problems.append(((), 1, "the file is empty: it needs at least a slack: section"))
        elif not isinstance(root, yaml.MappingNode):
            doc.problems.append(
                ((), _line(root), "the top level must be a mapping of sections (slack:, ...)")
            )
        else:
            doc.lines[()] = _line(root)
            doc.data = _Reader(loader, environ, doc).node(root, ())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        doc.problems.append(((), mark.line + 1 if mark else None, _yaml_message(error)))
    except yaml.YAMLError as error:
        doc.problems.append(((), None, f"invalid YAML: {error}"))
    finally:
        loader.dispose()
    return doc


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _yaml_message(error: yaml.MarkedYAMLError) -> str:
    parts = [part for part in (error.context, error.problem) if part]
    return "invalid YAML: " + ", ".join(parts)


class _Reader:
    def __init__(self, loader: yaml.SafeLoader, environ: Mapping[str, str], doc: Document) -> None:
        self._loader = loader
        self._environ = environ
        self._doc = doc
        self._open: set[int] = set()

    def _problem(self, path: KeyPath, line: int | None, message: str) -> None:
        self._doc.problems.append((path, line, message))

    def node(self, node: yaml.Node, path: KeyPath) -> Any:
        # An aliased node's own line is the anchor's; problems point at the key that uses it.
        line = self._doc.lines.setdefault(path, _line(node))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path, line)
        if id(node) in self._open:
            self._problem(path, line, "an alias refers to the value that contains it")
            return None
        if node.tag not in (_MAP, _SEQ):
            self._problem(path, line, f"unsupported YAML tag {node.tag}")
            return None
        self._open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.node(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self._open.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merges = [value for key, value in node.value if key.tag == _MERGE]
        # "<<: *base" entries come first so explicit keys override them, and earlier merge
        # sources override later ones, as YAML's merge-key rules say.
        for merge in reversed(merges):
            sources = merge.value if isinstance(merge, yaml.SequenceNode) else [merge]
            for source in reversed(sources):
                merged = self.node(source, path)
                if isinstance(merged, dict):
                    out.update(merged)
                else:
                    self._problem(path, _line(source), "'<<' must merge a mapping")
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(path, _line(key_node), "keys must be plain names, not lists or maps")
                continue
            # The key's text as written: YAML 1.1 would turn keys like "no" or "8080" into
            # booleans and numbers, which no key here means.
            key, line = str(key_node.value), _line(key_node)
            key_path = (*path, key)
            if key in first:
                message = f"duplicate key: '{key}' is already set on line {first[key]}"
                self._problem(key_path, line, message)
            first.setdefault(key, line)
            self._doc.lines[key_path] = line
            out[key] = self.node(value_node, key_path)
        return out

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath, line: int) -> Any:
        try:
            value = self._loader.construct_object(node, deep=True)
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or "unreadable value"
            self._problem(path, line, f"cannot read this value: {problem}")
            return None
        return self._expand(value, path, line) if isinstance(value, str) else value

    def _expand(self, value: str, path: KeyPath, line: int) -> str:
        def replace(match: re.Match[str]) -> str:
            text = match.group(0)
            if text == "$${":
                return "${"
            name = match.group(1)
            if name is None:
                self._problem(path, line, "'${' has no closing '}'; write $${ for a literal ${")
            elif not _VAR_NAME.fullmatch(name):
                self._problem(path, line, f"'${{{name}}}' must name a variable, like ${{WEB_PORT}}")
            elif name in self._environ:
                return self._environ[name]
            else:
                self._problem(path, line, f"environment variable {name} is not set")
            self._doc.tainted.add(path)
            return text

        return _REFERENCE.sub(replace, value)
