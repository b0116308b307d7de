"""The composition root: builds the store, the clients, the router and the stages, and wires
them together. The only place that knows every concrete class."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import Engine, text

import commands
from bot.config import Config
from bot.config.estates import access_rules, deploy_estate, operate_fleet
from bot.core.access import Access
from bot.core.background import Background
from bot.core.build.runner import JobRunner
from bot.core.build.stages import BuildStages, StageDeps, pushed_release
from bot.core.clock import Clock
from bot.core.delivery import OutboxCourier
from bot.core.deploy.desk import DeployDesk, build_desk
from bot.core.deploy.model import DeployKind
from bot.core.draining import DrainingPool
from bot.core.lease_keeper import LeaseKeeper, Singleton
from bot.core.leases import CurrentLease, Lease
from bot.core.operate.autoscaler import Autoscaler
from bot.core.operate.desk import OperateDesk
from bot.core.operate.model import Fleet
from bot.core.operate.operations import RestartOperation, ScaleOperation
from bot.core.outbox import Outbox
from bot.core.ownership import Periodically
from bot.core.parsing import Catalog
from bot.core.redact import Redactor
from bot.core.replies import best_effort
from bot.core.ship.desk import ShipDesk
from bot.core.verbs import Registry
from bot.metrics import Metrics
from bot.monitor_wiring import MonitorParts, build_monitor
from bot.router import Router, RouterDeps
from bot.settings import Settings
from bot.ship_wiring import build_ship_desk
from bot.singletons import digest_schedule, ignore, lease_keeper, proxy_follower
from bot.slack.bolt_app import build_bolt_app
from bot.slack.directory import SlackDirectory
from bot.slack.http_server import PostRoute, SlackHttpServer
from bot.slack.notifier import SlackNotifier, retry_handlers
from bot.store.audit import SqlAuditLog, SqlEventLedger
from bot.store.autoscale import SqlAutoscaleStore
from bot.store.db import open_store
from bot.store.db_clock import DatabaseClock
from bot.store.deploys import SqlDeployStore, SqlLockStore
from bot.store.jobs import SqlJobStore
from bot.store.outbox import SqlOutboxStore
from bot.store.ownership import SqlOwnership
from bot.store.schedules import SqlDigestLedger
from bot.store.single_process import SqliteClaim, claim_store
from commands.dependencies import Services
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.deployments import DockerDeployments
from integrations.docker_engine.images import DockerImages
from integrations.docker_engine.inventory import DockerInventory
from integrations.docker_engine.operate import DockerOperations
from integrations.git_repo import GitRepo
from integrations.http_probe import HttpProbe
from integrations.jira_tracker import JiraTracker
from integrations.registry import RegistryAccess, RegistryImages, RegistryReleases
from integrations.scheduler import CronScheduler

log = logging.getLogger(__name__)

WORKERS = 2
DEPLOY_SWEEP_SECONDS = 1.0
AUTOSCALE_SECONDS = 15.0
SWITCH_INTERVAL = 0.001


@dataclass
class Opsloop:
    """A built bot: call serve() or start() to take requests, stop() to shut down."""

    settings: Settings
    config: Config
    registry: Registry
    services: Services
    router: Router
    bolt: App
    metrics: Metrics
    engine: Engine
    workers: DrainingPool
    redact: Redactor
    server: SlackHttpServer | None = None
    on_stop: list[Callable[[], None]] = field(default_factory=list)
    bounded_stops: list[Callable[[float], list[str]]] = field(default_factory=list)
    """Stop hooks that wait for work in hand: each is given the seconds left of the
    shutdown and returns what it cut short. They run before on_stop's."""
    scheduler: CronScheduler | None = None
    keeper: LeaseKeeper | None = None
    """Runs the singleton work (sweepers, schedules) while this process holds the lease."""
    stopped: bool = False
    routes: dict[str, PostRoute] = field(default_factory=dict)
    """POST routes beside Slack's (POST /alertmanager)."""

    def http_server(self, host: str = "127.0.0.1", port: int = 0) -> SlackHttpServer:
        """The HTTP edge for this bot (created once)."""
        if self.server is None:
            self.server = SlackHttpServer(
                self.bolt, self.metrics, self.health, host, port, routes=self.routes,
                signing_secret=self.settings.signing_secret,
            )  # fmt: skip
        return self.server

    def start(self, host: str = "127.0.0.1", port: int = 0) -> SlackHttpServer:
        """Serve HTTP in a background thread; for the sandbox and tests."""
        server = self.http_server(host, port)
        server.start()
        return server

    def health(self) -> dict[str, Any]:
        """What GET /healthz answers: the bot is up and its store answers; this process's
        id and the leases it holds (its singleton work runs while it holds one)."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            store = "ok"
        except Exception as error:  # the health answer must not fail
            store = f"error: {type(error).__name__}"
        answer: dict[str, Any] = {
            "ok": store == "ok", "store": store, "verbs": len(self.registry.verbs()),
        }  # fmt: skip
        if self.keeper is not None:
            held = self.keeper.lease
            answer["process_id"] = self.keeper.process_id
            answer["leases"] = [held.name] if held is not None else []
        return answer

    def stop(self) -> list[str]:
        """Stop taking requests, let the work in hand reach a safe point within
        settings.shutdown_seconds, and close the store. Returns what was cut short (still
        running in the store, for the next start to settle); empty when everything ended
        in time. Safe to repeat."""
        if self.stopped:
            return []
        self.stopped = True
        deadline = time.monotonic() + self.settings.shutdown_seconds

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        if self.server is not None:
            self.server.stop()
        if self.keeper is not None:
            self.keeper.stop_taking()
        cut_short: list[str] = []
        # Commands already acknowledged go first: they may still hand work to the stages.
        if still := self.workers.drain(left(), cancel_queued=False):
            cut_short.append(f"{still} command(s) still being handled")
        for bounded in self.bounded_stops:
            cut_short += bounded(left())
        for hook in self.on_stop:
            hook()
        if not cut_short:
            # Work cut short may still write to the store until the process ends.
            self.engine.dispose()
        return cut_short


def build(
    settings: Settings,
    config: Config,
    *,
    clock: Clock | None = None,
    verify_token: bool = True,
    autoscale_seconds: float = AUTOSCALE_SECONDS,
) -> Opsloop:
    """Wire a bot from settings and config, with its background work started (the job
    runner's recovery, the deploy sweeper, scheduled digests) once it holds the lease for
    singleton work, which a lone process takes at once. With verify_token, the Slack
    token is checked with auth.test now, so a bad token stops the start, not the first command.
    StoreInUse when another process has the SQLite database open."""
    sqlite_claim = claim_store(settings.database_url)
    # Acks wait on the interpreter lock while workers run stage code; a shorter switch
    # interval (default 5 ms) lets the acknowledging thread in sooner.
    sys.setswitchinterval(SWITCH_INTERVAL)
    redact = Redactor((*settings.secrets(), *config.secrets()))
    process_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    metrics = Metrics(process_id)
    engine = open_store(settings.database_url)
    keeper = lease_keeper(engine, settings, metrics, process_id)
    if clock is None:
        # Processes sharing the store tell time by the database's clock, so a machine whose
        # clock is off neither expires locks and approvals early nor paces posts wrongly.
        shared = DatabaseClock(engine)
        best_effort("read the database's clock", shared.sync)
        keeper.add_beat(shared.sync)
        clock = shared
    # Singleton work writes only while this process holds the lease (fencing), and the jobs
    # and deploys this process runs carry its heartbeat (work ownership).

    def fence() -> Lease | None:
        return keeper.lease

    ownership = SqlOwnership(engine, process_id, settings.lease_seconds)
    keeper.add_beat(ownership.beat)
    client = WebClient(
        token=settings.bot_token,
        base_url=settings.api_url,
        retry_handlers=retry_handlers(metrics),
        logger=logging.getLogger("opsloop.slack_api"),
    )
    notifier = SlackNotifier(client, redact, metrics)
    courier = _courier(settings, engine, redact, metrics, clock)
    outbox = Outbox(SqlOutboxStore(engine), clock, on_record=courier.wake)
    state_dir = settings.state_dir.resolve()
    # One connection to the engine, whose client images, deployments and the inventory share.
    docker = EngineConnection(config.docker.host or settings.docker_host, settings.environ)
    tracker = JiraTracker(config.jira) if config.jira else None
    directory = SlackDirectory(client, clock)
    base = Services(
        config=config,
        audit=SqlAuditLog(engine, process_id),
        notifier=notifier,
        clock=clock,
        directory=directory,
        access=Access(access_rules(config), directory.group_members),
        state_dir=state_dir,
        repository=lambda source: GitRepo(source, state_dir / "repos"),
        issues=tracker,
        outbox=outbox,
    )
    builds = _build_stages(base, engine, docker, outbox, process_id)
    rollouts = DockerDeployments(
        docker, clock, namespace=config.namespace, proxy_image=config.docker.proxy_image
    )
    operations = DockerOperations(docker, clock, rollouts, namespace=config.namespace)
    fleet = operate_fleet(config)
    follower = proxy_follower(docker, config.namespace, fleet)
    deploys = _deploy_desk(
        base, engine, outbox=outbox, rollouts=rollouts, fleet=fleet, operations=operations,
        owner=process_id, fence=fence,
    )  # fmt: skip
    deploys.orphans = ownership.orphaned_deploys
    background = Background.threaded(notifier)
    probe = HttpProbe()
    monitor = build_monitor(
        config=config, engine=engine, outbox=outbox, clock=clock,
        docker=docker, deploys=deploys.store, fence=fence,
    )  # fmt: skip
    ships = build_ship_desk(
        config=config, engine=engine, builds=builds, deploys=deploys,
        monitoring=monitor.monitoring, repository=base.repository, notifier=notifier,
        outbox=outbox, clock=clock, issues=tracker,
    )  # fmt: skip
    autoscale_store = SqlAutoscaleStore(engine)
    operate = OperateDesk(
        fleet=fleet,
        engine=operations,
        deploys=deploys,
        autoscale=autoscale_store,
        notifier=notifier,
        outbox=outbox,
        files=notifier,
        redact=redact,
    )
    autoscaler = Autoscaler(
        fleet=fleet,
        engine=operations,
        store=SqlAutoscaleStore(engine, fence),
        activity=SqlDeployStore(engine),
        outbox=outbox,
        clock=clock,
        interval=autoscale_seconds,
    )
    services = replace(
        base,
        builds=builds,
        deploys=deploys,
        operate=operate,
        tracker=tracker,
        digests=SqlDigestLedger(engine, clock),
        background=background,
        inventory=DockerInventory(docker, config.namespace),
        probe=probe,
        monitor=monitor.monitoring,
        keeper=keeper,
        ships=ships,
    )
    registry = Registry()
    commands.register_all(registry, services)
    workers = DrainingPool(WORKERS, "opsloop-work")
    router = Router(
        RouterDeps(
            registry=registry,
            catalog=Catalog(services=set(config.services), environments=set(config.environments)),
            audit=services.audit,
            events=SqlEventLedger(engine, clock),
            notifier=notifier,
            metrics=metrics,
            clock=clock,
            workers=workers,
            access=services.access,
            command_prefix=settings.command_prefix,
        )
    )
    bolt = build_bolt_app(router, client, settings.signing_secret, verify_token=verify_token)
    opsloop = Opsloop(
        settings=settings,
        config=config,
        registry=registry,
        services=services,
        router=router,
        bolt=bolt,
        metrics=metrics,
        engine=engine,
        workers=workers,
        redact=redact,
        routes=monitor.routes,
        keeper=keeper,
    )
    _start_work(
        opsloop, courier=courier, keeper=keeper, builds=builds, deploys=deploys, ships=ships,
        engine=engine, autoscaler=autoscaler, operations=operations, background=background,
        probe=probe, monitor=monitor, sqlite_claim=sqlite_claim, ownership=ownership,
        follower=follower,
    )  # fmt: skip
    return opsloop


def _start_work(
    opsloop: Opsloop,
    *,
    courier: OutboxCourier,
    keeper: LeaseKeeper,
    builds: BuildStages,
    deploys: DeployDesk,
    ships: ShipDesk,
    engine: Engine,
    autoscaler: Autoscaler,
    operations: DockerOperations,
    background: Background,
    probe: HttpProbe,
    monitor: MonitorParts,
    sqlite_claim: SqliteClaim | None,
    ownership: SqlOwnership,
    follower: Periodically,
) -> None:
    """Start the stages' own threads, each with its stop hook, in the order they must stop."""
    # Messages earlier runs left undelivered go out first.
    courier.start()
    # Singleton work runs under the lease, started in this order when it is taken (a lone
    # process takes it in keeper.start(), before it serves): jobs whose process is gone (a
    # restart, or another process that stopped answering) are marked failed, or succeeded
    # when the registry shows their push, every lease period; deploys likewise are settled
    # from the engine's state; pending approvals and locks expire on time even when no
    # event comes; the digest, Monitor's checks and the autoscaler run.
    recognise = pushed_release(builds.deps.registry)

    def settle_orphaned_jobs() -> None:
        if orphans := ownership.orphaned_jobs():
            builds.runner.recover(recognise, orphans)

    orphaned_jobs = Periodically("settle interrupted jobs", keeper.period, settle_orphaned_jobs)
    keeper.add(Singleton(orphaned_jobs.name, orphaned_jobs.start, orphaned_jobs.stop))
    # Pipelines stop at a safe point before the jobs and rollouts they wait on are stopped.
    opsloop.bounded_stops.append(ships.stop)
    # Commands a stop left pending (their answer was to follow) get the outcome
    # "interrupted", every lease period: those of a process whose heartbeat ran out (or that
    # stopped), whenever written, and those of no known process from before this start. A
    # live process's are its own to settle.
    audit, started = SqlAuditLog(engine, keeper.process_id), opsloop.services.clock.now()
    interrupted = Periodically(
        "settle interrupted commands",
        keeper.period,
        lambda: audit.settle_interrupted(started, keeper.ttl),
    )
    keeper.add(Singleton(interrupted.name, interrupted.start, interrupted.stop))
    opsloop.bounded_stops.append(builds.runner.stop)
    keeper.add(
        Singleton(
            "deploy sweeper",
            partial(deploys.start_background, DEPLOY_SWEEP_SECONDS),
            deploys.stop_sweeping,
        )
    )
    opsloop.bounded_stops.append(deploys.stop_background)
    # Pipelines run in the lease holder only (their watch counts its checks): those a
    # restart or a lost lease left running go on once jobs and deploys are being settled,
    # and those another process's /ship stored are taken up every lease period.
    adopting = Periodically("take up pipelines", keeper.period, ships.adopt)

    def resume_pipelines() -> None:
        ships.resume()
        adopting.start()

    def stop_pipelines() -> None:
        adopting.stop()
        ignore(ships.stop(5.0))

    keeper.add(Singleton("resume pipelines", resume_pipelines, stop_pipelines))
    opsloop.scheduler = digest_schedule(opsloop.services, engine)
    if opsloop.scheduler is not None:
        keeper.add(Singleton("sprint digest", opsloop.scheduler.start, opsloop.scheduler.stop))
    # Checks start from the states the store kept: a firing check is not announced again.
    keeper.add(Singleton("monitor checks", monitor.monitoring.start, monitor.monitoring.loop.stop))
    keeper.add(Singleton("autoscaler", autoscaler.start, autoscaler.stop))
    # Proxies follow the tasks Swarm replaces on its own (docker_engine/proxy_follower.py).
    keeper.add(Singleton(follower.name, follower.start, follower.stop))
    keeper.start()
    # The lease is given up only once the work in hand ended, so the next holder does not
    # settle deploys this process is still finishing; what was cut short is disowned, so
    # the next holder settles it at once instead of waiting out its heartbeat.
    opsloop.on_stop.append(keeper.stop)
    opsloop.on_stop.append(
        lambda: ignore(best_effort("disown the work cut short", ownership.disown))
    )
    # The autoscaler stops before the engine connections close.
    opsloop.on_stop.insert(0, autoscaler.stop)
    opsloop.on_stop.append(operations.close)
    opsloop.on_stop.append(background.stop)
    opsloop.on_stop.append(probe.close)
    opsloop.on_stop += monitor.closing
    if sqlite_claim is not None:
        opsloop.on_stop.append(sqlite_claim.release)
    # Last of the bounded stops: the stages above may still record announcements.
    opsloop.bounded_stops.append(courier.stop)


def _courier(
    settings: Settings, engine: Engine, redact: Redactor, metrics: Metrics, clock: Clock
) -> OutboxCourier:
    """The outbox's courier, on a Slack client of its own without retries: the courier
    waits out 429s and 5xx itself, per message, instead of in the middle of a call."""
    client = WebClient(
        token=settings.bot_token,
        base_url=settings.api_url,
        retry_handlers=[],
        logger=logging.getLogger("opsloop.slack_api"),
    )
    return OutboxCourier(SqlOutboxStore(engine), SlackNotifier(client, redact, metrics), clock)


def _build_stages(
    services: Services, engine: Engine, docker: EngineConnection, outbox: Outbox, owner: str
) -> BuildStages:
    """Build, test and release: jobs in the store (claimed by `owner`, this process), run on
    the engine by a runner of their own."""
    jobs = SqlJobStore(engine, owner)
    deps = StageDeps(
        engine=DockerImages(docker),
        registry=RegistryReleases(_registry_access(services.config)),
        outbox=outbox,
        clock=services.clock,
        work_dir=services.state_dir / "work",
        ops_channel=services.config.slack.ops_channel,
        team_channel=services.config.slack.team_channel,
    )
    runner = JobRunner(jobs, services.notifier, services.clock, services.state_dir / "jobs")
    return BuildStages(jobs, runner, deps)


def _deploy_desk(
    services: Services,
    engine: Engine,
    *,
    outbox: Outbox,
    rollouts: DockerDeployments,
    fleet: Fleet,
    operations: DockerOperations,
    owner: str,
    fence: CurrentLease,
) -> DeployDesk:
    """The Deploy stage: requests, approvals and locks in the store, rollouts on the engine;
    Operate's scale and restart requests ride on the same desk. Deploys it runs are claimed
    by `owner` (this process); locks expire only under the lease (`fence`)."""
    return build_desk(
        estate=deploy_estate(services.config),
        store=SqlDeployStore(engine, owner),
        locks=SqlLockStore(engine, fence),
        engine=rollouts,
        images=RegistryImages(_registry_access(services.config)),
        operations={
            DeployKind.SCALE: ScaleOperation(fleet, operations),
            DeployKind.RESTART: RestartOperation(fleet, operations),
        },
        notifier=services.notifier,
        outbox=outbox,
        directory=services.directory,
        clock=services.clock,
        repository=services.repository,
        issues=services.issues,
        releases=SqlJobStore(engine),
    )


def _registry_access(config: Config) -> RegistryAccess:
    """Registries over plain HTTP where opsloop.yml says so; credentials from the Docker
    config where the docker CLI keeps them."""
    return RegistryAccess(insecure=tuple(config.docker.insecure_registries))
