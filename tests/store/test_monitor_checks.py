"""The check loop over its store (SQLite and PostgreSQL), with the engine and HTTP replaced
by fakes: a steady check is not written again on every result, what a restart needs is
(first result, each change of state, the failures counting towards fail_after), and a
firing check is neither announced again nor forgotten after a restart; an alert resolved by
hand in a process that does not run the checks starts the checking process's count over."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from bot.core.clock import SystemClock
from bot.core.monitor.model import (
    Alert,
    CheckPolicy,
    CheckRecord,
    CheckState,
    DeployFacts,
    Result,
    Watched,
)
from bot.core.monitor.ports import Instance, Usage
from bot.core.monitor.stage import Monitoring, MonitorSettings, build_monitoring
from bot.core.outbox import Outbox
from bot.store.db import open_store
from bot.store.monitor import SqlMonitorStore
from bot.store.outbox import SqlOutboxStore

POLICY = CheckPolicy(interval=0.05, timeout=0.05, fail_after=3, resolve_after=2)
DEADLINE = 30.0


class Fleet:
    """Each deployment runs one container, reached at http://<service>/health."""

    def instances(self, service: str, env: str, port: int | None, health: str) -> list[Instance]:
        return [Instance("container", service, f"http://{service}{health}", "1.0.0")]

    def usage(self, container_id: str) -> Usage:
        return Usage(None, None)


class Http:
    """Answers at once: 200 from the services in `up`, 500 from the others."""

    def __init__(self, up: set[str]) -> None:
        self.up = up

    def submit(self, url: str, timeout: float, done: Callable[[Result], None]) -> None:
        service = url.split("/")[2]
        passed = service in self.up
        done(Result(passed, f"HTTP {200 if passed else 500} from {url}", 1.0))


class NoDeploys:
    def last_deploy(self, service: str, env: str) -> DeployFacts | None:
        return None

    def deploying(self, service: str, env: str) -> bool:
        return False


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    opened = open_store(database_url)
    yield opened
    opened.dispose()


def monitoring(engine: Engine, http: Http) -> Monitoring:
    clock = SystemClock()
    watched = tuple(Watched(name, "prod", "container", 8080, "/health", POLICY)
                    for name in ("steady", "broken"))  # fmt: skip
    return build_monitoring(
        settings=MonitorSettings("C0OPS", timedelta(minutes=30), watched),
        store=SqlMonitorStore(engine), outbox=Outbox(SqlOutboxStore(engine), clock),
        clock=clock, fleet=Fleet(), http=http, history=NoDeploys(), silencer=None,
    )  # fmt: skip


def until(running: Monitoring, good: Callable[[dict[str, CheckRecord]], bool]) -> None:
    """Poll the loop's records until both checks have results and `good` holds for them
    (within DEADLINE)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        records = {r.service: r for r in running.checks()}
        if len(records) == 2 and good(records):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"checks never got there: {running.checks()}")
        threading.Event().wait(0.02)  # poll again; the deadline above bounds it


def stored(engine: Engine) -> dict[str, CheckRecord]:
    return {r.service: r for r in SqlMonitorStore(engine).checks()}


def alert_posts(engine: Engine) -> int:
    """Alert messages recorded in the outbox (each would be posted once)."""
    store = SqlOutboxStore(engine)
    return sum(store.by_key(f"alert-{n}") is not None for n in range(1, 20))


def newest_alert(engine: Engine, key: str, good: Callable[[Alert], bool]) -> Alert:
    """Poll the newest alert with this key until there is one and `good` holds for it."""
    deadline = time.monotonic() + DEADLINE
    while True:
        alert = SqlMonitorStore(engine).last_alert_for(key)
        if alert is not None and good(alert):
            return alert
        assert time.monotonic() < deadline, f"no such alert; the newest: {alert}"
        threading.Event().wait(0.02)  # poll again; the deadline above bounds it


def test_steady_results_are_not_written_and_a_firing_check_survives_a_restart(
    engine: Engine,
) -> None:
    http = Http(up={"steady"})
    first = monitoring(engine, http)
    first.start()
    until(first, lambda r: r["steady"].passes >= 10 and r["broken"].failures >= 10)
    first.stop()
    rows = stored(engine)
    # Ten passes and more: the store still holds the first one (nothing changed since).
    assert rows["steady"].state is CheckState.OK and rows["steady"].passes == 1
    # Written up to the failure that fired it; the ones after change nothing a restart needs.
    assert rows["broken"].state is CheckState.FIRING and rows["broken"].failures == 3
    assert alert_posts(engine) == 1

    second = monitoring(engine, http)
    second.start()
    until(second, lambda r: r["broken"].failures >= 13)
    assert alert_posts(engine) == 1  # still firing after the restart: not announced again
    http.up.add("broken")
    until(second, lambda r: r["broken"].state is CheckState.RESOLVED)
    second.stop()
    assert stored(engine)["broken"].state is CheckState.RESOLVED
    alert = SqlMonitorStore(engine).last_alert_for("broken/prod/container/http")
    assert alert is not None and not alert.open


def test_a_resolve_by_hand_in_the_process_without_the_checks_starts_the_check_over(
    engine: Engine,
) -> None:
    # Two processes on one database: `holder` runs the checks (it holds the lease), `other`
    # only answers commands (its check loop is not started, as in a standby).
    http = Http(up={"steady"})
    holder, other = monitoring(engine, http), monitoring(engine, http)
    holder.start()
    try:
        key = "broken/prod/container/http"
        first = newest_alert(engine, key, lambda alert: alert.message_id is not None)
        # The standby answers /monitor with the states the holder stored (it checks nothing).
        states = {record.key: record.state for record in other.checks()}
        assert states[key] is CheckState.FIRING
        other.desk.resolve(first.id, "U0DAVE")

        # The target still fails: the holder counts fail_after failures again and fires a
        # new alert, as one process does. Before, its memory kept the check firing, so a
        # still-failing check never fired again after someone resolved it elsewhere.
        latest = newest_alert(
            engine, key, lambda alert: alert.id != first.id and alert.message_id is not None
        )
        assert latest.open and latest.previous_id == first.id
        assert alert_posts(engine) == 2
        resolved = SqlMonitorStore(engine).alert(first.id)
        assert resolved is not None and resolved.resolved_by == "U0DAVE"
        assert SqlMonitorStore(engine).restarts() == []  # taken once
    finally:
        holder.stop()
