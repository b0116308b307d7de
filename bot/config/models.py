"""The typed shape of opsloop.yml: frozen pydantic models that forbid unknown keys.

Constructing a model directly validates it as :func:`bot.config.parse_config` does, except that
``${VAR}`` expansion and ``jira.token_env`` resolution happen only when loading a file.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    model_validator,
)

from bot.config._checks import (
    DEFAULT_INSECURE_REGISTRIES,
    ChannelId,
    Crontab,
    DockerHost,
    Duration,
    EnvVarName,
    HttpUrl,
    ImageRepository,
    InsecureRegistry,
    JiraProjectKey,
    KeyPath,
    LabelName,
    Name,
    Namespace,
    NonEmpty,
    Port,
    PublishAddress,
    RegistryHost,
    SlackSubject,
    TimeZone,
    UrlPath,
    VerbName,
    check_test_command,
    fail,
    fail_many,
)
from bot.core.naming import default_namespace, legacy_deployment_name

# hide_input_in_errors: a rejected value may be a secret, so pydantic's own texts never show it.
_MODEL = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)


class SlackConfig(BaseModel):
    """Where the bot talks: every run goes to ``ops_channel``; summaries to ``team_channel``."""

    model_config = _MODEL
    ops_channel: ChannelId
    team_channel: ChannelId | None = None


class AutoscaleConfig(BaseModel):
    """Replicas follow CPU (and optionally memory) use, between ``min`` and ``max``."""

    model_config = _MODEL
    min: int = Field(ge=1)
    max: int = Field(ge=1)
    cpu: int = Field(ge=1, le=100)
    memory: int | None = Field(default=None, ge=1, le=100)
    window: int = Field(default=300, ge=1)

    @model_validator(mode="after")
    def _min_below_max(self) -> Self:
        if self.min > self.max:
            raise fail(f"is {self.min}, more than max ({self.max})", "min")
        return self


class DeploySettings(BaseModel):
    """How one service is deployed to one environment."""

    model_config = _MODEL
    target: Literal["container", "swarm"]
    publish: PublishAddress | None = None
    """`18080` (every address) or `127.0.0.1:18080`; read it as publish_port, publish_host."""
    publish_mode: Literal["proxy", "host", "ingress"] = "proxy"
    """How the port is published (README, Design: zero-downtime deploys); `ingress` is
    Swarm's only."""
    replicas: int = Field(default=1, ge=1)
    max_replicas: int = Field(default=10, ge=1)
    autoscale: AutoscaleConfig | None = None

    @model_validator(mode="after")
    def _container_is_single(self) -> Self:
        if self.target == "container" and self.replicas != 1:
            raise fail("must be 1 for target container (use target swarm to scale)", "replicas")
        if self.target == "container" and self.autoscale is not None:
            raise fail("needs target swarm (a container runs one copy)", "autoscale")
        return self

    @model_validator(mode="after")
    def _within_max_replicas(self) -> Self:
        if self.replicas > self.max_replicas:
            raise fail(f"is more than max_replicas ({self.max_replicas})", "replicas")
        if self.autoscale is not None and self.autoscale.max > self.max_replicas:
            raise fail(f"is more than max_replicas ({self.max_replicas})", "autoscale", "max")
        return self

    @model_validator(mode="after")
    def _swarm_publishes_on_every_address(self) -> Self:
        if self.target == "swarm" and self.publish_mode != "proxy" and self.publish_host:
            raise fail(
                f"publish_mode {self.publish_mode} publishes on every address of the node; "
                f"give only the port ({self.publish_port}), or use publish_mode proxy (the "
                "default) to bind one address",
                "publish",
            )
        if self.target == "container" and self.publish_mode == "ingress":
            raise fail("ingress is Swarm's routing mesh: a container takes proxy (the "
                       "default) or host", "publish_mode")  # fmt: skip
        return self

    @property
    def publish_port(self) -> int | None:
        """The host port, when the service is published."""
        return int(self.publish.rpartition(":")[2]) if self.publish else None

    @property
    def publish_host(self) -> str | None:
        """The host address the port is bound to; None for every address."""
        if not self.publish or ":" not in self.publish:
            return None
        return self.publish.rpartition(":")[0].strip("[]")


class ChecksConfig(BaseModel):
    """How the Monitor stage checks a service's deployments."""

    model_config = _MODEL
    interval: Duration = 15.0
    timeout: Duration = 2.0
    fail_after: int = Field(default=3, ge=1)
    resolve_after: int = Field(default=2, ge=1)
    cpu: float | None = Field(default=None, gt=0, le=1000)
    memory: float | None = Field(default=None, gt=0, le=100)
    enabled: bool = True

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> Self:
        if self.timeout > self.interval:
            raise fail("must not be longer than interval", "timeout")
        return self


class HealthCheck(BaseModel):
    """How a deployment's health is probed: an HTTP path answering 2xx, and optional
    timings in seconds (as Docker's healthcheck): failures within ``start_period`` do not
    count, then ``retries`` failed probes, one every ``interval``, each allowed ``timeout``,
    make it unhealthy. Written as just the path when the timings are the defaults."""

    model_config = _MODEL
    path: UrlPath = "/"
    start_period: float | None = Field(default=None, ge=0, le=3600)
    interval: float | None = Field(default=None, gt=0, le=3600)
    timeout: float | None = Field(default=None, gt=0, le=3600)
    retries: int | None = Field(default=None, ge=1, le=100)


def _path_or_mapping(value: object) -> object:
    return {"path": value} if isinstance(value, str) else value


class ServiceConfig(BaseModel):
    """One service: where its code is, how its image is built and tested, where it runs."""

    model_config = _MODEL
    repo: NonEmpty
    dockerfile: NonEmpty = "Dockerfile"
    image: ImageRepository
    test: Annotated[tuple[str, ...], BeforeValidator(check_test_command)] = ()
    test_timeout: int = Field(default=600, ge=1)
    test_report: NonEmpty | None = None
    port: Port | None = None
    health: Annotated[HealthCheck, BeforeValidator(_path_or_mapping)] = HealthCheck()
    deploy: Mapping[Name, DeploySettings] = Field(default_factory=dict)
    checks: ChecksConfig = Field(default_factory=ChecksConfig)
    pipeline: tuple[Name, ...] | None = None
    """The environments /ship deploys to, in order; None: every environment under `deploy`,
    in the order of `environments`."""
    watch: Duration | None = Field(default=None, gt=0)
    """How long /ship watches each deploy before promoting it; None: the environment's
    `pipeline_watch`."""
    watch_min_samples: int = Field(default=3, ge=1)
    """Passed checks a /ship watch must see before it may pass (no data is not success)."""

    @model_validator(mode="after")
    def _pipeline_deploys_everywhere(self) -> Self:
        for env in self.pipeline or ():
            if env not in self.deploy:
                raise fail(f"'{env}' has no deploy settings under deploy", "pipeline")
        if self.pipeline is not None and len(set(self.pipeline)) != len(self.pipeline):
            raise fail("names an environment twice", "pipeline")
        return self


class EnvironmentConfig(BaseModel):
    """A place services deploy to, and who must approve deploys there."""

    model_config = _MODEL
    approvals: int = Field(default=0, ge=0)
    approvers: tuple[SlackSubject, ...] = ()
    protected: bool = False
    approval_timeout_minutes: int = Field(default=30, ge=1)
    approval_channel: ChannelId | None = None
    """Where approval requests are posted; None means slack.ops_channel."""
    pipeline_watch: Duration = Field(default=120.0, gt=0)
    """How long /ship watches a deploy here, unless the service sets `watch`."""

    @model_validator(mode="after")
    def _someone_can_approve(self) -> Self:
        if self.approvals > 0 and not self.approvers:
            raise fail("approvals is more than 0, so list at least one approver", "approvers")
        return self


class DigestConfig(BaseModel):
    """A Jira digest posted to Slack on a crontab schedule."""

    model_config = _MODEL
    cron: Crontab
    timezone: TimeZone = "UTC"
    channel: ChannelId | None = None


class JiraConfig(BaseModel):
    """The Jira site, board and project the bot plans with.

    The loader resolves ``token_env`` into ``token``; a model built directly keeps ``token``
    as given.
    """

    model_config = _MODEL
    url: HttpUrl
    user: NonEmpty | None = None
    token: SecretStr | None = None
    token_env: EnvVarName | None = None
    board: int = Field(ge=1)
    project: JiraProjectKey
    digest: DigestConfig | None = None

    @model_validator(mode="after")
    def _user_has_token(self) -> Self:
        if self.user is not None and self.token is None and self.token_env is None:
            raise fail("user is set, so give token or token_env too", "token")
        return self


class DockerConfig(BaseModel):
    """Which Docker engine and registry to use; None means the engine's own default.
    `insecure_registries` (host[:port] or address ranges) are spoken to over plain HTTP,
    every other registry over verified HTTPS; the default is the Docker engine's own,
    loopback only."""

    model_config = _MODEL
    host: DockerHost | None = None
    registry: RegistryHost | None = None
    insecure_registries: tuple[InsecureRegistry, ...] = DEFAULT_INSECURE_REGISTRIES
    namespace: Namespace | None = None
    """This installation's name on the engine; the loader fills in a default derived from
    the config file's location (bot.core.naming.default_namespace)."""
    proxy_image: str | None = Field(default=None, min_length=1, pattern=r"^[^\s]+$")
    """The Caddy image run as published Swarm services' reverse proxy (e.g. `caddy:2.6`);
    None: built on the engine from this machine's caddy binary."""


class AlertmanagerConfig(BaseModel):
    """Alertmanager: its webhook into the bot, and (with ``url``) silences created there.

    The loader resolves ``token_env`` into ``token``; the receiver needs a token.
    """

    model_config = _MODEL
    url: HttpUrl | None = None
    token: SecretStr | None = None
    token_env: EnvVarName | None = None
    service_label: LabelName = "service"
    environment_label: LabelName = "environment"

    @model_validator(mode="after")
    def _has_token(self) -> Self:
        if self.token is None and self.token_env is None:
            raise fail("give token_env (or token): the webhook receiver needs a bearer token",
                       "token_env")  # fmt: skip
        return self


class MonitorConfig(BaseModel):
    """Where alerts go, how long a deploy counts as the cause, and Alertmanager."""

    model_config = _MODEL
    channel: ChannelId | None = None
    deploy_window: Duration = 1800.0
    alertmanager: AlertmanagerConfig | None = None


def undefined_environments(
    deploys: Iterable[tuple[str, Iterable[str]]], environments: Iterable[str]
) -> Iterator[tuple[KeyPath, str]]:
    """(key path, message) for each services.<name>.deploy.<env> naming no environment."""
    defined = sorted(environments)
    for service, envs in deploys:
        for env in envs:
            if env in defined:
                continue
            close = difflib.get_close_matches(env, defined, n=1)
            if close:
                hint = f"did you mean '{close[0]}'?"
            else:
                hint = f"defined: {', '.join(defined)}" if defined else "none are defined"
            message = f"environment '{env}' is not defined under environments ({hint})"
            yield ("services", service, "deploy", env), message


class AccessConfig(BaseModel):
    """Who may run which verbs. A verb with no entry is open to everyone in the workspace."""

    model_config = _MODEL
    roles: Mapping[Name, tuple[SlackSubject, ...]] = Field(default_factory=dict)
    verbs: Mapping[VerbName, tuple[Name, ...]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _verbs_name_roles(self) -> Self:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for verb, roles in self.verbs.items():
            if not roles:
                problems.append((("verbs", verb), "list at least one role (or leave the verb out)"))
            for index, role in enumerate(roles):
                if role not in self.roles:
                    known = ", ".join(self.roles) or "none defined"
                    message = f"role '{role}' is not defined under access.roles ({known})"
                    problems.append((("verbs", verb, index), message))
        if problems:
            raise fail_many(problems)
        return self


class Config(BaseModel):
    """The whole opsloop.yml.

    Look services and environments up with :meth:`service` and :meth:`environment`; redact
    :meth:`secrets` from anything shown to people.
    """

    model_config = _MODEL
    slack: SlackConfig
    services: Mapping[Name, ServiceConfig] = Field(default_factory=dict)
    environments: Mapping[Name, EnvironmentConfig] = Field(default_factory=dict)
    jira: JiraConfig | None = None
    docker: DockerConfig = Field(default_factory=DockerConfig)
    access: AccessConfig = Field(default_factory=AccessConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)

    @model_validator(mode="after")
    def _deploys_name_environments(self) -> Self:
        deploys = ((name, service.deploy) for name, service in self.services.items())
        if problems := list(undefined_environments(deploys, self.environments)):
            raise fail_many(problems)
        return self

    @model_validator(mode="after")
    def _deployments_have_distinct_names(self) -> Self:
        # opsloop-<namespace>-<service>-<env> names the container or Swarm service: `api` in
        # `eu-prod` and `api-eu` in `prod` would both end in -api-eu-prod and replace each other.
        seen: dict[str, tuple[str, str]] = {}
        problems = []
        for service, settings in self.services.items():
            for env in settings.deploy:
                name = legacy_deployment_name(service, env)
                other = seen.setdefault(name, (service, env))
                if other != (service, env):
                    message = (
                        f"deploys to the same container as {other[0]} in {other[1]} ({name}); "
                        "rename the service or the environment"
                    )
                    problems.append((("services", service, "deploy", env), message))
        if problems:
            raise fail_many(problems)
        return self

    @model_validator(mode="before")
    @classmethod
    def _namespace_by_default(cls, data: Any, info: ValidationInfo) -> Any:
        # docker.namespace, when not set, comes from where the file is: the loader passes its
        # path; a Config built without one counts as ./opsloop.yml.
        if not isinstance(data, Mapping):
            return data
        where = (info.context or {}).get("config_path") or Path("opsloop.yml")
        derived = default_namespace(Path(where).resolve())
        docker = data.get("docker")
        if docker is None:
            docker = {"namespace": derived}
        elif isinstance(docker, DockerConfig) and docker.namespace is None:
            docker = docker.model_copy(update={"namespace": derived})
        elif isinstance(docker, Mapping) and docker.get("namespace") is None:
            docker = {**docker, "namespace": derived}
        return {**data, "docker": docker}

    @property
    def namespace(self) -> str:
        """This installation's namespace on the Docker engine (docker.namespace, or the
        default derived from the config file's location)."""
        return self.docker.namespace or default_namespace(Path("opsloop.yml").resolve())

    def service(self, name: str) -> ServiceConfig | None:
        """The service called ``name``, or None when opsloop.yml defines none by that name."""
        return self.services.get(name)

    def environment(self, name: str) -> EnvironmentConfig | None:
        """The environment called ``name``, or None when opsloop.yml defines none by that name."""
        return self.environments.get(name)

    def secrets(self) -> tuple[str, ...]:
        """Every non-empty secret value in the config, for redaction: the Jira and Alertmanager
        tokens, and
        credentials written into a repository URL (https://user:token@host/...)."""
        found: list[str] = []
        token = self.jira.token if self.jira else None
        if token and token.get_secret_value():
            found.append(token.get_secret_value())
        alertmanager = self.monitor.alertmanager
        if alertmanager and alertmanager.token and alertmanager.token.get_secret_value():
            found.append(alertmanager.token.get_secret_value())
        for service in self.services.values():
            parts = urlsplit(service.repo)
            found += [part for part in (parts.password, parts.username) if part]
        return tuple(found)
