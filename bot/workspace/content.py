"""Reading Web API parameters and enforcing Slack's message content limits."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.workspace.model import JsonDict, SlackError

MAX_TEXT = 40_000
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_ACTION_ELEMENTS = 25
MAX_ID_LENGTH = 255

Params = Mapping[str, Any]


def required(params: Params, name: str) -> str:
    """The parameter as a string; SlackError("invalid_arguments") if absent or empty."""
    value = params.get(name)
    if value is None or value == "":
        raise SlackError("invalid_arguments", [f"[ERROR] missing required field: {name}"])
    return str(value)


def optional(params: Params, name: str) -> str | None:
    """The parameter as a string, or None when absent or empty."""
    value = params.get(name)
    return None if value is None or value == "" else str(value)


def flag(params: Params, name: str) -> bool:
    """A boolean parameter: JSON true, or "true"/"1" in a form body."""
    value = params.get(name)
    if isinstance(value, bool):
        return value
    return str(value).lower() in {"1", "true"}


def number(params: Params, name: str, default: int) -> int:
    """An integer parameter; SlackError("invalid_arguments") if not a number."""
    value = params.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SlackError("invalid_arguments", [f"[ERROR] {name} must be a number"]) from None


def json_list(params: Params, name: str, error: str) -> list[JsonDict] | None:
    """A list parameter sent as JSON (form body: JSON string; JSON body: array)."""
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise SlackError(error, [f"[ERROR] {name} is not valid JSON"]) from None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SlackError(error, [f"[ERROR] {name} must be an array of objects"])
    return value


@dataclass
class Content:
    """The text / blocks / attachments of a message being posted or edited."""

    text: str | None
    blocks: list[JsonDict] | None
    attachments: list[JsonDict] | None


def message_content(params: Params, *, require: bool = True) -> Content:
    """Read and check text/blocks/attachments like Slack does.

    Raises SlackError: no_text (nothing to show), msg_too_long (text over 40,000
    characters), invalid_blocks (see :func:`check_blocks`).
    """
    text = params.get("text")
    text = None if text is None else str(text)
    blocks = json_list(params, "blocks", "invalid_blocks_format")
    attachments = json_list(params, "attachments", "invalid_attachments")
    if require and not text and not blocks and not attachments:
        raise SlackError("no_text")
    if text is not None and len(text) > MAX_TEXT:
        raise SlackError("msg_too_long")
    if blocks is not None:
        check_blocks(blocks)
    return Content(text, blocks, attachments)


def _text_of(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text", ""))
    return ""


def check_blocks(blocks: list[JsonDict]) -> None:
    """SlackError("invalid_blocks") with "[ERROR] ..." hints when Block Kit limits
    are broken: over 50 blocks, a block without type, section text over 3000
    characters, over 10 section fields or a field over 2000, header text over 150,
    over 25 action elements, ids over 255 characters, or repeated block_ids."""
    problems: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"[ERROR] must be less than {MAX_BLOCKS + 1} items [json-pointer:/blocks]")
    seen_ids: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"[json-pointer:/blocks/{i}]"
        kind = block.get("type")
        if not isinstance(kind, str) or not kind:
            problems.append(f"[ERROR] missing required field: type {where}")
            continue
        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in seen_ids:
                problems.append(f"[ERROR] duplicate block_id {block_id!r} {where}")
            if len(block_id) > MAX_ID_LENGTH:
                problems.append(f"[ERROR] block_id too long {where}")
            seen_ids.add(block_id)
        problems += _check_block(kind, block, where)
    if problems:
        raise SlackError("invalid_blocks", problems)


def _check_block(kind: str, block: JsonDict, where: str) -> list[str]:
    problems: list[str] = []
    if kind == "section":
        if len(_text_of(block.get("text"))) > MAX_SECTION_TEXT:
            problems.append(f"[ERROR] must be less than {MAX_SECTION_TEXT + 1} characters {where}")
        fields = block.get("fields") or []
        if len(fields) > MAX_SECTION_FIELDS:
            problems.append(f"[ERROR] fields must be less than 11 items {where}")
        if any(len(_text_of(f)) > MAX_FIELD_TEXT for f in fields):
            problems.append(f"[ERROR] field text must be less than 2001 characters {where}")
    elif kind == "header" and len(_text_of(block.get("text"))) > MAX_HEADER_TEXT:
        problems.append(f"[ERROR] header text must be less than 151 characters {where}")
    elif kind == "actions":
        elements = block.get("elements") or []
        if len(elements) > MAX_ACTION_ELEMENTS:
            problems.append(f"[ERROR] elements must be less than 26 items {where}")
        for el in elements:
            if isinstance(el, dict) and len(str(el.get("action_id", ""))) > MAX_ID_LENGTH:
                problems.append(f"[ERROR] action_id too long {where}")
    return problems
