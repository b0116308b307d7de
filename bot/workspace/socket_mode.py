"""Socket Mode, served locally: the endpoint a Socket Mode app (xapp- token) connects to.

``apps.connections.open`` hands out ``ws://127.0.0.1:PORT/link/?ticket=...`` URLs from
:meth:`SocketModeServer.new_url`; each ticket opens one connection (401 otherwise). On
connect the server sends Slack's ``hello``; :meth:`SocketModeServer.deliver` sends an
envelope (``slash_commands``, ``events_api``, ``interactive``) to the newest connection,
and every ``{"envelope_id", "payload"?}`` the app sends back is kept as a
:class:`SocketAck`. The WebSocket itself is :mod:`bot.workspace.websocket`.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import parse_qs, urlsplit

from bot.workspace.model import APP_ID, JsonDict
from bot.workspace.websocket import HandshakeRefused, WebSocket, read_upgrade, refuse

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SocketAck:
    """What the app sent back for an envelope: its id and the optional response payload
    (e.g. a slash command's immediate answer)."""

    envelope_id: str
    payload: JsonDict | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """An envelope sent to the app; ``nth`` counts deliveries of the same envelope id."""

    envelope_id: str
    nth: int


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
        self._sockets: list[WebSocket] = []
        self._acks: list[SocketAck] = []
        self._sent: dict[str, int] = {}
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._listener = socket.create_server((host, 0))
        self._listener.settimeout(0.1)  # the accept loop notices stop() within a tick
        self.host, self.port = self._listener.getsockname()[:2]
        self._spawn(self._accept_loop, "socket-mode-accept")

    def stop(self) -> None:
        """Close every connection (1001 going away) and the listening socket."""
        self._stopping.set()
        with self._cond:
            sockets, self._sockets = self._sockets, []
            threads = list(self._threads)
        for ws in sockets:
            ws.close(1001, "server stopping")
        for thread in threads:
            thread.join(timeout=5)
        self._listener.close()

    def new_url(self) -> str:
        """A fresh single-use WebSocket URL, as apps.connections.open answers."""
        ticket = secrets.token_hex(16)
        with self._cond:
            self._tickets.add(ticket)
        return f"ws://{self.host}:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"

    @property
    def connections(self) -> int:
        """How many apps are connected now."""
        with self._cond:
            return len(self._sockets)

    @property
    def acks(self) -> list[SocketAck]:
        """Every acknowledgement received, oldest first."""
        with self._cond:
            return list(self._acks)

    def deliver(self, envelope: JsonDict) -> Delivery:
        """Send ``envelope`` (it must carry an ``envelope_id``) to the newest connection.
        RuntimeError when no app is connected."""
        envelope_id = str(envelope["envelope_id"])
        with self._cond:
            if not self._sockets:
                raise RuntimeError("no Socket Mode app is connected to the workspace")
            ws = self._sockets[-1]
            nth = self._sent[envelope_id] = self._sent.get(envelope_id, 0) + 1
        ws.send_text(json.dumps(envelope))
        return Delivery(envelope_id, nth)

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
            sockets = list(self._sockets)
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-local"}}
        for ws in sockets:
            ws.send_text(json.dumps(message))

    # -- internals ---------------------------------------------------------------------
    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._cond:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            self._spawn(self._serve, "socket-mode-conn", sock)

    def _serve(self, sock: socket.socket) -> None:
        stream = sock.makefile("rb")
        try:
            ws = self._open(sock, stream)
            if ws is not None:
                ws.receive(self._on_text)
                with self._cond:
                    if ws in self._sockets:
                        self._sockets.remove(ws)
                self._changed()
        except (OSError, EOFError, ValueError):
            pass  # the peer went away or sent garbage before the upgrade
        finally:
            stream.close()
            sock.close()

    def _open(self, sock: socket.socket, stream: BinaryIO) -> WebSocket | None:
        try:
            upgrade = read_upgrade(stream)
            self._check_ticket(upgrade.target)
        except HandshakeRefused as refused:
            refuse(sock, refused.status, refused.reason)
            return None
        ws = WebSocket(sock, stream, upgrade)
        with self._cond:
            if self._stopping.is_set():
                ws.close(1001)
                return None
            self._sockets.append(ws)
            count = len(self._sockets)
        hello = {
            "type": "hello",
            "num_connections": count,
            "debug_info": {
                "host": "applink-local",
                "build_number": 1,
                "approximate_connection_time": 18060,
            },
            "connection_info": {"app_id": self.app_id},
        }
        ws.send_text(json.dumps(hello))
        self._changed()
        return ws

    def _check_ticket(self, target: str) -> None:
        url = urlsplit(target)
        if url.path.rstrip("/") != "/link":
            raise HandshakeRefused(404, "Not Found")
        ticket = (parse_qs(url.query).get("ticket") or [""])[0]
        with self._cond:
            if ticket not in self._tickets:
                raise HandshakeRefused(401, "Unauthorized")
            self._tickets.discard(ticket)

    def _on_text(self, text: str) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            log.warning("a Socket Mode app sent a message that is not JSON; ignored")
            return
        if not isinstance(message, dict) or not isinstance(message.get("envelope_id"), str):
            log.warning("a Socket Mode app sent a message without envelope_id; ignored")
            return
        payload = message.get("payload")
        ack = SocketAck(message["envelope_id"], payload if isinstance(payload, dict) else None)
        with self._cond:
            self._acks.append(ack)
            self._cond.notify_all()
        self._changed()
