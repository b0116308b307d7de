"""The composition root: builds the store, the clients, the router and the stages, and wires
them together. The only place that knows every concrete class."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import Engine, text

import commands
from bot.config import Config
from bot.core.background import Background
from bot.core.clock import Clock, SystemClock
from bot.core.deploy_desk import DeployDesk, build_desk
from bot.core.job_runner import JobRunner
from bot.core.parsing import Catalog
from bot.core.pipelines import BuildStages, StageDeps
from bot.core.redact import Redactor
from bot.core.verbs import Registry
from bot.metrics import Metrics
from bot.router import Router, RouterDeps
from bot.settings import Settings
from bot.slack.bolt_app import build_bolt_app
from bot.slack.directory import SlackDirectory
from bot.slack.http_server import SlackHttpServer
from bot.slack.notifier import SlackNotifier, retry_handlers
from bot.store.audit import SqlAuditLog, SqlEventLedger
from bot.store.db import open_store
from bot.store.deploys import SqlDeployStore, SqlLockStore
from bot.store.jobs import SqlJobStore
from bot.store.schedules import SqlDigestLedger, SqlFireLedger
from commands.services import Services
from integrations.docker_engine.deployments import DockerDeployments, RegistryImages
from integrations.docker_engine.images import DockerImages, RegistryReleases
from integrations.docker_engine.inventory import DockerInventory
from integrations.git_repo import GitRepo
from integrations.http_probe import HttpProbe
from integrations.jira_tracker import JiraTracker
from integrations.scheduler import CronScheduler

log = logging.getLogger(__name__)

WORKERS = 2
DEPLOY_SWEEP_SECONDS = 1.0
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
    workers: ThreadPoolExecutor
    redact: Redactor
    server: SlackHttpServer | None = None
    on_stop: list[Callable[[], None]] = field(default_factory=list)
    scheduler: CronScheduler | None = None

    def http_server(self, host: str = "127.0.0.1", port: int = 0) -> SlackHttpServer:
        """The HTTP edge for this bot (created once); scheduled jobs start with it."""
        if self.scheduler is not None:
            self.scheduler.start()
        if self.server is None:
            self.server = SlackHttpServer(self.bolt, self.metrics, self.health, host, port)
        return self.server

    def start(self, host: str = "127.0.0.1", port: int = 0) -> SlackHttpServer:
        """Serve HTTP in a background thread; for the sandbox and tests."""
        server = self.http_server(host, port)
        server.start()
        return server

    def health(self) -> dict[str, Any]:
        """What GET /healthz answers: the bot is up and its store answers."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            store = "ok"
        except Exception as error:  # the health answer must not fail
            store = f"error: {type(error).__name__}"
        return {"ok": store == "ok", "store": store, "verbs": len(self.registry.verbs())}

    def stop(self) -> None:
        """Stop taking requests, finish the work in hand, close the store."""
        if self.server is not None:
            self.server.stop()
        for hook in self.on_stop:
            hook()
        self.workers.shutdown(wait=True, cancel_futures=False)
        self.engine.dispose()


def build(
    settings: Settings,
    config: Config,
    *,
    clock: Clock | None = None,
    verify_token: bool = True,
) -> Opsloop:
    """Wire a bot from settings and config. With verify_token, the Slack token is checked
    with auth.test now, so a bad token stops the start instead of the first command."""
    clock = clock or SystemClock()
    # Acks wait on the interpreter lock while workers run stage code; a shorter switch
    # interval (default 5 ms) lets the acknowledging thread in sooner.
    sys.setswitchinterval(SWITCH_INTERVAL)
    redact = Redactor((*settings.secrets(), *config.secrets()))
    metrics = Metrics()
    engine = open_store(settings.database_url)
    client = WebClient(
        token=settings.bot_token,
        base_url=settings.api_url,
        retry_handlers=retry_handlers(metrics),
        logger=logging.getLogger("opsloop.slack_api"),
    )
    notifier = SlackNotifier(client, redact, metrics)
    audit = SqlAuditLog(engine)
    registry = Registry()
    state_dir = settings.state_dir.resolve()
    services = Services(
        config=config,
        audit=audit,
        notifier=notifier,
        clock=clock,
        directory=SlackDirectory(client),
        state_dir=state_dir,
        repository=lambda source: GitRepo(source, state_dir / "repos"),
        builds=(
            builds := _build_stages(
                settings, config, engine=engine, notifier=notifier, clock=clock, state_dir=state_dir
            )
        ),
        **(plan_code := _plan_and_code(settings, config, engine, notifier, clock)),
        deploys=(
            deploys := _deploy_desk(
                settings, config, engine, notifier, clock, SlackDirectory(client), plan_code
            )
        ),
    )
    commands.register_all(registry, services)
    workers = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="opsloop-work")
    router = Router(
        RouterDeps(
            registry=registry,
            catalog=Catalog(services=set(config.services), environments=set(config.environments)),
            audit=audit,
            events=SqlEventLedger(engine, clock),
            notifier=notifier,
            metrics=metrics,
            clock=clock,
            workers=workers,
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
    )
    opsloop.on_stop.append(builds.runner.stop)
    opsloop.scheduler = _schedules(services, engine, clock, opsloop.on_stop)
    opsloop.on_stop.append(plan_code["background"].stop)
    # Startup hook: jobs a restart cut short are marked failed before new requests come in.
    builds.runner.recover()
    # Startup hook: deploys a restart cut short are settled from the engine's state, and
    # pending approvals expire on time even when no event comes.
    deploys.start_background(DEPLOY_SWEEP_SECONDS)
    opsloop.on_stop.append(deploys.stop_background)
    return opsloop


def _build_stages(
    settings: Settings,
    config: Config,
    *,
    engine: Engine,
    notifier: SlackNotifier,
    clock: Clock,
    state_dir: Path,
) -> BuildStages:
    jobs = SqlJobStore(engine)
    deps = StageDeps(
        engine=DockerImages(config.docker.host or settings.docker_host),
        registry=RegistryReleases(),
        notifier=notifier,
        clock=clock,
        work_dir=state_dir / "work",
        ops_channel=config.slack.ops_channel,
    )
    return BuildStages(jobs, JobRunner(jobs, notifier, clock, state_dir / "jobs"), deps)


def _plan_and_code(
    settings: Settings, config: Config, engine: Engine, notifier: SlackNotifier, clock: Clock
) -> dict[str, Any]:
    """The Plan and Code stages' ports: Jira (also resolving keys in release notes), the
    engine's inventory, health probes, and threads of their own for slow answers."""
    tracker = JiraTracker(config.jira) if config.jira else None
    return {
        "tracker": tracker,
        "issues": tracker,
        "digests": SqlDigestLedger(engine, clock),
        "background": Background.threaded(notifier),
        "inventory": DockerInventory(config.docker.host or settings.docker_host),
        "probe": HttpProbe(),
    }


def _schedules(
    services: Services, engine: Engine, clock: Clock, on_stop: list[Callable[[], None]]
) -> CronScheduler | None:
    """The sprint digest on its cron schedule, when jira.digest is configured."""
    jira = services.config.jira
    if jira is None or jira.digest is None:
        return None
    scheduler = CronScheduler(SqlFireLedger(engine, clock), clock)
    scheduler.add(
        commands.plan.DIGEST_JOB,
        jira.digest.cron,
        jira.digest.timezone,
        lambda fire_time: commands.plan.post_digest(services, fire_time),
    )
    on_stop.append(scheduler.stop)
    return scheduler


def _deploy_desk(  # noqa: PLR0917 (the composition root's helpers take what build has)
    settings: Settings,
    config: Config,
    engine: Engine,
    notifier: SlackNotifier,
    clock: Clock,
    directory: SlackDirectory,
    plan_code: dict[str, Any],
) -> DeployDesk:
    """The Deploy stage: requests, approvals and locks in the store, rollouts on the engine."""
    state_dir = settings.state_dir.resolve()
    return build_desk(
        config=config,
        store=SqlDeployStore(engine),
        locks=SqlLockStore(engine),
        engine=DockerDeployments(config.docker.host or settings.docker_host, clock),
        images=RegistryImages(),
        notifier=notifier,
        directory=directory,
        clock=clock,
        repository=lambda source: GitRepo(source, state_dir / "repos"),
        issues=plan_code["issues"],
    )
