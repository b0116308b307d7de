"""Health checks over HTTP for the Monitor stage: a GET over asyncio's own transports, on an
event loop of the checker's thread, so a thousand checks in flight cost sockets, not threads,
and a hung target only costs its own timeout.

Why not httpx here (it serves every other HTTP call of the bot): a check is one GET whose
answer is a status code, repeated every few seconds to the same few addresses, and httpx's
async stack (its pool, httpcore, anyio, h11) cost about 60% of the checks' CPU in the
bench's profile. This client sends a request built once per URL, reads the answer with
integrations.http_wire (status, then the body dropped), keeps the connection for the next
check of the same address, and follows no redirect (a 3xx passes, as 2xx). Proxies are
never used: targets are on this host or its networks."""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.core.monitor.model import Result
from integrations.http_wire import MalformedResponse, ResponseReader

log = logging.getLogger(__name__)
MAX_IN_FLIGHT = 64
IDLE_SECONDS = 30.0
"""How long a kept connection may wait for its next check before it is closed."""
MAX_IDLE = 256
"""Kept connections at most, over all addresses."""
MAX_REMEMBERED = 10_000


@dataclass(frozen=True, slots=True)
class _Target:
    """A URL as the checker sends to it: the address and the request's bytes."""

    address: tuple[str, str, int]
    """(scheme, host, port): the connections that can carry its request."""
    request: bytes


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


class AsyncHttpChecker:
    """monitor.ports.HttpChecker on asyncio transports. start() before submit(); stop()
    once."""

    def __init__(self, max_in_flight: int = MAX_IN_FLIGHT, max_idle: int = MAX_IDLE) -> None:
        """`max_idle` connections are kept for later checks (0: a new one for each)."""
        self._max = max_in_flight
        self._max_idle = max_idle
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="opsloop-http-checks", daemon=True
        )
        self._gate: asyncio.Semaphore | None = None
        self._targets: dict[str, _Target] = {}
        self._idle: dict[tuple[str, str, int], list[_Wire]] = {}
        self._idle_count = 0
        self._tls: ssl.SSLContext | None = None
        self._submitted: deque[tuple[str, float, Callable[[Result], None]]] = deque()
        self._wake_pending = False
        self._wake_lock = threading.Lock()
        self.connections_opened = 0
        """Connections made so far (kept ones are used again)."""

    def start(self) -> None:
        """Start the event loop."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(timeout=10)

    def submit(self, url: str, timeout: float, done: Callable[[Result], None]) -> None:
        """GET `url`; `done(result)` is called on the checker's thread, once."""
        self._submitted.append((url, timeout, done))
        # One wake-up of the loop per burst of submissions, not one per check.
        with self._wake_lock:
            if self._wake_pending:
                return
            self._wake_pending = True
        self._loop.call_soon_threadsafe(self._take_submitted)

    def stop(self) -> None:
        """Close the kept connections and stop the loop."""
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    # -- on the loop -------------------------------------------------------------------------
    async def _open(self) -> None:
        self._gate = asyncio.Semaphore(self._max)

    async def _close(self) -> None:
        for wires in self._idle.values():
            for wire in wires:
                wire.close()
        self._idle.clear()
        self._idle_count = 0

    def _take_submitted(self) -> None:
        with self._wake_lock:
            self._wake_pending = False
        while self._submitted:
            url, timeout, done = self._submitted.popleft()
            self._loop.create_task(self._check(url, timeout, done))

    async def _check(self, url: str, timeout: float, done: Callable[[Result], None]) -> None:
        assert self._gate is not None
        async with self._gate:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(timeout):
                    status = await self._get(url)
            except TimeoutError:
                result = Result(False, f"no answer from {url} within {timeout:g}s")
            except MalformedResponse as error:
                result = Result(False, f"{url} gave no valid HTTP answer ({error})")
            except ValueError as error:
                result = Result(False, str(error))
            except OSError as error:
                result = Result(False, f"{url} unreachable ({type(error).__name__})")
            else:
                took = (time.perf_counter() - started) * 1000
                result = Result(status < 400, f"HTTP {status} from {url}", took)
        try:
            done(result)
        except Exception:
            log.exception("a check result could not be handed over")

    async def _get(self, url: str) -> int:
        """The status of a GET of `url` (a kept connection first; once more on a new one
        when a kept one turns out closed by the server before it answered)."""
        target = self._target(url)
        wire = self._kept(target.address)
        if wire is not None:
            try:
                return await self._exchange(wire, target)
            except ConnectionError:
                if wire.answered:
                    raise
        return await self._exchange(await self._connect(target.address), target)

    async def _exchange(self, wire: _Wire, target: _Target) -> int:
        try:
            reader = await wire.exchange(target.request)
        except BaseException:
            wire.close()  # cancelled (the timeout) or failed mid-answer: never used again
            raise
        if reader.reusable and not wire.closed:
            self._keep(target.address, wire)
        else:
            wire.close()
        return reader.status

    async def _connect(self, address: tuple[str, str, int]) -> _Wire:
        scheme, host, port = address
        tls = self._tls_context() if scheme == "https" else None
        _, wire = await self._loop.create_connection(
            _Wire, host, port, ssl=tls, server_hostname=host if tls else None
        )
        self.connections_opened += 1
        return wire

    def _kept(self, address: tuple[str, str, int]) -> _Wire | None:
        wires = self._idle.get(address)
        now = time.monotonic()
        while wires:
            wire = wires.pop()
            self._idle_count -= 1
            if not wire.closed and now - wire.idle_since < IDLE_SECONDS:
                return wire
            wire.close()
        return None

    def _keep(self, address: tuple[str, str, int], wire: _Wire) -> None:
        if self._idle_count >= self._max_idle:
            self._prune()
        if self._idle_count >= self._max_idle:
            wire.close()
            return
        wire.idle_since = time.monotonic()
        self._idle.setdefault(address, []).append(wire)
        self._idle_count += 1

    def _prune(self) -> None:
        """Close the kept connections that the server closed or that waited too long."""
        now = time.monotonic()
        for address, wires in list(self._idle.items()):
            alive = [w for w in wires if not w.closed and now - w.idle_since < IDLE_SECONDS]
            for wire in wires:
                if wire not in alive:
                    wire.close()
            if alive:
                self._idle[address] = alive
            else:
                del self._idle[address]
        self._idle_count = sum(len(wires) for wires in self._idle.values())

    def _target(self, url: str) -> _Target:
        # Parsed and built once per URL: a check of the same URL sends the same bytes.
        target = self._targets.get(url)
        if target is None:
            if len(self._targets) >= MAX_REMEMBERED:
                self._targets.clear()  # targets came and went (Swarm tasks): start over
            target = _build_target(url)
            self._targets[url] = target
        return target

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls


def _build_target(url: str) -> _Target:
    """ValueError for a URL the checker cannot GET."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if any(c in path or c in parts.netloc for c in "\r\n "):
        raise ValueError(f"a URL with whitespace: {url!r}")
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {parts.netloc.rpartition('@')[2]}\r\n"
        "User-Agent: opsloop-monitor\r\nAccept: */*\r\n\r\n"
    ).encode("ascii")
    return _Target((parts.scheme, parts.hostname, port), request)
