"""What a pipeline's watch reads: the Monitor stage's check results and firing alerts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.core.ship.watching import Sample


@dataclass(frozen=True, slots=True)
class Firing:
    """An alert firing for the watched service and environment."""

    title: str
    source: str
    detail: str


class WatchFeed(Protocol):
    """The Monitor stage, as a watch sees it."""

    def observe(
        self, service: str, env: str, on_sample: Callable[[Sample], None]
    ) -> Callable[[], None]:
        """Tell `on_sample` every check result of the deployment from now on; returns what
        stops it."""
        ...

    def firing(self, service: str, env: str, since: datetime) -> list[Firing]:
        """Alerts (our own checks' and Alertmanager's) for the deployment opened since
        `since` and not resolved or silenced."""
        ...
