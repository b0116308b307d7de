"""People acting on a Socket Mode app: the Socket Mode :class:`~bot.workspace.people.AppLink`.

``workspace.socket_mode`` (a :class:`SocketModeLink`) starts the Socket Mode endpoint the
first time ``apps.connections.open`` asks for a URL, and delivers each act (built by
:mod:`bot.workspace.people`, the same bodies Slack would POST in HTTP mode) as an envelope.
Each action returns the app's ack as an AppAck.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.workspace.changes import ChangeFeed
from bot.workspace.model import JsonDict
from bot.workspace.payloads import DEFAULT_VERIFICATION_TOKEN
from bot.workspace.people import Act, Actions, AppAck, People

if TYPE_CHECKING:
    from bot.workspace.socket_mode import SocketAck, SocketModeServer

DEADLINE = 10.0
# The Socket Mode envelope type for each kind of act.
ENVELOPE_TYPES = {"command": "slash_commands", "event": "events_api", "interaction": "interactive"}


@dataclass(frozen=True, slots=True)
class Route:
    """Where one envelope went: the connection it was sent on and the one its ack came on
    (connections are numbered from 1 in the order they opened)."""

    envelope_id: str
    sent_on: int
    acked_on: int


class SocketModeLink:
    """Socket Mode for one workspace. Every action waits up to ``timeout`` seconds for the
    app's ack and returns it (TimeoutError otherwise; RuntimeError if no app is connected).

    The WebSocket endpoint (the ``websockets`` library) is imported and started on first
    use, so a workspace that never opens Socket Mode does not need that library.
    """

    def __init__(self, people: People, changes: ChangeFeed, host: str = "127.0.0.1") -> None:
        self._changes = changes
        self._host = host
        self._lock = threading.Lock()
        self._server: SocketModeServer | None = None
        self._envelopes: dict[str, JsonDict] = {}
        self.routes: list[Route] = []
        """Every envelope delivered and acked, in order."""
        self.verification_token = DEFAULT_VERIFICATION_TOKEN
        self._actions = Actions(people, self)
        self.command = self._actions.command
        self.react = self._actions.react
        self.event = self._actions.event
        self.click = self._actions.click

    # -- the endpoint --------------------------------------------------------------------
    @property
    def server(self) -> SocketModeServer:
        """The WebSocket endpoint, started on first use."""
        from bot.workspace.socket_mode import SocketModeServer

        with self._lock:
            if self._server is None:
                self._server = SocketModeServer(self._host, changed=self._changes.bump)
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
        self._changes.wait_until(lambda: self.connected, timeout, "a Socket Mode connection")

    def wait_connections(self, count: int, timeout: float = DEADLINE) -> list[int]:
        """Block until ``count`` connections take envelopes (TimeoutError after ``timeout``
        seconds); their numbers, oldest first."""
        self._changes.wait_until(
            lambda: len(self.server.connection_numbers) == count,
            timeout,
            f"{count} Socket Mode connections",
        )
        return self.server.connection_numbers

    @property
    def acks(self) -> list[SocketAck]:
        """Every ack the app sent, oldest first."""
        return self.server.acks

    # -- envelopes -----------------------------------------------------------------------
    def deliver(self, act: Act, timeout: float = DEADLINE) -> AppAck:
        """Send ``act`` as a Socket Mode envelope and return the app's ack."""
        ack = self.send(
            ENVELOPE_TYPES[act.kind],
            act.body,
            accepts_response_payload=act.kind == "command",
            retry_attempt=act.retry,
            retry_reason=act.retry_reason,
            timeout=timeout,
        )
        return _app_ack(ack)

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

    def redeliver(self, envelope_id: str, timeout: float = DEADLINE) -> AppAck:
        """Send an earlier envelope again, byte for byte (KeyError if never sent)."""
        with self._lock:
            envelope = self._envelopes[envelope_id]
        return _app_ack(self._deliver(envelope, timeout))

    def _deliver(self, envelope: JsonDict, timeout: float) -> SocketAck:
        server = self.server
        delivery = server.deliver(envelope)
        ack = server.wait_ack(delivery, timeout)
        with self._lock:
            self.routes.append(Route(ack.envelope_id, delivery.connection, ack.connection))
        return ack


def _app_ack(ack: SocketAck) -> AppAck:
    text = json.dumps(ack.payload) if ack.payload is not None else ""
    return AppAck(200, text, ack.envelope_id, ack.payload)
