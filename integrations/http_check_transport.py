"""httpx's transport for the health checks: HTTP/1.1 over asyncio's own transports, with
kept connections, under httpx.AsyncClient (integrations/http_checker.py).

Why a transport of our own under httpx: a check is one GET whose answer is a status code,
repeated every few seconds to the same few addresses, and httpx's default transport (httpcore's
pool, anyio, h11) was about 60-78% of the checks' CPU in the bench's profile. This one writes
a request's bytes, built once per request object, reads the answer with
integrations.http_wire (status, then the body dropped, never kept), and keeps the connection
for the next request to the same address. The response it gives httpx has the status and no
headers or body: the checks use nothing else. Proxies are never used: targets are on this
host or its networks."""

from __future__ import annotations

import asyncio
import ssl
import time

import httpx

from integrations.http_wire import MalformedResponse, ResponseReader

IDLE_SECONDS = 30.0
"""How long a kept connection may wait for its next request before it is closed."""
MAX_IDLE = 256
"""Kept connections at most, over all addresses."""
MAX_REMEMBERED = 10_000

Address = tuple[str, str, int]
"""(scheme, host, port): the connections that can carry a request."""


class _Wire(asyncio.Protocol):
    """One connection: reads one response at a time into a ResponseReader."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._reader: ResponseReader | None = None
        self._waiter: asyncio.Future[ResponseReader] | None = None

    @property
    def answered(self) -> bool:
        """Whether any byte of the current response arrived."""
        return self._reader is not None and self._reader.started

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def exchange(self, request: bytes) -> asyncio.Future[ResponseReader]:
        """Send the request; the future holds the reader once the response is read."""
        assert self.transport is not None
        self._reader = ResponseReader()
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._waiter

    def data_received(self, data: bytes) -> None:
        reader, waiter = self._reader, self._waiter
        if reader is None or waiter is None or waiter.done():
            self.close()  # bytes nobody asked for: this connection cannot be trusted
            return
        try:
            reader.feed(data)
        except MalformedResponse as error:
            waiter.set_exception(error)
            self.close()
            return
        if reader.done:
            waiter.set_result(reader)

    def eof_received(self) -> bool:
        self._ended(None)
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._ended(exc)

    def close(self) -> None:
        """Close at once (abort: nothing of ours is left to send)."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    def _ended(self, exc: Exception | None) -> None:
        self.closed = True
        reader, waiter = self._reader, self._waiter
        if reader is None or waiter is None or waiter.done():
            return
        try:
            reader.closed()
        except MalformedResponse as error:
            # Closed before a byte of the answer: a kept connection the server let go of
            # while it waited (the request goes again on a new one, see _get).
            silent = ConnectionResetError(f"the connection closed before any answer ({exc})")
            waiter.set_exception(error if reader.started else silent)
            return
        waiter.set_result(reader)


class KeptConnections(httpx.AsyncBaseTransport):
    """httpx.AsyncBaseTransport for GETs whose answer is read for its status only. Use it
    on one event loop. Raises httpx.ConnectError (no connection), httpx.ReadError (the
    connection ended mid-answer), httpx.RemoteProtocolError (not an HTTP/1.x answer) and
    httpx.UnsupportedProtocol (not http or https)."""

    def __init__(self, max_idle: int = MAX_IDLE, idle_seconds: float = IDLE_SECONDS) -> None:
        """`max_idle` connections are kept for later requests (0: a new one for each), each
        closed once it waited `idle_seconds` for one."""
        self._max_idle = max_idle
        self._idle_seconds = idle_seconds
        self._pruning: asyncio.TimerHandle | None = None
        self._idle: dict[Address, list[_Wire]] = {}
        self._idle_count = 0
        self._wire_bytes: dict[httpx.Request, bytes] = {}
        self._tls: ssl.SSLContext | None = None
        self.connections_opened = 0
        """Connections made so far (kept ones are used again)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """The status of `request`'s answer, as an httpx.Response without headers or body."""
        url = request.url
        if url.scheme not in ("http", "https") or not url.host:
            raise httpx.UnsupportedProtocol("only http and https are checked", request=request)
        address = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        data = self._bytes_of(request)
        try:
            status = await self._status(address, data)
        except httpx.ConnectError as error:
            error.request = request
            raise
        except MalformedResponse as error:
            raise httpx.RemoteProtocolError(str(error), request=request) from error
        except OSError as error:
            raise httpx.ReadError(str(error) or type(error).__name__, request=request) from error
        return httpx.Response(status, request=request, extensions={"http_version": b"HTTP/1.1"})

    async def aclose(self) -> None:
        """Close the kept connections."""
        if self._pruning is not None:
            self._pruning.cancel()
            self._pruning = None
        for wires in self._idle.values():
            for wire in wires:
                wire.close()
        self._idle.clear()
        self._idle_count = 0

    async def _status(self, address: Address, data: bytes) -> int:
        """A kept connection first; once more on a new one when a kept one turns out closed
        by the server before it answered."""
        wire = self._kept(address)
        if wire is not None:
            try:
                return await self._exchange(wire, address, data)
            except ConnectionError:
                if wire.answered:
                    raise
        return await self._exchange(await self._connect(address), address, data)

    async def _exchange(self, wire: _Wire, address: Address, data: bytes) -> int:
        try:
            reader = await wire.exchange(data)
        except BaseException:
            wire.close()  # cancelled (the timeout) or failed mid-answer: never used again
            raise
        if reader.reusable and not wire.closed:
            self._keep(address, wire)
        else:
            wire.close()
        return reader.status

    async def _connect(self, address: Address) -> _Wire:
        scheme, host, port = address
        tls = self._tls_context() if scheme == "https" else None
        loop = asyncio.get_running_loop()
        try:
            _, wire = await loop.create_connection(
                _Wire, host, port, ssl=tls, server_hostname=host if tls else None
            )
        except OSError as error:
            raise httpx.ConnectError(str(error) or type(error).__name__) from error
        self.connections_opened += 1
        return wire

    def _kept(self, address: Address) -> _Wire | None:
        wires = self._idle.get(address)
        now = time.monotonic()
        while wires:
            wire = wires.pop()
            self._idle_count -= 1
            if not wire.closed and now - wire.idle_since < self._idle_seconds:
                return wire
            wire.close()
        return None

    def _keep(self, address: Address, wire: _Wire) -> None:
        if self._idle_count >= self._max_idle:
            self._prune()
        if self._idle_count >= self._max_idle:
            wire.close()
            return
        wire.idle_since = time.monotonic()
        self._idle.setdefault(address, []).append(wire)
        self._idle_count += 1
        if self._pruning is None:
            # Addresses stop being checked (a task replaced, a deployment removed): their
            # connections are closed after the idle time, not kept open until reused.
            loop = asyncio.get_running_loop()
            self._pruning = loop.call_later(self._idle_seconds, self._prune_later)

    def _prune_later(self) -> None:
        self._pruning = None
        self._prune()
        if self._idle_count:
            loop = asyncio.get_running_loop()
            self._pruning = loop.call_later(self._idle_seconds, self._prune_later)

    def _prune(self) -> None:
        """Close the kept connections that the server closed or that waited too long."""
        now = time.monotonic()
        for address, wires in list(self._idle.items()):
            alive = [w for w in wires if not w.closed and now - w.idle_since < self._idle_seconds]
            for wire in wires:
                if wire not in alive:
                    wire.close()
            if alive:
                self._idle[address] = alive
            else:
                del self._idle[address]
        self._idle_count = sum(len(wires) for wires in self._idle.values())

    def _bytes_of(self, request: httpx.Request) -> bytes:
        # The checker sends the same request objects again and again: their bytes are
        # built once (the request line and httpx's headers; a check sends no body).
        data = self._wire_bytes.get(request)
        if data is None:
            if len(self._wire_bytes) >= MAX_REMEMBERED:
                self._wire_bytes.clear()  # targets came and went (Swarm tasks): start over
            data = _serialise(request)
            self._wire_bytes[request] = data
        return data

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls


def _serialise(request: httpx.Request) -> bytes:
    """The request line and headers of a request without a body."""
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    lines += [b"%s: %s" % (name, value) for name, value in request.headers.raw]
    return b"\r\n".join(lines) + b"\r\n\r\n"
