"""People acting on a Socket Mode app: the workspace's side of the WebSocket.

``workspace.socket_mode`` (a :class:`SocketModeLink`) starts the Socket Mode endpoint the
first time ``apps.connections.open`` asks for a URL, and sends users' slash commands,
reactions and clicks as envelopes carrying the same payloads Slack would POST in HTTP
mode (built by :mod:`bot.workspace.payloads`). Each action returns the app's ack.
"""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING

from bot.workspace.model import BOT_USER_ID, JsonDict
from bot.workspace.payloads import (
    DEFAULT_VERIFICATION_TOKEN,
    block_actions,
    event_callback,
    reaction_event,
    slash_form,
)
from bot.workspace.socket_mode import SocketAck, SocketModeServer

if TYPE_CHECKING:
    from bot.workspace.webapi import SlackWorkspace

DEADLINE = 10.0


class SocketModeLink:
    """Socket Mode for one workspace. Every action waits up to ``timeout`` seconds for the
    app's ack and returns it (TimeoutError otherwise; RuntimeError if no app is connected)."""

    def __init__(self, workspace: SlackWorkspace, host: str = "127.0.0.1") -> None:
        self._ws = workspace
        self._host = host
        self._lock = threading.Lock()
        self._server: SocketModeServer | None = None
        self._envelopes: dict[str, JsonDict] = {}
        self.verification_token = DEFAULT_VERIFICATION_TOKEN

    # -- the endpoint --------------------------------------------------------------------
    @property
    def server(self) -> SocketModeServer:
        """The WebSocket endpoint, started on first use."""
        with self._lock:
            if self._server is None:
                self._server = SocketModeServer(self._host, changed=self._ws.state.changes.bump)
            return self._server

    def new_url(self) -> str:
        """A fresh single-use ws:// URL (what apps.connections.open answers)."""
        return self.server.new_url()

    def stop(self) -> None:
        """Close every connection and the endpoint (safe to call twice)."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.stop()

    @property
    def connected(self) -> bool:
        """True while at least one app is connected."""
        with self._lock:
            server = self._server
        return server is not None and server.connections > 0

    def wait_connected(self, timeout: float = DEADLINE) -> None:
        """Block until an app has connected (TimeoutError after ``timeout`` seconds)."""
        self._ws.wait_for(lambda: self.connected, timeout, "a Socket Mode connection")

    @property
    def acks(self) -> list[SocketAck]:
        """Every ack the app sent, oldest first."""
        return self.server.acks

    # -- envelopes -----------------------------------------------------------------------
    def send(
        self,
        kind: str,
        payload: JsonDict,
        *,
        accepts_response_payload: bool = False,
        envelope_id: str | None = None,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        timeout: float = DEADLINE,
    ) -> SocketAck:
        """Deliver one envelope of ``kind`` ("slash_commands", "events_api", "interactive")."""
        envelope: JsonDict = {
            "envelope_id": envelope_id or str(uuid.uuid4()),
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == "events_api":
            envelope["retry_attempt"] = retry_attempt or 0
            envelope["retry_reason"] = retry_reason or ""
        with self._lock:
            self._envelopes[envelope["envelope_id"]] = envelope
        return self._deliver(envelope, timeout)

    def redeliver(self, envelope_id: str, timeout: float = DEADLINE) -> SocketAck:
        """Send an earlier envelope again, byte for byte (KeyError if never sent)."""
        with self._lock:
            envelope = self._envelopes[envelope_id]
        return self._deliver(envelope, timeout)

    def _deliver(self, envelope: JsonDict, timeout: float) -> SocketAck:
        server = self.server
        return server.wait_ack(server.deliver(envelope), timeout)

    # -- people acting -------------------------------------------------------------------
    def command(
        self,
        user_id: str,
        channel_id: str,
        command: str,
        text: str = "",
        *,
        timeout: float = DEADLINE,
    ) -> SocketAck:
        """A person runs a slash command; the app gets it with a fresh response_url."""
        form = slash_form(
            command=command,
            text=text,
            user_id=user_id,
            user_name=self._user_name(user_id),
            channel_id=channel_id,
            channel_name=self._channel_name(channel_id),
            response_url=self._ws.new_response_url(channel_id, user_id),
            token=self.verification_token,
        )
        return self.send(
            "slash_commands", dict(form), accepts_response_payload=True, timeout=timeout
        )

    def event(
        self,
        event: JsonDict,
        *,
        event_id: str | None = None,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        timeout: float = DEADLINE,
    ) -> SocketAck:
        """Any event in an event_callback envelope (checked against the workspace's specs)."""
        body = event_callback(event, token=self.verification_token, event_id=event_id)
        self._ws.check_event(body)
        return self.send(
            "events_api",
            body,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
            timeout=timeout,
        )

    def react(
        self,
        user_id: str,
        channel_id: str,
        ts: str,
        name: str,
        *,
        event_id: str | None = None,
        added: bool = True,
        timeout: float = DEADLINE,
    ) -> SocketAck:
        """A person adds (or with ``added=False`` removes) a reaction; the app gets
        reaction_added / reaction_removed. SlackError if Slack would refuse."""
        self._ws.state.user(user_id)
        state = self._ws.state
        change = state.react if added else state.unreact
        msg = change(channel_id, ts, name.strip(":"), user_id)
        event = reaction_event(
            "reaction_added" if added else "reaction_removed",
            user_id=user_id,
            reaction=name,
            channel_id=channel_id,
            ts=ts,
            item_user=msg.user or BOT_USER_ID,
        )
        return self.event(event, event_id=event_id, timeout=timeout)

    def click(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        *,
        timeout: float = DEADLINE,
    ) -> SocketAck:
        """A person clicks an element of a message; the app gets block_actions."""
        found = self._ws.interaction_message(channel_id, message_ts)
        message, ephemeral = found if found is not None else (None, False)
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
            block_id=None,
            response_url=self._ws.new_response_url(channel_id, user_id, message_ts, ephemeral),
            token=self.verification_token,
        )
        return self.send("interactive", payload, timeout=timeout)

    def _user_name(self, user_id: str) -> str:
        user = self._ws.user(user_id)
        return user.name if user is not None else user_id.removeprefix("U0").lower()

    def _channel_name(self, channel_id: str) -> str:
        chan = self._ws.channel(channel_id)
        return chan.name if chan is not None else channel_id.removeprefix("C0").lower()
