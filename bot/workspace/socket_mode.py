"""Socket Mode, served locally: the endpoint a Socket Mode app (xapp- token) connects to.

``apps.connections.open`` hands out ``ws://127.0.0.1:PORT/link/?ticket=...`` URLs from
:meth:`SocketModeServer.new_url`; each ticket opens one connection (401 otherwise). On
connect the server sends Slack's ``hello``; :meth:`SocketModeServer.deliver` sends an
envelope (``slash_commands``, ``events_api``, ``interactive``) to exactly one open
connection, and every ``{"envelope_id", "payload"?}`` the app sends back is kept as a
:class:`SocketAck`, with the connection it came on. The WebSocket protocol itself is the
``websockets`` library's.

With several connections (one app run as several processes, each connecting), Slack sends
each envelope to one of them, and a retry of an event may go to another; here they take
turns, in the order they connected. A connection that was told to ``disconnect`` gets no
more envelopes (its app is opening a new one).
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.sync.server import ServerConnection, serve

from bot.workspace.model import APP_ID, JsonDict

log = logging.getLogger(__name__)

# Slack's envelopes are small; refusing huge messages keeps a broken client from eating memory.
MAX_MESSAGE = 4 * 1024 * 1024
# How long a closing connection waits for the app to drop TCP before dropping it itself.
CLOSE_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class SocketAck:
    """What the app sent back for an envelope: its id and the optional response payload
    (e.g. a slash command's immediate answer)."""

    envelope_id: str
    payload: JsonDict | None
    connection: int
    """The connection the ack came on (numbered from 1 in the order they connected)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """An envelope sent to the app; ``nth`` counts deliveries of the same envelope id."""

    envelope_id: str
    nth: int
    connection: int
    """The connection it was sent on (numbered from 1 in the order they connected)."""


class SocketModeServer:
    """A Socket Mode endpoint on ``host``, any free port, serving from construction until
    :meth:`stop`. ``changed`` is called after every connect, disconnect and ack, so
    waiters on the workspace wake up."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        app_id: str = APP_ID,
        changed: Callable[[], None] = lambda: None,
    ) -> None:
        self.app_id = app_id
        self._changed = changed
        self._cond = threading.Condition()
        self._tickets: set[str] = set()
        self._connections: list[ServerConnection] = []
        self._numbers: dict[ServerConnection, int] = {}
        self._retiring: set[ServerConnection] = set()
        self._turn = 0
        self._opened = 0
        self._acks: list[SocketAck] = []
        self._sent: dict[str, int] = {}
        # Slack pings its apps, but a local endpoint has no dead peers to find: no keepalive.
        self._server = serve(
            self._serve,
            host,
            0,
            process_request=self._check_request,
            process_response=self._take_ticket,
            ping_interval=None,
            close_timeout=CLOSE_TIMEOUT,
            max_size=MAX_MESSAGE,
            logger=log,
        )
        self.host, self.port = self._server.socket.getsockname()[:2]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="socket-mode", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Close every connection (1001 going away) and the listening socket."""
        self._server.shutdown()
        self._thread.join(timeout=5)

    def new_url(self) -> str:
        """A fresh single-use WebSocket URL, as apps.connections.open answers."""
        ticket = secrets.token_hex(16)
        with self._cond:
            self._tickets.add(ticket)
        return f"ws://{self.host}:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    @property
    def connections(self) -> int:
        """How many connections take envelopes now (one that is closing, or was told to
        disconnect, no longer counts)."""
        return len(self._open())

    @property
    def connection_numbers(self) -> list[int]:
        """The numbers of the connections that take envelopes now, oldest first."""
        with self._cond:
            return [self._numbers[c] for c in self._open_locked()]

    @property
    def acks(self) -> list[SocketAck]:
        """Every acknowledgement received, oldest first."""
        with self._cond:
            return list(self._acks)

    def deliver(self, envelope: JsonDict) -> Delivery:
        """Send ``envelope`` (it must carry an ``envelope_id``) to one connection: the next
        in turn of those that take envelopes. RuntimeError when no app is connected."""
        envelope_id = str(envelope["envelope_id"])
        with self._cond:
            connections = self._open_locked()
            if not connections:
                raise RuntimeError("no Socket Mode app is connected to the workspace")
            connection = connections[self._turn % len(connections)]
            self._turn += 1
            nth = self._sent[envelope_id] = self._sent.get(envelope_id, 0) + 1
            number = self._numbers[connection]
        connection.send(json.dumps(envelope))
        return Delivery(envelope_id, nth, number)

    def wait_ack(self, delivery: Delivery, timeout: float) -> SocketAck:
        """The app's ack of ``delivery``; TimeoutError if none comes within ``timeout`` s."""

        def found() -> list[SocketAck]:
            return [a for a in self._acks if a.envelope_id == delivery.envelope_id]

        with self._cond:
            if not self._cond.wait_for(lambda: len(found()) >= delivery.nth, timeout):
                raise TimeoutError(f"no ack for envelope {delivery.envelope_id} within {timeout}s")
            return found()[delivery.nth - 1]

    def disconnect_all(self, reason: str = "refresh_requested") -> None:
        """Ask every app to reconnect, as Slack does before it recycles a connection
        (slack_sdk answers with a new apps.connections.open)."""
        with self._cond:
            connections = self._open_locked()
            # Told to go: Slack sends it nothing more while its app opens the next one.
            self._retiring.update(connections)
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-local"}}
        for connection in connections:
            connection.send(json.dumps(message))
        self._changed()

    def _open(self) -> list[ServerConnection]:
        with self._cond:
            return self._open_locked()

    def _open_locked(self) -> list[ServerConnection]:
        return [
            c
            for c in self._connections
            if c.protocol.state is State.OPEN and c not in self._retiring
        ]

    # -- the opening handshake -----------------------------------------------------------
    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Refuse what is not a Socket Mode link with a live ticket before the upgrade."""
        url = urlsplit(request.path)
        if url.path.rstrip("/") != "/link":
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        if request.headers.get("Sec-WebSocket-Version") != "13":
            # RFC 6455 4.4: say which version this server speaks.
            refused = connection.respond(HTTPStatus.UPGRADE_REQUIRED, "Upgrade Required\n")
            refused.headers["Sec-WebSocket-Version"] = "13"
            return refused
        with self._cond:
            if _ticket(request) not in self._tickets:
                return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        return None

    def _take_ticket(
        self, connection: ServerConnection, request: Request, response: Response
    ) -> Response | None:
        """Spend the ticket once the upgrade succeeds (a refused upgrade keeps it)."""
        if response.status_code != HTTPStatus.SWITCHING_PROTOCOLS:
            return None
        ticket = _ticket(request)
        with self._cond:
            if ticket not in self._tickets:  # a second upgrade raced for the same ticket
                return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
            self._tickets.discard(ticket)
        return None

    # -- one connection ------------------------------------------------------------------
    def _serve(self, connection: ServerConnection) -> None:
        with self._cond:
            self._connections.append(connection)
            self._opened += 1
            number = self._numbers[connection] = self._opened
            count = len(self._connections)
        try:
            connection.send(json.dumps(self._hello(count)))
            self._changed()
            for message in connection:
                if isinstance(message, bytes):
                    connection.close(1003, "only text messages are accepted")
                    break
                self._on_text(message, number)
        except ConnectionClosed:
            pass  # the app went away or broke the protocol; the library sent the close
        finally:
            with self._cond:
                self._connections.remove(connection)
                self._retiring.discard(connection)
                del self._numbers[connection]
            self._changed()

    def _hello(self, count: int) -> JsonDict:
        return {
            "type": "hello",
            "num_connections": count,
            "debug_info": {
                "host": "applink-local",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }

    def _on_text(self, text: str, number: int) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            log.warning("a Socket Mode app sent a message that is not JSON; ignored")
            return
        if not isinstance(message, dict) or not isinstance(message.get("envelope_id"), str):
            log.warning("a Socket Mode app sent a message without envelope_id; ignored")
            return
        payload = message.get("payload")
        ack = SocketAck(
            message["envelope_id"], payload if isinstance(payload, dict) else None, number
        )
        with self._cond:
            self._acks.append(ack)
            self._cond.notify_all()
        self._changed()


def _ticket(request: Request) -> str:
    return (parse_qs(urlsplit(request.path).query).get("ticket") or [""])[0]
