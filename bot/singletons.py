"""The singleton work of a process, and the lease it runs under: only the process holding
the lease runs it when several share one store (bot.core.lease_keeper)."""

from __future__ import annotations

import os
import socket

from sqlalchemy import Engine

import commands
from bot.core.lease_keeper import LeaseKeeper
from bot.core.leases import SINGLETONS, Lease
from bot.core.operate.model import Fleet
from bot.core.ownership import Periodically
from bot.metrics import Metrics
from bot.settings import Settings
from bot.store.leases import SqlLeaseStore
from bot.store.schedules import SqlFireLedger
from commands.dependencies import Services
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.proxy_follower import FOLLOW_SECONDS, ProxyFollower
from integrations.scheduler import CronScheduler


def ignore(_result: object) -> None:
    """Drop a result: a singleton's start returns nothing (job recovery returns its list)."""
    return None


def lease_keeper(
    engine: Engine, settings: Settings, metrics: Metrics, process_id: str
) -> LeaseKeeper:
    """The keeper of the singletons' lease, reporting it in opsloop_lease_held."""
    held = metrics.lease_held.labels(SINGLETONS)
    held.set(0)

    def changed(lease: Lease | None) -> None:
        held.set(0 if lease is None else 1)

    return LeaseKeeper(
        SqlLeaseStore(engine),
        process_id=process_id,
        host=socket.gethostname(),
        pid=os.getpid(),
        ttl=settings.lease_seconds,
        on_change=changed,
    )


def proxy_follower(docker: EngineConnection, namespace: str, fleet: Fleet) -> Periodically:
    """Every FOLLOW_SECONDS, each proxied deployment's proxy is pointed at what the engine
    runs (integrations.docker_engine.proxy_follower)."""
    targets = [p.target for p in fleet.placements.values() if p.target and p.target.proxied]
    follower = ProxyFollower(docker, namespace, lambda: targets)
    return Periodically("proxy follower", FOLLOW_SECONDS, follower.follow_all)


def digest_schedule(services: Services, engine: Engine) -> CronScheduler | None:
    """The sprint digest on its cron schedule, when jira.digest is configured."""
    jira = services.config.jira
    if jira is None or jira.digest is None:
        return None
    scheduler = CronScheduler(SqlFireLedger(engine, services.clock), services.clock)
    scheduler.add(
        commands.plan.DIGEST_JOB,
        jira.digest.cron,
        jira.digest.timezone,
        lambda fire_time: commands.plan.post_digest(services, fire_time),
    )
    return scheduler
