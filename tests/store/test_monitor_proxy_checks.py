"""A deployment behind its reverse proxy, in the check loop over its store (SQLite and
PostgreSQL) with the engine and HTTP replaced by fakes. The proxy passes while its port
answers at all, so it must not hide a deployment that went down behind it: when only the
proxy is left (Swarm killed the failing tasks and their replacements never leave
`starting`, or the container was removed) the deployment's own check fires, saying nothing
runs, and the proxy's stays quiet. CPU and memory are the deployment's, never the proxy's
(Caddy runs without limits)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from bot.core.clock import SystemClock
from bot.core.monitor.model import (
    Alert,
    AlertState,
    CheckPolicy,
    CheckRecord,
    CheckState,
    Result,
    Watched,
)
from bot.core.monitor.ports import PROXY, Instance, Usage
from bot.core.monitor.stage import Monitoring, MonitorSettings, build_monitoring
from bot.core.outbox import Outbox
from bot.store.monitor import SqlMonitorStore
from bot.store.outbox import SqlOutboxStore
from tests.store.test_monitor_checks import NoDeploys, engine

__all__ = ["engine"]

POLICY = CheckPolicy(interval=0.05, timeout=0.05, fail_after=3, resolve_after=2, cpu=80)
DEADLINE = 30.0
PROXY_URL = "http://proxy/health"
COPY_URL = "http://copy/health"


class Fleet:
    """Lists what `listed` names: the copy (a task or the container, as `copy_name`) and
    the proxy; every container burns 95% CPU."""

    def __init__(self, copy_name: str) -> None:
        self.copy = Instance(copy_name, "copy-id", COPY_URL, "1.0.0")
        self.proxy = Instance(PROXY, "proxy-id", PROXY_URL, None)
        self.listed = [self.copy, self.proxy]

    def instances(self, service: str, env: str, port: int | None, health: str) -> list[Instance]:
        return list(self.listed)

    def usage(self, container_id: str) -> Usage:
        return Usage(95.0, None)


class Http:
    """The copy answers `copy_status`; the proxy answers 200 while it has a copy behind it
    and 503 when it does not (as Caddy does with no upstream). With `killed_after`, the
    copy is gone from the fleet after that many failed answers (Swarm kills a task that
    fails its health check; its replacement never leaves `starting`)."""

    def __init__(self, fleet: Fleet, copy_status: int, killed_after: int | None = None) -> None:
        self.fleet = fleet
        self.copy_status = copy_status
        self.killed_after = killed_after
        self.copy_failures = 0

    def submit(self, url: str, timeout: float, done: Callable[[Result], None]) -> None:
        if url == PROXY_URL:
            status = 200 if self.fleet.copy in self.fleet.listed else 503
        else:
            status = self.copy_status
            self.copy_failures += status >= 400
            if self.copy_failures == self.killed_after:
                self.fleet.listed = [self.fleet.proxy]
        done(Result(status < 400, f"HTTP {status} from {url}", 1.0))


def monitoring(engine: Engine, fleet: Fleet, http: Http) -> Monitoring:
    clock = SystemClock()
    watched = (Watched("web", "prod", "swarm", 8080, "/health", POLICY),)
    return build_monitoring(
        settings=MonitorSettings("C0OPS", timedelta(minutes=30), watched),
        store=SqlMonitorStore(engine), outbox=Outbox(SqlOutboxStore(engine), clock),
        clock=clock, fleet=fleet, http=http, history=NoDeploys(), silencer=None,
    )  # fmt: skip


def until(running: Monitoring, good: Callable[[dict[str, CheckRecord]], bool]) -> None:
    """Poll the loop's records, by key without the service and env (`task-1/http`), until
    `good` holds for them (within DEADLINE)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        records = {r.key.removeprefix("web/prod/"): r for r in running.checks()}
        if good(records):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"checks never got there: {running.checks()}")
        threading.Event().wait(0.02)  # poll again; the deadline above bounds it


def passed_often(records: dict[str, CheckRecord], key: str) -> bool:
    record = records.get(key)
    return record is not None and record.passes >= 5


def firing(records: dict[str, CheckRecord], key: str) -> bool:
    record = records.get(key)
    return record is not None and record.state is CheckState.FIRING


def alerts(engine: Engine) -> list[Alert]:
    """Every alert in the store."""
    return SqlMonitorStore(engine).alerts(list(AlertState), limit=100)


@pytest.mark.parametrize("copy_name", ["task-1", "container"])
def test_only_the_proxy_left_fires_one_alert_saying_nothing_runs(
    engine: Engine, copy_name: str
) -> None:
    fleet = Fleet(copy_name)
    # The health path breaks: two failures (fail_after is 3), then Swarm kills the task (or
    # the container is removed), and only the proxy, answering 503, is listed.
    http = Http(fleet, copy_status=500, killed_after=2)
    running = monitoring(engine, fleet, http)
    running.start()
    try:
        until(running, lambda r: firing(r, f"{copy_name}/http"))
        # The proxy is still checked on its own: it answers 503, so it is up.
        until(running, lambda r: passed_often(r, "proxy/http")
              and "HTTP 503" in r["proxy/http"].last_detail)  # fmt: skip
    finally:
        running.stop()
    http_alerts = [a for a in alerts(engine) if a.key.endswith("/http")]
    assert [a.key for a in http_alerts] == [f"web/prod/{copy_name}/http"], http_alerts
    assert "nothing runs behind its proxy" in http_alerts[0].detail, http_alerts


def test_nothing_listed_at_all_fires_the_copys_alert_not_a_proxy_is_down_one(
    engine: Engine,
) -> None:
    fleet = Fleet("container")
    http = Http(fleet, copy_status=200)
    running = monitoring(engine, fleet, http)
    running.start()
    try:
        until(running, lambda r: passed_often(r, "container/http") and "proxy/http" in r)
        fleet.listed = []
        until(running, lambda r: r["container/http"].state is CheckState.FIRING)
        until(running, lambda r: r["container/http"].failures >= 2 * POLICY.fail_after)
    finally:
        running.stop()
    http_alerts = [a for a in alerts(engine) if a.key.endswith("/http")]
    assert [a.key for a in http_alerts] == ["web/prod/container/http"], http_alerts
    assert "nothing runs:" in http_alerts[0].detail, http_alerts
    assert not any("proxy is down" in a.title for a in http_alerts), http_alerts


def test_cpu_and_memory_are_checked_on_the_copies_never_on_the_proxy(engine: Engine) -> None:
    fleet = Fleet("task-1")
    http = Http(fleet, copy_status=200)
    running = monitoring(engine, fleet, http)
    running.start()
    try:
        until(running, lambda r: "task-1/cpu" in r and r["task-1/cpu"].failures >= 5)
        until(running, lambda r: passed_often(r, "proxy/http"))
    finally:
        running.stop()
    checks = {r.key for r in SqlMonitorStore(engine).checks()}
    assert checks == {"web/prod/task-1/http", "web/prod/task-1/cpu", "web/prod/proxy/http"}
    assert [a.key for a in alerts(engine)] == ["web/prod/task-1/cpu"]
