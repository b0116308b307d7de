"""The autoscaler: every interval, on a thread of its own (never the router's workers), reads
the CPU and memory of each autoscaled Swarm service, decides with bot.core.operate.autoscale,
scales when the count moves and says so in the ops channel (and only then). It skips a
placement that is paused (`/scale … auto off`, or a manual /scale), whose deploy is running,
or whose Swarm update is under way. What it remembers is in the store, so a restart of the
bot keeps the stabilisation window and the paused flags.

Announcements go through the outbox, keyed by the service's spec version before the change
and the new count: a second process that read the same service and decided the same records
nothing, and the courier never posts a row twice."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from datetime import timedelta

from bot.core.clock import Clock
from bot.core.deploy.model import DeployState
from bot.core.operate.autoscale import Decision, Metric, decide
from bot.core.operate.model import (
    AutoscaleStore,
    DeployActivity,
    Fleet,
    OperateEngine,
    Placement,
    Status,
    readings,
)
from bot.core.operate.views import autoscale_announcement
from bot.core.outbox import Outbox

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 15.0


class Autoscaler:
    """Evaluates every autoscaled placement each `interval` seconds."""

    def __init__(
        self,
        *,
        fleet: Fleet,
        engine: OperateEngine,
        store: AutoscaleStore,
        activity: DeployActivity,
        outbox: Outbox,
        clock: Clock,
        interval: float = INTERVAL_SECONDS,
    ) -> None:
        self._fleet = fleet
        self._engine = engine
        self._store = store
        self._activity = activity
        self._outbox = outbox
        self._clock = clock
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def evaluate_all(self) -> None:
        """One round over every autoscaled placement; one failing never stops the others."""
        for placement in self._fleet.autoscaled():
            try:
                self.evaluate(placement)
            except Exception:
                log.warning(
                    "autoscaler: %s/%s failed", placement.service, placement.env, exc_info=True
                )

    def evaluate(self, placement: Placement) -> Decision | None:
        """Decide for one placement and act on it; None when it was skipped."""
        policy = placement.autoscale
        if policy is None or self._skipped(placement):
            return None
        status = self._engine.status(placement)
        if not status.exists or status.updating or status.desired < 1:
            return None
        usage = self._engine.usage(placement)
        metrics = [Metric("cpu", readings(usage, status.desired, "cpu"), policy.cpu)]
        if policy.memory is not None:
            metrics.append(Metric("memory", readings(usage, status.desired, "memory"),
                                  policy.memory))  # fmt: skip
        state = self._store.get(placement.service, placement.env)
        now = self._clock.now()
        decision = decide(
            status.desired, metrics, low=policy.low, high=min(policy.high, placement.max_replicas),
            history=state.history, now=now, window=timedelta(seconds=policy.window_seconds),
        )  # fmt: skip
        self._store.save(replace(state, history=decision.history), now)
        # Someone may have paused it (a manual /scale) while the stats were read.
        if decision.changes and not self._skipped(placement):
            outcome = self._engine.scale(placement, decision.replicas, lambda _text: None)
            log.info("autoscaler: %s/%s %s", placement.service, placement.env, outcome.detail)
            trouble = "" if outcome.state is DeployState.SUCCEEDED else outcome.detail
            said = autoscale_announcement(placement, decision, trouble)
            self._outbox.post(self._fleet.ops_channel, said, key=_key(placement, status, decision))
        return decision

    def _skipped(self, placement: Placement) -> bool:
        if self._store.get(placement.service, placement.env).paused:
            return True
        return self._activity.deploying(placement.service, placement.env)

    def start(self) -> None:
        """Evaluate every interval on a thread of its own, until stop(); it may start again
        after a stop (singleton work: only the lease holder autoscales)."""
        if not self._fleet.autoscaled():
            return
        self.stop()
        stop = self._stop = threading.Event()

        def loop() -> None:
            while not stop.wait(self._interval):
                self.evaluate_all()

        self._thread = threading.Thread(target=loop, name="opsloop-autoscaler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the round in hand."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


def _key(placement: Placement, status: Status, decision: Decision) -> str | None:
    """One announcement per change of the service: its spec version before, and the count."""
    if status.spec_version is None:
        return None
    where = f"{placement.service}/{placement.env}"
    return f"autoscale:{where}:v{status.spec_version}:{decision.replicas}"
