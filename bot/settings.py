"""The process environment, read once at start into one Settings object that is passed down.

Nothing else in opsloop reads os.environ.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_SHUTDOWN_SECONDS = 30.0
DEFAULT_LEASE_SECONDS = 15.0
MIN_LEASE_SECONDS = 1.0
MAX_SECONDS = 3600.0


class SettingsError(ValueError):
    """An environment variable opsloop cannot use; the message names it and says why."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Where Slack, the config and the store are, and the secrets to reach them.

    Secret fields are left out of repr so they cannot leak into a log line by accident.
    `environ` keeps the snapshot for ${VAR} expansion in opsloop.yml.
    """

    bot_token: str = field(default="", repr=False)
    signing_secret: str = field(default="", repr=False)
    app_token: str = field(default="", repr=False)
    api_url: str = DEFAULT_API_URL
    config_path: Path = Path("opsloop.yml")
    database_url: str = "sqlite:///opsloop.db"
    docker_host: str | None = None
    state_dir: Path = Path(".opsloop")
    shutdown_seconds: float = DEFAULT_SHUTDOWN_SECONDS
    """How long a stop (SIGTERM, SIGINT) lets work in hand reach a safe point."""
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    """The time to live of the lease singleton work runs under (renewed every third)."""
    log_level: str = "INFO"
    log_format: str = "text"
    command_prefix: str = ""
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_APP_TOKEN, SLACK_API_URL,
        OPSLOOP_CONFIG, OPSLOOP_DATABASE_URL, OPSLOOP_STATE_DIR (repository mirrors, build
        folders and logs), OPSLOOP_SHUTDOWN_SECONDS, OPSLOOP_LEASE_SECONDS (1 to 3600),
        OPSLOOP_LOG_LEVEL, OPSLOOP_LOG_FORMAT, OPSLOOP_COMMAND_PREFIX and DOCKER_HOST.
        SettingsError when a value cannot be used; the log settings are kept as written and
        checked by bot.logs."""
        env = dict(os.environ if environ is None else environ)
        return cls(
            bot_token=env.get("SLACK_BOT_TOKEN", ""),
            signing_secret=env.get("SLACK_SIGNING_SECRET", ""),
            app_token=env.get("SLACK_APP_TOKEN", ""),
            api_url=normalise_api_url(env.get("SLACK_API_URL") or DEFAULT_API_URL),
            config_path=Path(env.get("OPSLOOP_CONFIG") or "opsloop.yml"),
            database_url=env.get("OPSLOOP_DATABASE_URL") or "sqlite:///opsloop.db",
            docker_host=env.get("DOCKER_HOST") or None,
            state_dir=Path(env.get("OPSLOOP_STATE_DIR") or ".opsloop"),
            shutdown_seconds=_seconds(env, "OPSLOOP_SHUTDOWN_SECONDS", DEFAULT_SHUTDOWN_SECONDS),
            lease_seconds=_seconds(
                env, "OPSLOOP_LEASE_SECONDS", DEFAULT_LEASE_SECONDS, least=MIN_LEASE_SECONDS
            ),
            log_level=env.get("OPSLOOP_LOG_LEVEL") or "INFO",
            log_format=env.get("OPSLOOP_LOG_FORMAT") or "text",
            command_prefix=env.get("OPSLOOP_COMMAND_PREFIX", "").strip(),
            environ=env,
        )

    def secrets(self) -> tuple[str, ...]:
        """Every secret value these settings hold, for redaction."""
        return tuple(s for s in (self.bot_token, self.signing_secret, self.app_token) if s)


def _seconds(env: Mapping[str, str], name: str, default: float, least: float = 0.0) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not least <= value <= MAX_SECONDS:
        raise SettingsError(
            f"{name} must be a number of seconds from {least:g} to {MAX_SECONDS:.0f}, "
            f"not {raw[:40]!r}"
        )
    return value


def normalise_api_url(url: str) -> str:
    """The Web API base with exactly one trailing slash: slack_sdk joins method names with
    urljoin, which drops the last path segment of a base without one."""
    return url.rstrip("/") + "/"
