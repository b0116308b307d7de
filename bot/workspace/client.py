"""Sends Slack-signed requests (slash commands, events, clicks) to the bot's endpoint."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from bot.workspace.model import BOT_USER_ID, JsonDict
from bot.workspace.payloads import (
    DEFAULT_VERIFICATION_TOKEN,
    block_actions,
    event_callback,
    reaction_event,
    slash_form,
)

if TYPE_CHECKING:
    from bot.workspace.webapi import SlackWorkspace

FORM = "application/x-www-form-urlencoded"
# Loopback port 1 refuses connections at once: a safe response_url when no workspace
# is attached (the bot must never reach the real Slack from tests).
UNBOUND_RESPONSE_URL = "http://127.0.0.1:1/response/unbound"


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
    bot's ``httpx.Response``. One keep-alive ``httpx.Client`` is reused; ``close()`` it.
    """

    def __init__(
        self,
        events_url: str,
        signing_secret: str,
        workspace: SlackWorkspace | None = None,
        *,
        verification_token: str = DEFAULT_VERIFICATION_TOKEN,
        timeout: float = 10.0,
    ) -> None:
        self.events_url = events_url
        self.signing_secret = signing_secret
        self.workspace = workspace
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
        if response_url is None:
            ws = self.workspace
            response_url = ws.new_response_url(channel_id, user_id) if ws else UNBOUND_RESPONSE_URL
        form = slash_form(
            command=command,
            text=text,
            user_id=user_id,
            user_name=self._user_name(user_id),
            channel_id=channel_id,
            channel_name=self._channel_name(channel_id),
            response_url=response_url,
            token=self.verification_token,
            trigger_id=trigger_id,
        )
        return self._send("slash", form, urlencode(form).encode(), FORM)

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
    ) -> httpx.Response:
        """A reaction_added event_callback. ``item_user`` defaults to the message's
        author (from the workspace), else the bot. ``retry_num`` adds
        X-Slack-Retry-Num / X-Slack-Retry-Reason (default reason "http_timeout")."""
        event = self._reaction_event(
            "reaction_added", user_id, reaction, channel_id, ts, item_user=item_user
        )
        return self.event(event, event_id, retry_num, retry_reason)

    def reaction_removed(
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
    ) -> httpx.Response:
        """A reaction_removed event_callback; arguments as :meth:`reaction_added`."""
        event = self._reaction_event(
            "reaction_removed", user_id, reaction, channel_id, ts, item_user=item_user
        )
        return self.event(event, event_id, retry_num, retry_reason)

    def event(
        self,
        event: JsonDict,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str | None = None,
    ) -> httpx.Response:
        """Any event wrapped in an event_callback envelope (validated when possible)."""
        envelope = event_callback(event, token=self.verification_token, event_id=event_id)
        if self.workspace is not None:
            self.workspace.check_event(envelope)
        headers: dict[str, str] = {}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        return self._send(
            "event", envelope, json.dumps(envelope).encode(), "application/json", headers
        )

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
        message: JsonDict | None = None
        ephemeral = False
        ws = self.workspace
        if ws is not None:
            found = ws.interaction_message(channel_id, message_ts)
            if found is not None:
                message, ephemeral = found
            if response_url is None:
                response_url = ws.new_response_url(channel_id, user_id, message_ts, ephemeral)
        payload = block_actions(
            user_id=user_id,
            user_name=self._user_name(user_id),
            channel_id=channel_id,
            channel_name=self._channel_name(channel_id),
            message=message,
            message_ts=message_ts,
            is_ephemeral=ephemeral,
            action_id=action_id,
            value=value,
            block_id=block_id,
            response_url=response_url or UNBOUND_RESPONSE_URL,
            token=self.verification_token,
        )
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return self._send("block_actions", payload, body, FORM)

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
    def _reaction_event(
        self,
        kind: str,
        user_id: str,
        reaction: str,
        channel_id: str,
        ts: str,
        *,
        item_user: str | None,
    ) -> JsonDict:
        if item_user is None:
            msg = self.workspace.message(channel_id, ts) if self.workspace else None
            item_user = msg.user if msg is not None else BOT_USER_ID
        return reaction_event(
            kind,
            user_id=user_id,
            reaction=reaction,
            channel_id=channel_id,
            ts=ts,
            item_user=item_user,
        )

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

    def _user_name(self, user_id: str) -> str:
        ws = self.workspace
        user = ws.user(user_id) if ws is not None else None
        return user.name if user is not None else user_id.removeprefix("U0").lower()

    def _channel_name(self, channel_id: str) -> str:
        ws = self.workspace
        chan = ws.channel(channel_id) if ws is not None else None
        return chan.name if chan is not None else channel_id.removeprefix("C0").lower()
