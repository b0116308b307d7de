"""Checks the local workspace's traffic against Slack's published API specs.

Reads, from the specs folder (tests/vendor/specs/slack in the repository):

- ``web-api.openapi2.json``: each Web API request must carry the method's required
  parameters (the ``token`` parameter is also satisfied by an ``Authorization`` header;
  unknown parameters are fine) and each ``ok: true`` answer must match the method's
  200 schema (``#/definitions`` refs resolved, JSON Schema draft 4 as OpenAPI 2 uses).
  ``ok: false`` answers are only checked for shape: the spec's error enums are dated.
- ``event-wrapper.schema.json`` and ``events-api.asyncapi.json``: event_callback
  envelopes, and their event where the AsyncAPI file has a topic for the type.

Methods the spec does not describe (files.getUploadURLExternal,
files.completeUploadExternal, the response_url and upload endpoints) are not validated.

The spec is from 2020; ``ERRATA`` lists the few places where it contradicts Slack's own
documented answers (and this package's fixed seed ids) and how the loaded copy is
patched. Nothing else is relaxed. Files load once per process per folder.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

JsonDict = dict[str, Any]

UNSPECIFIED_METHODS = frozenset({"files.getUploadURLExternal", "files.completeUploadExternal"})

ERRATA = (
    "defs_channel / defs_bot_id: minimum id length 8 -> 2. The seed ids (C0OPS, B0BOT) are "
    "shorter; the same spec already allows 2 for defs_channel_id and defs_user_id.",
    "objs_message.attachments items: additionalProperties allowed. Slack returns "
    "attachments with text/color/...; the spec's own chat.postMessage example does too.",
    "conversations.history messages: no minItems. An empty channel answers messages: [].",
    "conversations.history / conversations.replies: response_metadata (next_cursor) "
    "allowed, as documented for cursor pagination.",
    "conversations.replies messages: additionalProperties allowed (blocks, bot_id, "
    "reactions ...); the required fields are still enforced.",
)


@dataclass(frozen=True)
class _Bundle:
    web: JsonDict
    wrapper: JsonDict
    asyncapi: JsonDict


def _read(path: Path) -> JsonDict:
    with path.open(encoding="utf-8") as fh:
        data: JsonDict = json.load(fh)
    return data


def _op(web: JsonDict, method: str) -> JsonDict | None:
    path = web["paths"].get("/" + method)
    if not path:
        return None
    op: JsonDict = next(iter(path.values()))
    return op


def _apply_errata(web: JsonDict) -> None:
    defs = web["definitions"]
    defs["defs_channel"]["pattern"] = "^[CGD][A-Z0-9]{2,}$"
    defs["defs_bot_id"]["pattern"] = "^B[A-Z0-9]{2,}$"
    defs["objs_message"]["properties"]["attachments"]["items"]["additionalProperties"] = True
    paging = {"$ref": "#/definitions/objs_response_metadata"}
    for method in ("conversations.history", "conversations.replies"):
        op = _op(web, method)
        assert op is not None
        props = op["responses"]["200"]["schema"]["properties"]
        props["response_metadata"] = paging
        props["messages"].pop("minItems", None)
        if method == "conversations.replies":
            for item_schema in props["messages"]["items"]["items"]:
                item_schema["additionalProperties"] = True


@functools.cache
def _load(specs_dir: str) -> _Bundle:
    root = Path(specs_dir)
    web = _read(root / "web-api.openapi2.json")
    _apply_errata(web)
    return _Bundle(
        web=web,
        wrapper=_read(root / "event-wrapper.schema.json"),
        asyncapi=_read(root / "events-api.asyncapi.json"),
    )


def _describe(where: str, errors: list[Any]) -> list[str]:
    out = []
    for err in sorted(errors, key=lambda e: list(e.absolute_path)):
        message = err.message if len(err.message) < 300 else err.message[:297] + "..."
        out.append(f"{where} at {err.json_path}: {message}")
    return out


class SpecValidator:
    """Validates requests, responses and events against the Slack spec files.

    Every ``check_*`` method returns readable violation strings (empty when fine).
    Raises FileNotFoundError at construction if a spec file is missing.
    """

    def __init__(self, specs_dir: Path | str) -> None:
        self._bundle = _load(str(Path(specs_dir).resolve()))
        self._validators: dict[str, Validator] = {}
        self._lock = threading.Lock()

    def covers(self, method: str) -> bool:
        """True when the spec describes ``method`` (so its traffic is validated)."""
        return _op(self._bundle.web, method) is not None

    def check_request(
        self, method: str, params: Mapping[str, Any], *, has_auth_header: bool
    ) -> list[str]:
        """Required parameters of ``method`` that the request lacks."""
        op = _op(self._bundle.web, method)
        if op is None:
            return []
        out = []
        for param in op.get("parameters", []):
            if not param.get("required"):
                continue
            name = param["name"]
            if name == "token" and has_auth_header:
                continue
            if params.get(name) in (None, ""):
                out.append(f"{method} request: missing required parameter {name!r}")
        return out

    def check_response(self, method: str, body: Any) -> list[str]:
        """Schema violations of an HTTP 200 answer of ``method``."""
        if not isinstance(body, dict) or not isinstance(body.get("ok"), bool):
            return [f"{method} response: not a JSON object with a boolean 'ok'"]
        if not body["ok"]:
            if not isinstance(body.get("error"), str):
                return [f"{method} response: ok:false without an 'error' string"]
            return []
        validator = self._response_validator(method)
        if validator is None:
            return []
        return _describe(f"{method} response", list(validator.iter_errors(body)))

    def check_event(self, envelope: Any) -> list[str]:
        """Violations of an Events API body (event_callback envelope and its event)."""
        if not isinstance(envelope, dict) or envelope.get("type") != "event_callback":
            return []
        wrapper = self._bundle.wrapper
        errors = list(validator_for(wrapper)(wrapper).iter_errors(envelope))
        out = _describe("event_callback envelope", errors)
        event = envelope.get("event")
        if isinstance(event, dict) and isinstance(event.get("type"), str):
            topic = self._bundle.asyncapi["topics"].get(event["type"].replace("_", "."))
            payload = (topic or {}).get("subscribe", {}).get("payload")
            if payload is not None:
                schema = {**payload, "components": self._bundle.asyncapi["components"]}
                found = list(Draft4Validator(schema).iter_errors(envelope))
                out += _describe(f"{event['type']} event", found)
        return out

    def _response_validator(self, method: str) -> Validator | None:
        with self._lock:
            if method not in self._validators:
                op = _op(self._bundle.web, method)
                if op is None:
                    return None
                schema = op["responses"]["200"]["schema"]
                rooted = {**schema, "definitions": self._bundle.web["definitions"]}
                self._validators[method] = Draft4Validator(rooted)
            return self._validators[method]
