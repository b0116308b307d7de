"""Sends Slack-signed requests (slash commands, events, clicks) to the bot's endpoint: the
HTTP :class:`~bot.workspace.people.AppLink`, and a tool to forge what Slack would send."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.workspace.model import JsonDict
from bot.workspace.payloads import DEFAULT_VERIFICATION_TOKEN
from bot.workspace.people import (
    UNBOUND_RESPONSE_URL,
    Act,
    AppAck,
    AppUnreachable,
    HasPeople,
    People,
)

FORM = "application/x-www-form-urlencoded"
__all__ = ["FORM", "UNBOUND_RESPONSE_URL", "SentRequest", "SignedClient", "sign"]
# How each act travels over HTTP: its SentRequest kind and how its body is encoded.
_KINDS = {"command": "slash", "event": "event", "interaction": "block_actions"}


def sign(signing_secret: str, timestamp: int | str, body: bytes) -> str:
    """Slack's request signature: "v0=" + hex HMAC-SHA256 of "v0:{timestamp}:{body}"."""
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SentRequest:
    """One request the client sent: ``kind`` ("slash", "event", "block_actions",
    "url_verification", "raw"), the decoded ``payload`` and the bot's HTTP status."""

    kind: str
    payload: Any
    headers: dict[str, str]
    status: int


class SignedClient:
    """Plays Slack towards the bot: POSTs signed bodies to ``events_url``.

    With a ``workspace``, slash commands and clicks get a live response_url, names
    come from the workspace, and event envelopes are checked against the workspace's
    specs (violations land in ``workspace.spec_violations``). Each method returns the
    bot's ``httpx.Response``; :meth:`deliver` (the AppLink side) returns an AppAck.
    One keep-alive ``httpx.Client`` is reused; ``close()`` it.
    """

    def __init__(
        self,
        events_url: str,
        signing_secret: str,
        workspace: HasPeople | None = None,
        *,
        verification_token: str = DEFAULT_VERIFICATION_TOKEN,
        timeout: float = 10.0,
    ) -> None:
        self.events_url = events_url
        self.signing_secret = signing_secret
        self.people = workspace.people if workspace is not None else People()
        self.verification_token = verification_token
        self._http = httpx.Client(timeout=timeout)
        self._lock = threading.Lock()
        self._sent: list[SentRequest] = []

    def __enter__(self) -> SignedClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    @property
    def sent(self) -> list[SentRequest]:
        """Every request sent so far, oldest first."""
        with self._lock:
            return list(self._sent)

    # -- the AppLink side ----------------------------------------------------------------
    def deliver(self, act: Act) -> AppAck:
        """POST ``act`` signed, as Slack would; AppUnreachable when the bot cannot be
        reached."""
        try:
            response = self._post_act(act)
        except httpx.HTTPError as error:
            raise AppUnreachable(f"{type(error).__name__}: {error}") from None
        return AppAck(response.status_code, response.text)

    # -- what Slack sends --------------------------------------------------------------
    def slash(
        self,
        command: str,
        text: str,
        user_id: str = "U0ALICE",
        channel_id: str = "C0DEV",
        *,
        response_url: str | None = None,
        trigger_id: str | None = None,
    ) -> httpx.Response:
        """A slash command (form-encoded like Slack); response_url is a fresh one from
        the workspace unless given."""
        act = self.people.command(
            user_id,
            channel_id,
            command,
            text,
            token=self.verification_token,
            response_url=response_url,
            trigger_id=trigger_id,
        )
        return self._post_act(act)

    def reaction_added(
        self,
        user_id: str,
        reaction: str,
        channel_id: str,
        ts: str,
        *,
        item_user: str | None = None,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
        added: bool = True,
    ) -> httpx.Response:
        """A reaction_added event_callback (the message itself is not changed). ``item_user``
        defaults to the message's author (from the workspace), else the bot. ``retry_num``
        adds X-Slack-Retry-Num / X-Slack-Retry-Reason (default reason "http_timeout").
        ``added=False`` sends reaction_removed instead."""
        act = self.people.reaction(
            user_id,
            channel_id,
            ts,
            reaction,
            token=self.verification_token,
            added=added,
            item_user=item_user,
            event_id=event_id,
            retry=retry_num,
            retry_reason=retry_reason,
        )
        return self._post_act(act)

    def reaction_removed(
        self, user_id: str, reaction: str, channel_id: str, ts: str, **options: Any
    ) -> httpx.Response:
        """A reaction_removed event_callback; options as :meth:`reaction_added`."""
        return self.reaction_added(user_id, reaction, channel_id, ts, **options, added=False)

    def event(
        self,
        event: JsonDict,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> httpx.Response:
        """Any event wrapped in an event_callback envelope (validated when possible)."""
        act = self.people.event(
            event,
            token=self.verification_token,
            event_id=event_id,
            retry=retry_num,
            retry_reason=retry_reason,
        )
        return self._post_act(act)

    def block_action(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        *,
        block_id: str | None = None,
        response_url: str | None = None,
    ) -> httpx.Response:
        """A block_actions click (form field ``payload=<json>``). With a workspace the
        clicked message (channel or ephemeral) supplies the element, block_id and
        ``message``, and the response_url edits that message on replace_original."""
        act = self.people.click(
            user_id,
            channel_id,
            message_ts,
            action_id,
            value,
            token=self.verification_token,
            block_id=block_id,
            response_url=response_url,
        )
        return self._post_act(act)

    def url_verification(self, challenge: str) -> httpx.Response:
        """The Events API URL handshake; the bot should echo ``challenge``."""
        payload = {
            "token": self.verification_token,
            "challenge": challenge,
            "type": "url_verification",
        }
        return self._send(
            "url_verification", payload, json.dumps(payload).encode(), "application/json"
        )

    def send_raw(
        self,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        timestamp: int | None = None,
        signature: str | None = None,
        *,
        omit: Collection[str] = (),
    ) -> httpx.Response:
        """POST ``body`` as is, to forge requests.

        ``timestamp`` defaults to now; ``signature`` defaults to the correct one for
        that timestamp, and ``""`` sends no X-Slack-Signature header at all. ``omit``
        drops any other header by name. Content-Type defaults to JSON for a body
        starting with "{", else form-encoded; ``headers`` override everything.
        """
        ts = int(time.time()) if timestamp is None else timestamp
        final = {
            "Content-Type": "application/json" if body.lstrip().startswith(b"{") else FORM,
            "X-Slack-Request-Timestamp": str(ts),
        }
        if signature != "":
            final["X-Slack-Signature"] = signature or sign(self.signing_secret, ts, body)
        final.update(headers or {})
        dropped = {h.lower() for h in omit}
        final = {k: v for k, v in final.items() if k.lower() not in dropped}
        return self._post("raw", body, body, final)

    # -- internals ---------------------------------------------------------------------
    def _post_act(self, act: Act) -> httpx.Response:
        kind = _KINDS[act.kind]
        if act.kind == "command":
            return self._send(kind, act.body, urlencode(act.body).encode(), FORM)
        if act.kind == "interaction":
            body = urlencode({"payload": json.dumps(act.body)}).encode()
            return self._send(kind, act.body, body, FORM)
        headers: dict[str, str] = {}
        if act.retry is not None:
            headers["X-Slack-Retry-Num"] = str(act.retry)
            headers["X-Slack-Retry-Reason"] = act.retry_reason or "http_timeout"
        body = json.dumps(act.body).encode()
        return self._send(kind, act.body, body, "application/json", headers)

    def _send(
        self,
        kind: str,
        payload: Any,
        body: bytes,
        content_type: str,
        extra: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        ts = int(time.time())
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sign(self.signing_secret, ts, body),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **(extra or {}),
        }
        return self._post(kind, payload, body, headers)

    def _post(
        self, kind: str, payload: Any, body: bytes, headers: dict[str, str]
    ) -> httpx.Response:
        response = self._http.post(self.events_url, content=body, headers=headers)
        with self._lock:
            self._sent.append(SentRequest(kind, payload, headers, response.status_code))
        return response
