"""The composition root: builds the store, the clients, the router and the stages, and wires
them together. The only place that knows every concrete class."""

from __future__ import annotations

import logging
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy import Engine, text

import commands
from bot.config import Config
from bot.core.clock import Clock, SystemClock
from bot.core.parsing import Catalog
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
from commands.services import Services
from integrations.git_repo import GitRepo

log = logging.getLogger(__name__)

WORKERS = 2
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

    def http_server(self, host: str = "127.0.0.1", port: int = 0) -> SlackHttpServer:
        """The HTTP edge for this bot (created once)."""
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
    return Opsloop(
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
