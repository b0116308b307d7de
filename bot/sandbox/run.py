"""`opsloop sandbox`: the bot with a local Slack workspace and its web console, SQLite and
the local Docker engine, for a newcomer with no Slack account."""

from __future__ import annotations

import logging
import secrets
import signal
import threading
from dataclasses import replace
from importlib import resources
from pathlib import Path

from bot.config import Config, ConfigError, load_config, parse_config
from bot.core.redact import Redactor
from bot.logs import configure_logging, log_format, log_level
from bot.sandbox.samples import SAMPLES, ensure_samples
from bot.settings import Settings

log = logging.getLogger("opsloop.sandbox")

SANDBOX_TOKEN_PREFIX = "xoxb-sandbox-"  # noqa: S105 - a prefix; the rest is random


def sandbox_config(settings: Settings) -> Config:
    """The user's opsloop.yml when there is one, else the sample that ships with opsloop."""
    if settings.config_path.exists():
        return load_config(settings.config_path, settings.environ)
    sample = resources.files("bot.sandbox").joinpath("opsloop.yml").read_text()
    return parse_config(sample, settings.environ, source="bot/sandbox/opsloop.yml")


def run_sandbox(settings: Settings, host: str = "127.0.0.1", port: int = 3000) -> int:
    """Start the workspace (console on host:port), the bot beside it, and serve until
    interrupted. Returns the exit status."""
    from bot.app import build
    from bot.workspace import SignedClient, SlackWorkspace
    from bot.workspace.console import mount_console

    try:
        config = sandbox_config(settings)
    except ConfigError as error:
        for problem in error.problems:
            log.error("%s", problem)
        return 1
    configure_logging(
        Redactor((*settings.secrets(), *config.secrets())),
        level=log_level(settings.log_level),
        style=log_format(settings.log_format),
    )
    made = ensure_samples()
    if made:
        log.info("created the sample repositories %s under %s", ", ".join(made), SAMPLES)
    token = SANDBOX_TOKEN_PREFIX + secrets.token_hex(8)
    workspace = SlackWorkspace(bot_token=token, host=host, port=port)
    workspace.start()
    local = replace(
        settings,
        bot_token=token,
        signing_secret=secrets.token_hex(16),
        api_url=workspace.api_url,
        database_url=_sandbox_database(settings),
    )
    bot = build(local, config)
    server = bot.start(host, 0)
    workspace.connect_bot(SignedClient(server.events_url, local.signing_secret, workspace))
    mount_console(workspace)
    print(f"opsloop sandbox: open {workspace.base_url} (the bot listens on {server.events_url})")
    print("Try /ops help as alice in #dev. Ctrl-C stops.", flush=True)
    _wait_for_stop()
    bot.stop()
    workspace.stop()
    return 0


def _sandbox_database(settings: Settings) -> str:
    if settings.environ.get("OPSLOOP_DATABASE_URL"):
        return settings.database_url
    return f"sqlite:///{Path('opsloop-sandbox.db').resolve()}"


def _wait_for_stop() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
