"""`opsloop sandbox`: the bot with a local Slack workspace and its web console, SQLite and
the local Docker engine, for a newcomer with no Slack account. `opsloop sandbox --reset`
clears what the sandbox made, so the README's walk can be taken again from the start."""

from __future__ import annotations

import logging
import secrets
import shutil
import signal
import threading
from dataclasses import replace
from importlib import resources

from bot.config import Config, ConfigError, load_config, parse_config
from bot.core.redact import Redactor
from bot.logs import configure_logging, log_format, log_level
from bot.sandbox.home import HOME, ensure_namespace, images, in_namespace, read_namespace
from bot.sandbox.samples import SAMPLES, ensure_samples
from bot.settings import Settings

log = logging.getLogger("opsloop.sandbox")

SANDBOX_TOKEN_PREFIX = "xoxb-sandbox-"  # noqa: S105 - a prefix; the rest is random
DATABASE = HOME / "opsloop.db"
STATE = HOME / "state"


def sandbox_config(settings: Settings, namespace: str | None = None) -> Config:
    """The user's opsloop.yml when there is one, else the sample that ships with opsloop,
    its images under ``namespace`` (this sandbox state's own) when given."""
    if settings.config_path.exists():
        return load_config(settings.config_path, settings.environ)
    sample = resources.files("bot.sandbox").joinpath("opsloop.yml").read_text()
    config = parse_config(sample, settings.environ, source="bot/sandbox/opsloop.yml")
    return in_namespace(config, namespace) if namespace else config


def run_sandbox(settings: Settings, host: str = "127.0.0.1", port: int = 3000) -> int:
    """Start the workspace (console on host:port), the bot beside it, and serve until
    interrupted. Returns the exit status."""
    from bot.app import build
    from bot.workspace import SignedClient, SlackWorkspace
    from bot.workspace.console import mount_console

    try:
        config = sandbox_config(settings, ensure_namespace())
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
        state_dir=settings.state_dir if settings.environ.get("OPSLOOP_STATE_DIR") else STATE,
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


def reset_sandbox(settings: Settings) -> int:
    """Remove what this sandbox state made: the containers and Swarm services running its
    images, its image tags on the engine and in the registry, and its files (the store,
    the sample repositories, build folders and logs). Nothing another opsloop made is
    touched. Prints each removal; returns the exit status."""
    from integrations.sandbox_reset import remove_from_engine, remove_from_registry

    namespace = read_namespace()
    said: list[str] = []
    if namespace is None:
        said.append(f"no sandbox state under {HOME}: nothing on the engine or in the registry")
    elif settings.config_path.exists():
        said.append(f"{settings.config_path} is yours: its images and deployments are kept")
    else:
        try:
            config = sandbox_config(settings, namespace)
        except ConfigError as error:
            for problem in error.problems:
                log.error("%s", problem)
            return 1
        repositories = images(config)
        docker_host = config.docker.host or settings.environ.get("DOCKER_HOST")
        said += remove_from_engine(repositories, docker_host, namespace)
        said += remove_from_registry(repositories)
    database = _sandbox_database(settings)
    if not settings.environ.get("OPSLOOP_DATABASE_URL") and DATABASE.exists():
        said.append(f"files: removed the store {database.removeprefix('sqlite:///')}")
    if HOME.exists():
        shutil.rmtree(HOME)
        said.append(f"files: removed {HOME} (sample repositories, builds, logs, namespace)")
    for line in said:
        print(f"opsloop sandbox --reset: {line}")
    print("Start it again with `opsloop sandbox`: a fresh state, a fresh namespace.", flush=True)
    return 0


def _sandbox_database(settings: Settings) -> str:
    if settings.environ.get("OPSLOOP_DATABASE_URL"):
        return settings.database_url
    return f"sqlite:///{DATABASE.resolve()}"


def _wait_for_stop() -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()


__all__ = ["reset_sandbox", "run_sandbox", "sandbox_config"]
