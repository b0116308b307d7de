"""The Monitor stage's part of the composition root: opsloop.yml into the frozen values core
reads, and the stage built over its adapters (store, engine, the HTTP check client,
Alertmanager)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine

from bot.config import Config
from bot.core.clock import Clock
from bot.core.deploy.model import DeployStore
from bot.core.leases import CurrentLease
from bot.core.monitor.desk import LabelNames
from bot.core.monitor.history import DeployRecords
from bot.core.monitor.model import CheckPolicy, Watched
from bot.core.monitor.receiver import PATH, AlertmanagerReceiver
from bot.core.monitor.stage import Monitoring, MonitorSettings, build_monitoring
from bot.core.outbox import Outbox
from bot.slack.http_server import PostRoute
from bot.store.monitor import SqlMonitorStore
from integrations.alertmanager import AlertmanagerSilences
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.fleet import DockerFleet
from integrations.http_checker import AsyncHttpChecker


def monitor_settings(config: Config) -> MonitorSettings:
    """Every deployment in opsloop.yml with its check policy, and where alerts go."""
    watched = []
    for name, service in config.services.items():
        c = service.checks
        policy = CheckPolicy(
            interval=c.interval, timeout=c.timeout, fail_after=c.fail_after,
            resolve_after=c.resolve_after, cpu=c.cpu, memory=c.memory, enabled=c.enabled,
        )  # fmt: skip
        for env, deploy in service.deploy.items():
            watched.append(
                Watched(name, env, deploy.target, service.port, service.health.path, policy)
            )
    am = config.monitor.alertmanager
    labels = LabelNames(am.service_label, am.environment_label) if am else LabelNames()
    return MonitorSettings(
        channel_id=config.monitor.channel or config.slack.ops_channel,
        deploy_window=timedelta(seconds=config.monitor.deploy_window),
        watched=tuple(watched), labels=labels, services=frozenset(config.services),
        environments=frozenset(config.environments),
    )  # fmt: skip


@dataclass
class MonitorParts:
    """The built stage, its HTTP route (with Alertmanager configured) and what to close."""

    monitoring: Monitoring
    routes: dict[str, PostRoute] = field(default_factory=dict)
    closing: list[Callable[[], None]] = field(default_factory=list)


def build_monitor(
    *,
    config: Config,
    engine: Engine,
    outbox: Outbox,
    clock: Clock,
    docker: EngineConnection,
    deploys: DeployStore,
    fence: CurrentLease | None = None,
) -> MonitorParts:
    """The Monitor stage, not started yet: call parts.monitoring.start(). With a `fence`,
    the checks' states are written only while that lease is held (singleton work)."""
    settings = monitor_settings(config)
    am = config.monitor.alertmanager
    silencer = AlertmanagerSilences(am.url) if am is not None and am.url else None
    http = AsyncHttpChecker()
    http.start()
    monitoring = build_monitoring(
        settings=settings, store=SqlMonitorStore(engine), outbox=outbox, clock=clock,
        fleet=DockerFleet(docker, config.namespace), http=http,
        history=DeployRecords(deploys, outbox),
        silencer=silencer, check_store=SqlMonitorStore(engine, fence) if fence else None,
    )  # fmt: skip
    parts = MonitorParts(monitoring, closing=[monitoring.stop, http.stop])
    if silencer is not None:
        parts.closing.append(silencer.close)
    if am is not None and am.token is not None:
        receiver = AlertmanagerReceiver(
            monitoring.desk, am.token.get_secret_value(), settings.services, settings.environments
        )

        def route(headers: Mapping[str, str], body: bytes) -> tuple[int, str]:
            answer = receiver.receive(headers.get("authorization"), body)
            return answer.status, answer.message

        parts.routes[PATH] = route
    return parts
