"""Health checks over HTTP for the Monitor stage: httpx's async client on an event loop of
the checker's thread, so a thousand checks in flight cost sockets, not threads, and a hung
target only costs its own timeout.

The client's transport is integrations.http_check_transport.KeptConnections (kept
connections, the answer read for its status and the body dropped), in place of httpx's
default one, whose pool was most of the checks' CPU. No redirect is followed (a 3xx passes,
as 2xx); proxies from the environment are ignored: targets are on this host or its
networks."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

import httpx

from bot.core.monitor.model import Result
from integrations.http_check_transport import (
    IDLE_SECONDS,
    MAX_IDLE,
    MAX_REMEMBERED,
    KeptConnections,
)

log = logging.getLogger(__name__)
MAX_IN_FLIGHT = 64


class AsyncHttpChecker:
    """monitor.ports.HttpChecker on httpx.AsyncClient. start() before submit(); stop() once."""

    def __init__(
        self,
        max_in_flight: int = MAX_IN_FLIGHT,
        max_idle: int = MAX_IDLE,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        """`max_idle` connections are kept for later checks (0: a new one for each), each
        closed once it waited `idle_seconds` for one."""
        self._max = max_in_flight
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="opsloop-http-checks", daemon=True
        )
        self._transport = KeptConnections(max_idle, idle_seconds)
        self._client: httpx.AsyncClient | None = None
        self._gate: asyncio.Semaphore | None = None
        self._requests: dict[tuple[str, float], httpx.Request] = {}
        self._submitted: deque[tuple[str, float, Callable[[Result], None]]] = deque()
        self._wake_pending = False
        self._wake_lock = threading.Lock()

    @property
    def connections_opened(self) -> int:
        """Connections made so far (kept ones are used again)."""
        return self._transport.connections_opened

    def start(self) -> None:
        """Start the event loop and its client."""
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
        """Close the client (and its kept connections) and stop the loop."""
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
        self._client = httpx.AsyncClient(
            transport=self._transport,
            trust_env=False,
            follow_redirects=False,
            headers={"User-Agent": "opsloop-monitor"},
        )
        self._gate = asyncio.Semaphore(self._max)

    async def _close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def _take_submitted(self) -> None:
        with self._wake_lock:
            self._wake_pending = False
        while self._submitted:
            url, timeout, done = self._submitted.popleft()
            self._loop.create_task(self._check(url, timeout, done))

    async def _check(self, url: str, timeout: float, done: Callable[[Result], None]) -> None:
        assert self._client is not None and self._gate is not None
        async with self._gate:
            started = time.perf_counter()
            try:
                request = self._request(url, timeout)
                # One deadline for the whole exchange, whatever phase hangs (asyncio.timeout,
                # unlike wait_for, costs no task of its own per check).
                async with asyncio.timeout(timeout):
                    answer = await self._client.send(request)
            except (TimeoutError, httpx.TimeoutException):
                result = Result(False, f"no answer from {url} within {timeout:g}s")
            except httpx.RemoteProtocolError as error:
                result = Result(False, f"{url} gave no valid HTTP answer ({error})")
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
                result = Result(False, f"{url} cannot be checked: {error}")
            except httpx.HTTPError as error:
                result = Result(False, f"{url} unreachable ({type(error).__name__})")
            else:
                took = (time.perf_counter() - started) * 1000
                passed = answer.status_code < 400
                result = Result(passed, f"HTTP {answer.status_code} from {url}", took)
        try:
            done(result)
        except Exception:
            log.exception("a check result could not be handed over")

    def _request(self, url: str, timeout: float) -> httpx.Request:
        # A GET without a body can be sent again as it is: built (URL parsed, the client's
        # headers merged in) once per target rather than once per check.
        key = (url, timeout)
        request = self._requests.get(key)
        if request is None:
            assert self._client is not None
            if len(self._requests) >= MAX_REMEMBERED:
                self._requests.clear()  # targets came and went (Swarm tasks): start over
            request = self._client.build_request("GET", url, timeout=timeout)
            self._requests[key] = request
        return request
