"""A small round-robin TCP proxy on loopback, standing in for a load balancer in front of
several opsloop processes: each accepted connection goes to the next backend in turn, and
bytes are pumped both ways until either side closes."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
from collections.abc import Sequence

CHUNK = 65536


class RoundRobinProxy:
    """Listens on 127.0.0.1:<ephemeral>; start() it, read `port`, stop() it."""

    def __init__(self, backends: Sequence[tuple[str, int]]) -> None:
        self._backends = itertools.cycle(list(backends))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._closed = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Accept connections on a thread of its own."""
        threading.Thread(target=self._accept, name="rr-proxy", daemon=True).start()

    def stop(self) -> None:
        """Stop accepting (connections in flight end with their peers)."""
        self._closed.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            with self._lock:
                backend = next(self._backends)
            try:
                upstream = socket.create_connection(backend, timeout=10)
            except OSError:
                client.close()
                continue
            for sock in (client, upstream):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            upstream.settimeout(None)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, target), daemon=True).start()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(CHUNK):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
