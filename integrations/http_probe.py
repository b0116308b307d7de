"""Health checks over HTTP with a short timeout: does the service answer its health path?"""

from __future__ import annotations

import httpx

from bot.core.code.catalogue import Health, Probe

PROBE_TIMEOUT = 2.0


class HttpProbe:
    """The HealthProbe port on httpx. Proxies from the environment are ignored: the
    endpoints are on this host."""

    def __init__(self, timeout: float = PROBE_TIMEOUT) -> None:
        self._timeout = timeout
        # One client for every check (thread-safe): a new one per check would build an SSL
        # context each time, which costs more than a check of a service on this host.
        self._client = httpx.Client(
            timeout=timeout, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0)
        )

    def close(self) -> None:
        """Close the shared client."""
        self._client.close()

    def check(self, url: str) -> Probe:
        """Up on 2xx or 3xx; down on any other status or no answer in time."""
        try:
            answer = self._client.get(url)
        except httpx.TimeoutException:
            return Probe(Health.DOWN, f"no answer within {self._timeout:g}s")
        except httpx.HTTPError as error:
            return Probe(Health.DOWN, f"unreachable: {type(error).__name__}")
        health = Health.UP if answer.status_code < 400 else Health.DOWN
        return Probe(health, f"HTTP {answer.status_code}")
