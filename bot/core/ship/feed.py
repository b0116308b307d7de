"""The Monitor stage as a pipeline's watch reads it: the check loop's results as they are
applied, and the alert desk's open alerts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.core.clock import Clock
from bot.core.monitor.model import AlertState, CheckKind, Result
from bot.core.monitor.stage import Monitoring
from bot.core.ship.ports import Firing
from bot.core.ship.watching import Sample

_FIRING = (AlertState.OPEN, AlertState.ACKNOWLEDGED)
ALERTS_READ = 200


class MonitorFeed:
    """WatchFeed over the Monitor stage."""

    def __init__(self, monitoring: Monitoring, clock: Clock) -> None:
        self._monitoring = monitoring
        self._clock = clock

    def observe(
        self, service: str, env: str, on_sample: Callable[[Sample], None]
    ) -> Callable[[], None]:
        """Every check result of `service` in `env` from now on."""

        def seen(s: str, e: str, kind: CheckKind, instance: str, result: Result) -> None:
            if (s, e) == (service, env):
                on_sample(Sample(result.passed, kind.value, instance, result.detail,
                                 self._clock.now()))  # fmt: skip

        return self._monitoring.loop.observe(seen)

    def firing(self, service: str, env: str, since: datetime) -> list[Firing]:
        """Open alerts of the deployment raised since `since`."""
        return [
            Firing(alert.title, alert.source.value, alert.detail)
            for alert in self._monitoring.open_alerts(ALERTS_READ)
            if alert.service == service
            and alert.env == env
            and alert.state in _FIRING
            and alert.opened_at >= since
        ]
