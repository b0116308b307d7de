"""opsloop.yml -> a typed, frozen :class:`Config`, or one :class:`ConfigError` naming every problem.

Use :func:`load_config` for a file and :func:`parse_config` for text. Each returns a
:class:`Config` (frozen pydantic models; unknown keys are errors) or raises :class:`ConfigError`,
whose ``problems`` list *all* problems found, each with its dotted key path and 1-based line::

    opsloop.yml:12: services.web.port: must be between 1 and 65535

``${VAR}`` in any string value is replaced from the ``environ`` mapping the caller passes (never
from ``os.environ``); ``$${VAR}`` stands for a literal ``${VAR}``. Secret values (the Jira token)
are held as :class:`pydantic.SecretStr`, never appear in a problem or a repr, and are listed by
:meth:`Config.secrets` so logs and Slack messages can redact them. The README (Configuration)
describes every key.
"""

from bot.config.loader import ConfigError, ConfigProblem, load_config, parse_config
from bot.config.models import (
    AccessConfig,
    AlertmanagerConfig,
    AutoscaleConfig,
    ChecksConfig,
    Config,
    DeploySettings,
    DigestConfig,
    DockerConfig,
    EnvironmentConfig,
    HealthCheck,
    JiraConfig,
    MonitorConfig,
    ServiceConfig,
    SlackConfig,
)

__all__ = [
    "AccessConfig",
    "AlertmanagerConfig",
    "AutoscaleConfig",
    "ChecksConfig",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "DeploySettings",
    "DigestConfig",
    "DockerConfig",
    "EnvironmentConfig",
    "HealthCheck",
    "JiraConfig",
    "MonitorConfig",
    "ServiceConfig",
    "SlackConfig",
    "load_config",
    "parse_config",
]
