"""Health checks over HTTP for the Monitor stage: httpx's async client on an event loop of its
own thread, so a thousand checks in flight cost sockets, not threads, and a hung target only
costs its own timeout. Proxies from the environment are ignored: targets are on this host or
its networks."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import httpx

from bot.core.monitor.model import Result

log = logging.getLogger(__name__)
MAX_IN_FLIGHT = 64
KEEP_ALIVE = 16
MAX_REMEMBERED = 10_000


class AsyncHttpChecker:
    """monitor.ports.HttpChecker on httpx.AsyncClient. start() before submit(); stop() once."""

    def __init__(self, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self._max = max_in_flight
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="opsloop-http-checks", daemon=True
        )
        self._client: httpx.AsyncClient | None = None
        self._gate: asyncio.Semaphore | None = None
        self._requests: dict[tuple[str, float], httpx.Request] = {}

    def start(self) -> None:
        """Start the event loop and its client."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(timeout=10)

    def submit(self, url: str, timeout: float, done: Callable[[Result], None]) -> None:
        """GET `url`; `done(result)` is called on the checker's thread, once."""
        future: Future[None] = asyncio.run_coroutine_threadsafe(
            self._check(url, timeout, done), self._loop
        )
        del future

    def stop(self) -> None:
        """Close the client and stop the loop."""
        if not self._thread.is_alive():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    async def _open(self) -> None:
        # Few idle connections: the pool looks at every idle one (a system call each) on
        # every request, and a target checked every 15 s finds its connection expired (5 s)
        # anyway; only targets sharing an address and port reuse them.
        limits = httpx.Limits(max_connections=self._max, max_keepalive_connections=KEEP_ALIVE)
        self._client = httpx.AsyncClient(trust_env=False, limits=limits, follow_redirects=False)
        self._gate = asyncio.Semaphore(self._max)

    def _request(self, url: str, timeout: float) -> httpx.Request:
        # A GET without a body can be sent again as it is: building it (URL parsing, the
        # client's headers merged in) once per target rather than once per check.
        key = (url, timeout)
        request = self._requests.get(key)
        if request is None:
            assert self._client is not None
            if len(self._requests) >= MAX_REMEMBERED:
                self._requests.clear()  # targets came and went (Swarm tasks): start over
            request = self._client.build_request("GET", url, timeout=timeout)
            self._requests[key] = request
        return request

    async def _close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def _check(self, url: str, timeout: float, done: Callable[[Result], None]) -> None:
        assert self._client is not None and self._gate is not None
        async with self._gate:
            started = time.perf_counter()
            try:
                # One deadline for the whole exchange, whatever phase hangs (asyncio.timeout,
                # unlike wait_for, costs no task of its own per check).
                async with asyncio.timeout(timeout):
                    answer = await self._client.send(self._request(url, timeout))
            except (TimeoutError, httpx.TimeoutException):
                result = Result(False, f"no answer from {url} within {timeout:g}s")
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
