"""Reading a POST /slack/events request before Bolt sees it.

Bolt guesses a body's kind from its text: any form body containing the word "payload"
is taken for an interactivity payload, so a slash command whose text, channel or user
name says "payload" arrived as an empty request (404). A malformed payload made Bolt
raise while building the request (no HTTP answer at all), and a timestamp that is not a
number made its signature check raise (500). Here the body is parsed by its content type
and its fields, and Bolt gets a request already parsed; what cannot be read is refused.

The signature is checked first, before the body is parsed or anything is said about it:
Bolt's own check logs the whole body of a request it refuses, and a body that is not from
Slack may hold anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt import BoltContext, BoltRequest
from slack_bolt.request.internals import build_context
from slack_sdk.signature import SignatureVerifier

TIMESTAMP_HEADER = "x-slack-request-timestamp"
SIGNATURE_HEADER = "x-slack-signature"
JSON_TYPE = "application/json"

Headers = Mapping[str, Sequence[str]]


class Refused(Exception):
    """A request that is not read any further: `status` is the HTTP answer, `reason` the
    one line logged about it (never the body, which may hold anything)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def bolt_request(raw_body: str, headers: Headers, signing_secret: str) -> BoltRequest:
    """The request as Bolt should see it: the raw body kept for the signature check, the
    parsed body and its context set from our own parse. Refused (401) when the timestamp
    header is not a whole number or the request is not signed with `signing_secret` within
    the last five minutes, (400) when the body cannot be read."""
    _check_timestamp(headers)
    _check_signature(raw_body, headers, signing_secret)
    parsed = parse_body(raw_body, _content_type(headers))
    request = BoltRequest(body="", headers=dict(headers))
    # Bolt's own parse of the raw body is what goes wrong; its signature check reads
    # raw_body, its listeners read body and context.
    request.raw_body = raw_body
    request.body = parsed
    request.context = build_context(BoltContext(), parsed)
    return request


def parse_body(raw_body: str, content_type: str) -> dict[str, Any]:
    """A JSON body (Events API) as its object; a form body as its fields, or, when it has
    a `payload` field (interactivity), that field's JSON object. Refused (400) otherwise."""
    if not raw_body:
        return {}
    if content_type == JSON_TYPE or raw_body.startswith("{"):
        return _json_object(raw_body, "the body")
    fields = dict(parse_qsl(raw_body, keep_blank_values=True))
    if "payload" in fields:
        return _json_object(fields["payload"], "the payload field")
    return fields


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise Refused(400, f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise Refused(400, f"{what} is JSON but not an object")
    return value


def _check_timestamp(headers: Headers) -> None:
    # A missing header is Bolt's to refuse (401); one that is there must be a number.
    values = headers.get(TIMESTAMP_HEADER)
    if values and not values[0].strip().isdecimal():
        raise Refused(401, "X-Slack-Request-Timestamp is not a whole number")


def _check_signature(raw_body: str, headers: Headers, signing_secret: str) -> None:
    timestamp = _first(headers, TIMESTAMP_HEADER)
    signature = _first(headers, SIGNATURE_HEADER)
    verifier = SignatureVerifier(signing_secret)
    if not timestamp or not signature or not verifier.is_valid(raw_body, timestamp, signature):
        raise Refused(401, "the signature is missing, stale or wrong (not sent by Slack)")


def _first(headers: Headers, name: str) -> str:
    values = headers.get(name)
    return values[0].strip() if values else ""


def _content_type(headers: Headers) -> str:
    values = headers.get("content-type")
    return values[0].split(";", 1)[0].strip().lower() if values else ""
