"""The check loop: runs every deployment's checks on its interval, off the router's workers.

One scheduler thread keeps the timetable. Asking the engine what runs (and its stats) happens
on a small pool of its own, and HTTP checks go to the HttpChecker, which waits on many at once:
a slow or hung target costs its own timeout and never delays the others' turn. Results are
applied on one thread, in order: the check's state machine, the store when something changed,
and the alert desk on fire and resolve. An alert resolved by hand reaches the loop through
the store (a CheckRestart, read every sweep), whichever process took the command.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial

from bot.core.clock import Clock
from bot.core.errors import OpsloopError
from bot.core.monitor.desk import AlertDesk
from bot.core.monitor.model import (
    CheckKind,
    CheckMove,
    CheckRecord,
    CheckRestart,
    CheckState,
    Result,
    Watched,
    check_key,
    must_store,
    step,
)
from bot.core.monitor.ports import (
    PROXY,
    DeployHistory,
    Fleet,
    HttpChecker,
    Instance,
    MonitorStore,
)
from bot.core.monitor.views import check_alert
from bot.core.replies import best_effort

log = logging.getLogger(__name__)
ENGINE_THREADS = 4
SWEEP_SECONDS = 1.0
GATHER_SECONDS = 0.05
"""How long results gather before they are applied together (far below any interval)."""


@dataclass(frozen=True, slots=True)
class _Observed:
    watched: Watched
    instance: str
    kind: CheckKind
    result: Result


Observer = Callable[[str, str, CheckKind, str, Result], None]
"""Told every check result as it is applied: service, env, kind, instance, result."""


class CheckLoop:
    """Every enabled deployment's checks, on schedule. It may start again after a stop
    (singleton work: only the lease holder checks)."""

    def __init__(
        self,
        *,
        watched: Sequence[Watched],
        fleet: Fleet,
        http: HttpChecker,
        history: DeployHistory,
        store: MonitorStore,
        desk: AlertDesk,
        clock: Clock,
    ) -> None:
        self.watched = [w for w in watched if w.policy.enabled]
        self._fleet = fleet
        self._http = http
        self._history = history
        self._store = store
        self._desk = desk
        self._clock = clock
        self._records: dict[str, CheckRecord] = {}
        self._records_lock = threading.Lock()
        self._inbox: deque[_Observed | CheckRestart] = deque()
        self._restarting: set[int] = set()
        """Restarts handed to the results thread and not taken yet (the sweep reads them
        again every second until they are)."""
        self._arrived = threading.Event()
        self._busy: set[int] = set()
        self._busy_lock = threading.Lock()
        self._stop = threading.Event()
        self._stop.set()  # not checking until start()
        self._engine = ThreadPoolExecutor(ENGINE_THREADS, thread_name_prefix="opsloop-monitor")
        self._threads: list[threading.Thread] = []
        self._observers: list[Observer] = []

    def observe(self, observer: Observer) -> Callable[[], None]:
        """Tell `observer` every check result from now on (on the results thread: it must
        be quick and must not raise); returns what stops it."""
        with self._records_lock:
            self._observers.append(observer)

        def stop() -> None:
            with self._records_lock:
                if observer in self._observers:
                    self._observers.remove(observer)

        return stop

    def start(self) -> None:
        """Load the checks' states from the store and start checking."""
        self.stop()
        self._stop = threading.Event()
        self._inbox = deque()
        self._arrived = threading.Event()
        self._busy = set()
        self._engine = ThreadPoolExecutor(ENGINE_THREADS, thread_name_prefix="opsloop-monitor")
        self._threads = []
        with self._records_lock:
            self._records = {r.key: r for r in self._store.checks()}
            self._restarting = set()
        for target, name in ((self._schedule, "schedule"), (self._apply_results, "results")):
            thread = threading.Thread(target=target, name=f"opsloop-monitor-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop checking; results already in are applied first."""
        self._stop.set()
        self._arrived.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._engine.shutdown(wait=False, cancel_futures=True)

    def records(self) -> list[CheckRecord]:
        """Every check's state now: this loop's own while it checks, else the store's (a
        process without the lease answers /monitor with what the checking one stored)."""
        if self._stop.is_set():
            return self._store.checks()
        with self._records_lock:
            return list(self._records.values())

    # -- the timetable -----------------------------------------------------------------------
    def _schedule(self) -> None:
        now = self._clock.monotonic()
        count = len(self.watched)
        # Spread the first turns over each check's interval (as Prometheus spreads its
        # scrapes): a thousand checks due in the same instant would queue behind one another
        # in the connection pool every interval, and that queue is what costs CPU.
        due = [(now + w.policy.interval * i / count, i) for i, w in enumerate(self.watched)]
        heapq.heapify(due)
        next_sweep = now
        while not self._stop.is_set():
            now = self._clock.monotonic()
            while due and due[0][0] <= now:
                at, index = heapq.heappop(due)
                self._run(index)
                # Keep the cadence: the next turn is counted from when this one was due.
                following = at + self.watched[index].policy.interval
                heapq.heappush(due, (max(following, now), index))
            if now >= next_sweep:
                next_sweep = now + SWEEP_SECONDS
                self._engine.submit(self._sweep)
            wake = min(due[0][0] if due else next_sweep, next_sweep)
            self._stop.wait(max(0.0, wake - self._clock.monotonic()))

    def _run(self, index: int) -> None:
        with self._busy_lock:
            if index in self._busy:
                return  # the engine is still answering the last turn: skip this one
            self._busy.add(index)
        self._engine.submit(self._turn, index)

    def _sweep(self) -> None:
        try:
            self._desk.sweep()
        except Exception:
            log.exception("silence sweep failed")
        try:
            self._hand_in_restarts()
        except Exception:
            log.exception("could not read the checks to start over")

    def _hand_in_restarts(self) -> None:
        for restart in self._store.restarts():
            with self._records_lock:
                if restart.id in self._restarting:
                    continue
                self._restarting.add(restart.id)
            self._hand_in(restart)

    def _turn(self, index: int) -> None:
        watched = self.watched[index]
        try:
            self._check(watched)
        except OpsloopError as error:
            log.warning("cannot check %s in %s: %s", watched.service, watched.env, error.message)
        except Exception:
            log.exception("checking %s in %s failed", watched.service, watched.env)
        finally:
            with self._busy_lock:
                self._busy.discard(index)

    def _check(self, w: Watched) -> None:
        if self._history.deploying(w.service, w.env):
            return  # a planned swap: the check follows the deployment once it is done
        instances = self._fleet.instances(w.service, w.env, w.port, w.health)
        # The proxy passes while its port answers at all, 502 and 503 included, so a
        # deployment with nothing left behind it (Swarm killed the failing tasks and their
        # replacements never leave `starting`; the container was removed) is down.
        if all(instance.name == PROXY for instance in instances):
            self._nothing_runs(w, behind_proxy=bool(instances))
        for instance in instances:
            self._check_instance(w, instance)

    def _check_instance(self, w: Watched, instance: Instance) -> None:
        policy = w.policy
        if instance.url is not None:
            url = instance.url

            def done(result: Result) -> None:
                if instance.name == PROXY and not result.passed and result.latency_ms is not None:
                    # The proxy answered, so it is up; what it forwards to has its own checks.
                    result = Result(True, f"the proxy answers ({result.detail})", result.latency_ms)
                self._hand_in(_Observed(w, instance.name, CheckKind.HTTP, result))

            self._http.submit(url, policy.timeout, done)
        if instance.name == PROXY or (policy.cpu is None and policy.memory is None):
            return  # the thresholds are the deployment's: the proxy runs without limits
        usage = self._fleet.usage(instance.container_id)
        for kind, figure, limit in (
            (CheckKind.CPU, usage.cpu_percent, policy.cpu),
            (CheckKind.MEMORY, usage.memory_percent, policy.memory),
        ):
            if limit is None or figure is None:
                continue
            said = f"{kind.value.upper() if kind is CheckKind.CPU else 'memory'} {figure:.0f}%"
            detail = f"{said} of its limit (threshold {limit:g}%)"
            self._hand_in(_Observed(w, instance.name, kind, Result(figure < limit, detail)))

    def _nothing_runs(self, w: Watched, *, behind_proxy: bool) -> None:
        # Only a deployment that ran before can stop running; one never deployed is quiet.
        # The failure goes to the checks of the copies that ran, never to the proxy's (its
        # alert would say the proxy is down; a listed proxy is checked on its own).
        prefix = f"{w.service}/{w.env}/"
        with self._records_lock:
            known = [r for r in self._records.values() if r.key.startswith(prefix)]
        behind = " behind its proxy" if behind_proxy else ""
        result = Result(False, f"nothing runs{behind}: no container or task is up")
        for record in known:
            if record.kind is CheckKind.HTTP and record.instance != PROXY:
                self._hand_in(_Observed(w, record.instance, CheckKind.HTTP, result))

    # -- results -----------------------------------------------------------------------------
    def _hand_in(self, observed: _Observed | CheckRestart) -> None:
        # Called for every result (on the HTTP checker's thread): a wake-up of the results
        # thread per result cost more than applying it, so they are gathered and applied
        # in batches; deque.append needs no lock.
        self._inbox.append(observed)
        if not self._arrived.is_set():
            self._arrived.set()

    def _apply_results(self) -> None:
        while True:
            self._arrived.wait()
            self._arrived.clear()
            self._stop.wait(GATHER_SECONDS)  # let a burst gather (a stop ends the wait)
            while self._inbox:
                item = self._inbox.popleft()
                try:
                    if isinstance(item, CheckRestart):
                        self._start_over(item)
                    else:
                        self._apply(item)
                except Exception:
                    log.exception("could not apply a check result")
            if self._stop.is_set():
                return

    def _apply(self, o: _Observed) -> None:
        w = o.watched
        key = check_key(w.service, w.env, o.instance, o.kind)
        with self._records_lock:
            record = self._records.get(key) or CheckRecord(
                key, w.service, w.env, o.instance, o.kind
            )
        now = self._clock.now()
        updated, move = step(record, o.result, w.policy, now)
        with self._records_lock:
            self._records[key] = updated
            observers = list(self._observers)
        for observer in observers:
            # An observer's failure must not cost the check its state or its alert.
            best_effort("tell a check observer", partial(observer, w.service, w.env, o.kind,
                                                         o.instance, o.result))  # fmt: skip
        if must_store(record, updated):
            self._store.save_check(updated)
        if move is CheckMove.FIRE:
            self._desk.raise_alert(check_alert(updated, w.health, o.result.detail, now))
        elif move is CheckMove.RESOLVE:
            self._desk.resolve_key(key)

    def _start_over(self, restart: CheckRestart) -> None:
        # Only a check still firing on the alert that was resolved starts over: one that
        # resolved (or fired a new alert) since the request has started over on its own.
        try:
            with self._records_lock:
                record = self._records.get(restart.key)
            fresh = None
            if (
                record is not None
                and record.state is CheckState.FIRING
                and self._store.open_alert_for(restart.key) is None
            ):
                fresh = replace(record, state=CheckState.OK, failures=0, passes=0, since=None)
            self._store.restarted(restart.id, fresh)
            if fresh is not None:
                with self._records_lock:
                    self._records[restart.key] = fresh
                log.info("check %s starts over: alert #%s was resolved by hand",
                         restart.key, restart.alert_id)  # fmt: skip
        finally:
            with self._records_lock:
                self._restarting.discard(restart.id)
