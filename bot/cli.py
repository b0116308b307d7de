"""`opsloop serve | run | sandbox | check-config | manifest`."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from bot.config import Config, ConfigError, ConfigProblem, load_config
from bot.core.redact import Redactor
from bot.logs import LogSettingError, configure_logging, log_format, log_level
from bot.settings import Settings, SettingsError
from bot.version import opsloop_version

log = logging.getLogger("opsloop")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one opsloop command and return its exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_environ()
    except SettingsError as error:
        print(f"opsloop: {error}", file=sys.stderr)
        return 2
    config_path = getattr(args, "config", None)
    if config_path:
        settings = replace(settings, config_path=Path(config_path))
    try:
        level, style = log_level(settings.log_level), log_format(settings.log_format)
    except LogSettingError as error:
        print(f"opsloop: {error}", file=sys.stderr)
        return 2
    logging_for = partial(configure_logging, level=level, style=style)
    logging_for(Redactor(settings.secrets()))
    command: str = args.command
    if command == "manifest":
        url, prefix = getattr(args, "url", None), getattr(args, "prefix", settings.command_prefix)
        return _manifest(url, socket_mode=args.socket_mode, prefix=prefix)
    if command == "check-config":
        path = getattr(args, "path", None)
        return _check_config(Path(path) if path else settings.config_path, settings)
    if command == "sandbox":
        from bot.sandbox.run import reset_sandbox, run_sandbox

        if args.reset:
            return reset_sandbox(settings)
        return run_sandbox(settings, host=args.host, port=args.port)
    return _serve(settings, command, args, logging_for)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opsloop",
        description="A Slack bot that runs the whole DevOps loop from slash commands.",
        epilog="Environment: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, "
        "OPSLOOP_CONFIG, OPSLOOP_DATABASE_URL, OPSLOOP_STATE_DIR, OPSLOOP_LOG_LEVEL "
        "(DEBUG..CRITICAL, default INFO), OPSLOOP_LOG_FORMAT (text or json), "
        "OPSLOOP_COMMAND_PREFIX, DOCKER_HOST. See the README.",
    )
    parser.add_argument("--version", action="version", version=f"opsloop {opsloop_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = _command(sub, "serve", "take Slack's HTTP requests on /slack/events")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve.add_argument("--port", type=int, default=3000, help="the port to listen on")
    _config_option(serve)
    run = _command(sub, "run", "connect to Slack in Socket Mode (needs SLACK_APP_TOKEN)")
    _config_option(run)
    sandbox = _command(sub, "sandbox", "the bot with a local Slack workspace and its console")
    sandbox.add_argument("--host", default="127.0.0.1", help="the console's address")
    sandbox.add_argument("--port", type=int, default=3000, help="the web console's port")
    sandbox.add_argument(
        "--reset",
        action="store_true",
        help="remove what the sandbox made (its containers, services, image tags, store and "
        "files) and exit, so the next start is a clean one",
    )
    check = _command(sub, "check-config", "validate opsloop.yml and list every problem")
    check.add_argument(
        "path",
        nargs="?",
        default=argparse.SUPPRESS,
        help="the file to check (default: $OPSLOOP_CONFIG or ./opsloop.yml)",
    )
    manifest = _command(sub, "manifest", "print the Slack app manifest (YAML)")
    manifest.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help="the public /slack/events URL (default: a placeholder)",
    )
    manifest.add_argument(
        "--socket-mode",
        action="store_true",
        help="for `opsloop run`: Socket Mode on, no request URLs",
    )
    manifest.add_argument(
        "--prefix",
        default=argparse.SUPPRESS,
        help="put this before every command name (ops- gives /ops-deploy); the bot answers "
        "them when OPSLOOP_COMMAND_PREFIX holds the same (default: $OPSLOOP_COMMAND_PREFIX)",
    )
    return parser


def _command(sub: Any, name: str, summary: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    return parser


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help="the config file (default: $OPSLOOP_CONFIG or ./opsloop.yml)",
    )


def _manifest(url: str | None, *, socket_mode: bool, prefix: str) -> int:
    from bot.slack.manifest import DEFAULT_REQUEST_URL, check_prefix, manifest_yaml
    from commands import declared_registry

    registry = declared_registry()
    try:
        check_prefix(prefix, registry)
    except ValueError as error:
        print(f"opsloop manifest: {error}", file=sys.stderr)
        return 2
    text = manifest_yaml(
        registry, url or DEFAULT_REQUEST_URL, socket_mode=socket_mode, prefix=prefix
    )
    sys.stdout.write(text)
    return 0


def _check_config(path: Path, settings: Settings) -> int:
    try:
        config = _loaded(path, settings)
    except ConfigError as error:
        count = len(error.problems)
        print(f"{path} has {count} problem{'s' if count != 1 else ''}:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"{path}: ok ({len(config.services)} services, {len(config.environments)} environments)")
    return 0


def _loaded(path: Path, settings: Settings) -> Config:
    """The config, with the problems only the declared verbs can tell (access.verbs)."""
    from commands import unknown_verbs

    config = load_config(path, settings.environ)
    if unknown := unknown_verbs(config.access.verbs):
        problems = [
            ConfigProblem(f"access.verbs.{name}", None, "no such verb (`/ops help` lists them)",
                          source=str(path))
            for name in unknown
        ]  # fmt: skip
        raise ConfigError(problems, path)
    return config


def _load(settings: Settings) -> Config | None:
    try:
        return _loaded(settings.config_path, settings)
    except ConfigError as error:
        for problem in error.problems:
            log.error("%s", problem)
        log.error("opsloop will not start with %d config problem(s)", len(error.problems))
        return None


def _serve(
    settings: Settings,
    command: str,
    args: argparse.Namespace,
    logging_for: Callable[[Redactor], None],
) -> int:
    missing = [
        name
        for name, value in (
            ("SLACK_BOT_TOKEN", settings.bot_token),
            ("SLACK_SIGNING_SECRET", settings.signing_secret if command == "serve" else "x"),
            ("SLACK_APP_TOKEN", settings.app_token if command == "run" else "x"),
        )
        if not value
    ]
    if missing:
        log.error("set %s to start (see the README)", ", ".join(missing))
        return 2
    if settings.command_prefix:
        from bot.slack.manifest import check_prefix
        from commands import declared_registry

        try:
            check_prefix(settings.command_prefix, declared_registry())
        except ValueError as error:
            log.error("OPSLOOP_COMMAND_PREFIX: %s", error)
            return 2
    config = _load(settings)
    if config is None:
        return 1
    # Now that the config's own secrets are known, the log redacts them too.
    logging_for(Redactor((*settings.secrets(), *config.secrets())))
    stopping = _stop_on_signals()
    from bot.app import build
    from bot.store.single_process import StoreInUse

    try:
        bot = build(settings, config)
    except StoreInUse as error:
        log.error("opsloop will not start: %s", error)
        return 1
    try:
        if command == "run":
            from bot.slack.socket_mode import serve_socket_mode

            serve_socket_mode(bot.bolt, settings.app_token, stopping)
        elif not stopping.is_set():
            server = bot.start(args.host, args.port)
            log.info("opsloop listening on %s/slack/events", server.url)
            stopping.wait()
    finally:
        log.info(
            "stopping: taking no new work, giving work in hand up to %g s",
            settings.shutdown_seconds,
        )
        cut_short = bot.stop()
    if cut_short:
        log.warning("stopped; cut short, for the next start to settle: %s", ", ".join(cut_short))
    else:
        log.info("opsloop stopped")
    _exit_past_lingering_threads()
    return 0


def _stop_on_signals() -> threading.Event:
    """An event SIGTERM and SIGINT set (instead of ending the process at once), so that a
    stop (systemctl stop, docker stop, Ctrl-C) lets work in hand reach a safe point."""
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    return stopping


def _exit_past_lingering_threads() -> None:
    """End the process now when work cut short still holds threads: the interpreter would
    otherwise wait for them at exit, and the stop would no longer be bounded."""
    main = threading.main_thread()
    if any(t.is_alive() and not t.daemon and t is not main for t in threading.enumerate()):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    raise SystemExit(main())
