"""`opsloop serve | run | sandbox | check-config | manifest`."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from bot.config import Config, ConfigError, ConfigProblem, load_config
from bot.core.redact import Redactor
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError

log = logging.getLogger("opsloop")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one opsloop command and return its exit status."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_environ()
    except SettingsError as error:
        print(f"opsloop: {error}", file=sys.stderr)
        return 2
    configure_logging(Redactor(settings.secrets()))
    command: str = args.command
    if command == "manifest":
        return _manifest(args.url)
    if command == "check-config":
        return _check_config(Path(args.path) if args.path else settings.config_path, settings)
    if command == "sandbox":
        from bot.sandbox.run import run_sandbox

        return run_sandbox(settings, host=args.host, port=args.port)
    return _serve(settings, command, args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="opsloop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="take Slack's HTTP requests on /slack/events")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    sub.add_parser("run", help="connect to Slack in Socket Mode (SLACK_APP_TOKEN)")
    sandbox = sub.add_parser("sandbox", help="the bot with a local Slack workspace and console")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=3000, help="the web console's port")
    check = sub.add_parser("check-config", help="validate opsloop.yml and list every problem")
    check.add_argument("path", nargs="?", help="default: $OPSLOOP_CONFIG or ./opsloop.yml")
    manifest = sub.add_parser("manifest", help="print the Slack app manifest")
    manifest.add_argument("--url", default=None, help="the public /slack/events URL")
    return parser


def _manifest(url: str | None) -> int:
    from bot.slack.manifest import DEFAULT_REQUEST_URL, manifest_yaml
    from commands import declared_registry

    sys.stdout.write(manifest_yaml(declared_registry(), url or DEFAULT_REQUEST_URL))
    return 0


def _check_config(path: Path, settings: Settings) -> int:
    try:
        config = _loaded(path, settings)
    except ConfigError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print(f"{len(error.problems)} problem(s) in {path}", file=sys.stderr)
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


def _serve(settings: Settings, command: str, args: argparse.Namespace) -> int:
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
    config = _load(settings)
    if config is None:
        return 1
    # Now that the config's own secrets are known, the log redacts them too.
    configure_logging(Redactor((*settings.secrets(), *config.secrets())))
    stopping = _stop_on_signals()
    from bot.app import build

    bot = build(settings, config)
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
