"""opsloop.yml loading: the sample and the documented example load, and every kind of problem is
reported with its key path and line, all at once, without leaking secrets."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from bot.config import (
    AccessConfig,
    AlertmanagerConfig,
    AutoscaleConfig,
    ChecksConfig,
    Config,
    ConfigError,
    ConfigProblem,
    DeploySettings,
    DigestConfig,
    DockerConfig,
    EnvironmentConfig,
    HealthCheck,
    JiraConfig,
    MonitorConfig,
    ServiceConfig,
    SlackConfig,
    load_config,
    parse_config,
)
from bot.core.naming import default_namespace

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "bot" / "sandbox" / "opsloop.yml"
DOCS = ROOT / "README.md"
TOKEN = "tok-5up3r-s3cr3t-value"
AM_TOKEN = "am-t0ken-s3cr3t"

MINIMAL = "slack:\n  ops_channel: C0OPS\n"


def yml(text: str) -> str:
    """Dedent a YAML snippet written so that its first line is line 1."""
    return textwrap.dedent(text).lstrip("\n")


def problems_of(text: str, environ: dict[str, str] | None = None) -> tuple[ConfigProblem, ...]:
    with pytest.raises(ConfigError) as caught:
        parse_config(yml(text), environ or {})
    return caught.value.problems


def only_problem(text: str, environ: dict[str, str] | None = None) -> ConfigProblem:
    found = problems_of(text, environ)
    assert len(found) == 1, found
    return found[0]


def docs_example() -> str:
    section = DOCS.read_text(encoding="utf-8").split("### Complete example", 1)[1]
    match = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert match, "README.md has no yaml block under 'Complete example'"
    return match.group(1)


# --- what loads -------------------------------------------------------------------------------


def test_sandbox_sample_loads_with_the_promised_shape() -> None:
    config = load_config(SAMPLE, {})

    assert config.slack == SlackConfig(ops_channel="C0OPS", team_channel="C0TEAM")
    assert set(config.services) == {"web", "api"}
    for name in ("web", "api"):
        service = config.service(name)
        assert service is not None
        assert service.image == f"127.0.0.1:5000/{name}"
        assert service.test and service.port == 8080 and service.health.path == "/healthz"
        staging, prod = service.deploy["staging"], service.deploy["prod"]
        assert (staging.target, staging.replicas) == ("container", 1)
        assert staging.publish is not None
        assert (prod.target, prod.replicas) == ("swarm", 2)
    assert list(config.environments) == ["dev", "staging", "prod"]
    prod_env = config.environment("prod")
    assert prod_env == EnvironmentConfig(
        approvals=1, approvers=("U0BOB", "S0APPROVERS"), protected=True
    )
    assert config.jira is None
    assert config.docker == DockerConfig(namespace=default_namespace(SAMPLE.resolve()))
    assert config.secrets() == ()


def test_sample_mentions_how_to_add_jira() -> None:
    assert "# jira:" in SAMPLE.read_text(encoding="utf-8")


def test_docs_example_loads_with_every_value() -> None:
    config = parse_config(
        docs_example(), {"WEB_PORT": "8081", "JIRA_TOKEN": TOKEN, "ALERTMANAGER_TOKEN": AM_TOKEN}
    )

    web = config.services["web"]
    assert web.port == 8081
    assert web.test[-1] == "--junitxml=/tmp/report.xml"
    assert (web.dockerfile, web.test_timeout, web.test_report) == (
        "docker/Dockerfile",
        300,
        "/tmp/report.xml",
    )
    assert web.deploy["staging"] == DeploySettings(target="container", publish="127.0.0.1:18080")
    assert web.health == HealthCheck(
        path="/healthz", start_period=10, interval=2, timeout=1.5, retries=3
    )
    assert config.environments["prod"].approval_timeout_minutes == 15
    assert config.environments["prod"].approval_channel == "C0OPS"
    assert config.namespace == "team-web"
    assert config.jira is not None and config.jira.token is not None
    assert config.jira.token.get_secret_value() == TOKEN
    assert config.jira.digest == DigestConfig(
        cron="0 9 * * mon-fri", timezone="Europe/Berlin", channel="C0TEAM"
    )
    assert config.docker.host == "unix:///var/run/docker.sock"
    assert config.secrets() == (TOKEN, AM_TOKEN)
    assert web.checks == ChecksConfig(cpu=80, memory=90)
    assert config.monitor.deploy_window == 1800.0
    assert config.monitor.alertmanager is not None
    assert config.monitor.alertmanager.token is not None
    assert config.monitor.alertmanager.token.get_secret_value() == AM_TOKEN


def _model_keys(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    nested: dict[tuple[str, str], type[BaseModel]] = {
        ("Config", "services"): ServiceConfig,
        ("Config", "environments"): EnvironmentConfig,
        ("Config", "slack"): SlackConfig,
        ("Config", "jira"): JiraConfig,
        ("Config", "docker"): DockerConfig,
        ("Config", "access"): AccessConfig,
        ("ServiceConfig", "deploy"): DeploySettings,
        ("ServiceConfig", "health"): HealthCheck,
        ("DeploySettings", "autoscale"): AutoscaleConfig,
        ("JiraConfig", "digest"): DigestConfig,
        ("ServiceConfig", "checks"): ChecksConfig,
        ("Config", "monitor"): MonitorConfig,
        ("MonitorConfig", "alertmanager"): AlertmanagerConfig,
    }
    mappings = {"services", "environments", "deploy"}
    for name in model.model_fields:
        key = f"{prefix}{name}"
        yield key
        inner = nested.get((model.__name__, name))
        if inner is not None:
            yield from _model_keys(inner, f"{key}.*." if name in mappings else f"{key}.")


def _example_keys(value: Any, prefix: str = "", mapping: bool = False) -> Iterator[str]:
    if not isinstance(value, dict):
        return
    for key, inner in value.items():
        path = f"{prefix}*" if mapping else f"{prefix}{key}"
        if not mapping:
            yield path
        named = not mapping and key in {"services", "environments", "deploy"}
        yield from _example_keys(inner, f"{path}.", mapping=named)


def test_docs_example_uses_every_key_and_the_tables_name_them() -> None:
    import yaml

    every_key = set(_model_keys(Config))
    used = set(_example_keys(yaml.safe_load(docs_example())))
    # token and token_env exclude each other; the example shows the recommended token_env.
    assert every_key - used == {"jira.token", "monitor.alertmanager.token"}
    docs = DOCS.read_text(encoding="utf-8")
    for key in every_key:
        leaf = re.escape(key.rsplit(".", 1)[-1])
        # A table row, or the heading of its own section ("### `services.<name>`").
        assert re.search(rf"^(\| `{leaf}` \||#+ `{leaf}[`.])", docs, re.MULTILINE), key


# --- every kind of problem, with key path and line ---------------------------------------------


def test_bad_type_names_key_and_line() -> None:
    problem = only_problem(
        """
        slack:
          ops_channel: C0OPS
        services:
          web:
            repo: .
            image: web
            test_timeout: soon
        """
    )
    assert (problem.key, problem.line) == ("services.web.test_timeout", 7)
    assert problem.message == "must be a whole number (got a string)"
    assert str(problem) == "opsloop.yml:7: services.web.test_timeout: " + problem.message


def test_unknown_key_suggests_the_close_one() -> None:
    problem = only_problem(
        """
        slack:
          ops_channel: C0OPS
        services:
          web:
            repo: .
            image: web
            deploy:
              prod: {target: swarm, replcas: 2}
        environments:
          prod: {}
        """
    )
    assert (problem.key, problem.line) == ("services.web.deploy.prod.replcas", 8)
    assert problem.message == "unknown key (did you mean 'replicas'?)"


def test_unknown_key_without_a_close_one_lists_the_known_keys() -> None:
    problem = only_problem(MINIMAL + "colour: blue\n")
    assert (problem.key, problem.line) == ("colour", 3)
    assert "slack, services, environments, jira, docker" in problem.message


def test_missing_key_points_at_the_closest_parent() -> None:
    problem = only_problem(
        """
        slack:
          ops_channel: C0OPS
        services:
          web:
            repo: .
        """
    )
    assert (problem.key, problem.line) == ("services.web.image", 4)
    assert problem.message == "is required but missing"


def test_missing_slack_section() -> None:
    problem = only_problem("services: {}\n")
    assert (problem.key, problem.line) == ("slack", 1)


def test_deploy_to_undefined_environment() -> None:
    problem = only_problem(
        """
        slack:
          ops_channel: C0OPS
        services:
          web:
            repo: .
            image: web
            deploy:
              staging: {target: container}
              prd: {target: swarm}
        environments:
          staging: {}
          prod: {}
        """
    )
    assert (problem.key, problem.line) == ("services.web.deploy.prd", 9)
    assert "'prd' is not defined" in problem.message
    assert "did you mean 'prod'?" in problem.message


def test_unset_variable_is_reported_once_at_its_key() -> None:
    problem = only_problem(
        """
        slack:
          ops_channel: C0OPS
        services:
          web:
            repo: .
            image: web
            port: ${WEB_PORT}
        """
    )
    assert (problem.key, problem.line) == ("services.web.port", 7)
    assert problem.message == "environment variable WEB_PORT is not set"


def test_variables_come_from_the_given_mapping_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAM", "C0TEAM")
    problem = only_problem(MINIMAL + "  team_channel: ${TEAM}\n")
    assert (problem.key, problem.line) == ("slack.team_channel", 3)


def test_variables_expand_before_validation_and_escape_with_double_dollar() -> None:
    text = yml(
        """
        slack:
          ops_channel: ${OPS}
        services:
          web:
            repo: ./$${HOME}/web-${SUFFIX}
            image: web
            port: ${WEB_PORT}
            test: ["sh", "-c", "echo $$HOME ${WORDS}"]
        """
    )
    environ = {"OPS": "C0OPS", "SUFFIX": "x", "WEB_PORT": "8080", "WORDS": "a b"}
    config = parse_config(text, environ)
    web = config.services["web"]
    assert config.slack.ops_channel == "C0OPS"
    assert web.repo == "./${HOME}/web-x"
    assert web.port == 8080
    assert web.test == ("sh", "-c", "echo $$HOME a b")


def test_malformed_reference_is_a_problem() -> None:
    problem = only_problem(MINIMAL + "  team_channel: ${TEAM\n")
    assert (problem.key, problem.line) == ("slack.team_channel", 3)
    assert "no closing" in problem.message


def test_duplicate_key() -> None:
    found = problems_of(
        """
        slack:
          ops_channel: C0OPS
        environments:
          prod: {}
          staging: {}
          prod: {approvals: 1, approvers: [U0BOB]}
        """
    )
    assert [(p.key, p.line) for p in found] == [("environments.prod", 6)]
    assert found[0].message == "duplicate key: 'prod' is already set on line 4"


def test_yaml_syntax_error_is_one_problem_with_its_line() -> None:
    problem = only_problem(
        """
        slack:
          ops_channel: C0OPS
        services:
          web: {repo: ., image: web
        environments: {}
        """
    )
    assert problem.key == ""
    assert problem.line == 5
    assert problem.message.startswith("invalid YAML: ")
    assert str(problem).startswith("opsloop.yml:5: invalid YAML: ")


def test_test_command_given_as_a_string() -> None:
    problem = only_problem(
        """
        slack:
          ops_channel: C0OPS
        services:
          web:
            repo: .
            image: web
            test: pytest -q
        """
    )
    assert (problem.key, problem.line) == ("services.web.test", 7)
    assert "give the command as a list" in problem.message


def test_list_items_have_their_own_line() -> None:
    problem = only_problem(
        """
        slack:
          ops_channel: C0OPS
        environments:
          prod:
            approvals: 1
            approvers:
              - U0BOB
              - "@carol"
        """
    )
    assert (problem.key, problem.line) == ("environments.prod.approvers[1]", 8)
    assert "Slack user ID" in problem.message


def test_approvals_need_an_approver() -> None:
    problem = only_problem(MINIMAL + "environments:\n  prod:\n    approvals: 2\n")
    assert (problem.key, problem.line) == ("environments.prod.approvers", 4)
    assert "at least one approver" in problem.message


def test_health_is_a_path_or_a_path_with_probe_timings() -> None:
    service = "services:\n  web:\n    repo: ./web\n    image: 127.0.0.1:5000/web\n"
    plain = parse_config(MINIMAL + service + "    health: /up\n", {})
    assert plain.services["web"].health == HealthCheck(path="/up")
    timed = parse_config(
        MINIMAL + service + "    health: {path: /up, start_period: 10, interval: 0.5}\n", {}
    )
    assert timed.services["web"].health == HealthCheck(path="/up", start_period=10, interval=0.5)
    assert parse_config(MINIMAL + service, {}).services["web"].health == HealthCheck(path="/")


@pytest.mark.parametrize(
    ("health", "key", "message"),
    [
        ("up", "services.web.health.path", "must be a path starting with '/'"),
        ("{path: /up, start_period: -1}", "services.web.health.start_period", "0"),
        ("{path: /up, interval: 0}", "services.web.health.interval", "greater than 0"),
        ("{path: /up, retries: 0}", "services.web.health.retries", "1"),
        ("{path: /up, timeout: soon}", "services.web.health.timeout", "number"),
        ("{path: /up, start: 5}", "services.web.health.start", "start_period"),
    ],
)
def test_health_problems_name_the_key(health: str, key: str, message: str) -> None:
    service = "services:\n  web:\n    repo: ./web\n    image: 127.0.0.1:5000/web\n"
    problem = only_problem(MINIMAL + service + f"    health: {health}\n")
    assert (problem.key, problem.line) == (key, 7)
    assert message in problem.message


def test_container_target_runs_one_replica() -> None:
    text = """
        slack: {ops_channel: C0OPS}
        environments: {prod: {}}
        services:
          web:
            repo: .
            image: web
            deploy:
              prod:
                target: container
                replicas: 3
        """
    problem = only_problem(text)
    assert (problem.key, problem.line) == ("services.web.deploy.prod.replicas", 10)


_SCALED = """
        slack: {{ops_channel: C0OPS}}
        environments: {{prod: {{}}}}
        services:
          web:
            repo: .
            image: web
            deploy:
              prod:
                {settings}
        """


@pytest.mark.parametrize(
    ("settings", "key", "message"),
    [
        ("{target: container, autoscale: {min: 1, max: 2, cpu: 50}}", "autoscale", "swarm"),
        ("{target: swarm, replicas: 11}", "replicas", "max_replicas (10)"),
        ("{target: swarm, max_replicas: 3, autoscale: {min: 1, max: 4, cpu: 50}}",
         "autoscale.max", "max_replicas (3)"),
        ("{target: swarm, autoscale: {min: 3, max: 2, cpu: 50}}", "autoscale.min", "more than max"),
        ("{target: swarm, autoscale: {min: 1, max: 2, cpu: 150}}", "autoscale.cpu", "100"),
    ],
)  # fmt: skip
def test_scaling_bounds_are_checked(settings: str, key: str, message: str) -> None:
    problem = only_problem(_SCALED.format(settings=settings))
    assert problem.key == f"services.web.deploy.prod.{key}"
    assert message in problem.message


def test_autoscale_defaults() -> None:
    text = _SCALED.format(settings="{target: swarm, autoscale: {min: 1, max: 4, cpu: 60}}")
    settings = parse_config(text, {}).services["web"].deploy["prod"]
    assert settings.max_replicas == 10
    assert settings.autoscale == AutoscaleConfig(min=1, max=4, cpu=60, memory=None, window=300)


@pytest.mark.parametrize("name", ["Web", "9web", "web_app", "w" * 41])
def test_service_names_must_suit_slash_commands(name: str) -> None:
    problem = only_problem(MINIMAL + f"services:\n  {name}: {{repo: ., image: web}}\n")
    assert (problem.key, problem.line) == (f"services.{name}", 4)
    assert problem.message.startswith("names must be lowercase")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "the file is empty"),
        ("# only a comment\n", 1, "the file is empty"),
        ("- slack\n- services\n", 1, "the top level must be a mapping"),
        ("just words\n", 1, "the top level must be a mapping"),
        ("a: 1\n---\nb: 2\n", 2, "invalid YAML"),
    ],
)
def test_unusable_top_level(text: str, line: int, message: str) -> None:
    problem = only_problem(text)
    assert (problem.key, problem.line) == ("", line)
    assert problem.message.startswith(message)


def test_all_problems_are_reported_at_once_in_file_order() -> None:
    found = problems_of(
        """
        slack:
          ops_channel: ops
        services:
          web:
            repo: .
            image: 127.0.0.1:5000/web:latest
            test: pytest
            port: 0
            deploy:
              qa: {target: vm}
        environments:
          prod: {approvals: -1}
        jira:
          url: https://jira.example.com
          board: ${BOARD}
          project: ops
        docker: {hots: tcp://127.0.0.1:2375}
        """
    )
    assert [(p.key, p.line) for p in found] == [
        ("slack.ops_channel", 2),
        ("services.web.image", 6),
        ("services.web.test", 7),
        ("services.web.port", 8),
        ("services.web.deploy.qa", 10),
        ("services.web.deploy.qa.target", 10),
        ("environments.prod.approvals", 12),
        ("jira.board", 15),
        ("jira.project", 16),
        ("docker.hots", 17),
    ]
    assert found[5].message == "must be 'container' or 'swarm'"
    assert found[6].message == "must be at least 0"
    assert found[9].message == "unknown key (did you mean 'host'?)"


def test_load_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ops.yml"
    path.write_text(MINIMAL + "  team_channel: general\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert caught.value.path == path
    assert str(caught.value) == (
        f"{path}:3: slack.team_channel: must be a Slack channel ID such as C0123ABCD"
    )


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "missing.yml", {})
    (problem,) = caught.value.problems
    assert problem.line is None and "cannot read the file" in problem.message


def test_several_problems_print_one_per_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("slack: {}\nextra: 1\n", {}, source="conf/opsloop.yml")
    assert str(caught.value).splitlines() == [
        "conf/opsloop.yml has 2 problems:",
        "  conf/opsloop.yml:1: slack.ops_channel: is required but missing",
        "  conf/opsloop.yml:2: extra: unknown key (expected one of: "
        "slack, services, environments, jira, docker, access, monitor)",
    ]


# --- values -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        "web",
        "127.0.0.1:5000/web",
        "localhost:5000/team/web-app",
        "ghcr.io/org/a__b.c",
        "[::1]:5000/x",
    ],
)
def test_image_references_accepted(image: str) -> None:
    assert ServiceConfig(repo=".", image=image).image == image


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("web:latest", "without a ':tag'"),
        ("127.0.0.1:5000/web:1.0", "without a ':tag'"),
        ("web@sha256:" + "a" * 64, "'@digest'"),
        ("Web", "not a valid image repository"),
        ("web-/x", "not a valid image repository"),
        ("", "not a valid image repository"),
    ],
)
def test_image_references_rejected(image: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        ServiceConfig(repo=".", image=image)


@pytest.mark.parametrize(
    "cron", ["0 9 * * mon-fri", "*/15 * * * *", "0 0 1,15 jan-jun 0", "30 8-18/2 * * 7"]
)
def test_cron_accepted(cron: str) -> None:
    assert DigestConfig(cron=cron).cron == cron


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("0 9 * *", "must have 5 fields"),
        ("@daily", "must have 5 fields"),
        ("60 * * * *", "minute must be"),
        ("0 24 * * *", "hour must be"),
        ("0 0 0 * *", "day of month must be"),
        ("0 0 * foo *", "month must be"),
        ("0 0 * * 8", "day of week must be"),
        ("*/0 * * * *", "minute step"),
        ("0 18-8 * * *", "hour range 18-8 runs backwards; write it as a list, e.g. 18-23,0-.."),
        ("0 9 * * fri-mon", "day of week range fri-mon runs backwards"),
    ],
)
def test_cron_rejected(cron: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        DigestConfig(cron=cron)


def test_timezone_is_checked() -> None:
    with pytest.raises(ValidationError, match="not a known time zone"):
        DigestConfig(cron="0 9 * * *", timezone="Mars/Olympus")


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"url": "ftp://jira"}, "url"),
        ({"url": "https://me:pw@jira.example.com"}, "url"),
        ({"project": "Ops"}, "project"),
        ({"board": 0}, "board"),
        ({"user": "me"}, "token"),
    ],
)
def test_jira_values(values: dict[str, Any], key: str) -> None:
    base: dict[str, Any] = {"url": "https://jira.example.com", "board": 1, "project": "OPS"}
    with pytest.raises(ValidationError) as caught:
        JiraConfig.model_validate(base | values)
    assert caught.value.errors()[0]["loc"] == ((key,) if key != "token" else ())


def test_docker_values() -> None:
    assert DockerConfig(host="tcp://127.0.0.1:2375", registry="127.0.0.1:5000").registry
    with pytest.raises(ValidationError):
        DockerConfig(host="/var/run/docker.sock")
    with pytest.raises(ValidationError):
        DockerConfig(registry="http://127.0.0.1:5000")


def test_insecure_registries_default_to_loopback_and_are_checked() -> None:
    assert DockerConfig().insecure_registries == ("127.0.0.0/8",)
    given = DockerConfig(insecure_registries=["registry.lan:5000", "10.0.0.0/8", "[::1]:5000"])
    assert given.insecure_registries == ("registry.lan:5000", "10.0.0.0/8", "[::1]:5000")
    for bad in ("http://registry.lan", "10.0.0.0/99", "registry lan"):
        with pytest.raises(ValidationError, match="registry host\\[:port\\] or an address range"):
            DockerConfig(insecure_registries=[bad])


def test_models_are_frozen_and_direct_construction_cross_checks() -> None:
    config = parse_config(MINIMAL, {})
    with pytest.raises(ValidationError):
        config.slack = SlackConfig(ops_channel="C0OTHER")  # type: ignore[misc, unused-ignore]
    with pytest.raises(ValidationError, match="'prod' is not defined"):
        Config(
            slack=SlackConfig(ops_channel="C0OPS"),
            services={
                "web": ServiceConfig(
                    repo=".", image="web", deploy={"prod": DeploySettings(target="swarm")}
                )
            },
        )
    assert config.service("nope") is None and config.environment("nope") is None


# --- secrets ----------------------------------------------------------------------------------


JIRA = """
slack:
  ops_channel: C0OPS
jira:
  url: https://jira.example.com
  user: bot@example.com
  {token_line}
  board: 1
  project: OPS
"""


@pytest.mark.parametrize(
    ("token_line", "environ"),
    [
        (f"token: {TOKEN}", {}),
        ("token: ${JIRA_TOKEN}", {"JIRA_TOKEN": TOKEN}),
        ("token_env: JIRA_TOKEN", {"JIRA_TOKEN": TOKEN}),
    ],
)
def test_token_is_kept_secret(token_line: str, environ: dict[str, str]) -> None:
    config = parse_config(JIRA.format(token_line=token_line), environ)
    assert config.jira is not None and config.jira.token is not None
    assert config.jira.token.get_secret_value() == TOKEN
    assert config.secrets() == (TOKEN,)
    for shown in (str(config), repr(config), repr(config.jira), str(config.model_dump())):
        assert TOKEN not in shown


@pytest.mark.parametrize(
    ("token_line", "environ", "key"),
    [
        (f"token: {TOKEN}\n  token_env: JIRA_TOKEN", {"JIRA_TOKEN": TOKEN}, "jira.token_env"),
        ("token_env: JIRA_TOKEN", {}, "jira.token_env"),
        ("token_env: JIRA_TOKEN", {"JIRA_TOKEN": ""}, "jira.token_env"),
        (f"token_env: {TOKEN.replace('-', '_')}", {}, "jira.token_env"),
        (f"token: [{TOKEN}]", {}, "jira.token"),
        ("token: ${JIRA_TOKEN}\n  board: many", {"JIRA_TOKEN": TOKEN}, "jira.board"),
    ],
)
def test_token_never_appears_in_problems(
    token_line: str, environ: dict[str, str], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(JIRA.format(token_line=token_line), environ)
    error = caught.value
    assert key in {p.key for p in error.problems}
    for shown in (str(error), repr(error), repr(error.problems), repr(error.args)):
        assert TOKEN not in shown
        assert TOKEN.replace("-", "_") not in shown


def test_token_env_problem_points_at_its_line() -> None:
    problem = only_problem(JIRA.format(token_line="token_env: JIRA_TOKEN").lstrip("\n"))
    assert (problem.key, problem.line) == ("jira.token_env", 6)


# --- YAML conveniences ------------------------------------------------------------------------


def test_anchors_merge_keys_and_x_extension_keys() -> None:
    config = parse_config(
        yml(
            """
            x-python: &python
              test: ["pytest"]
              port: 8080
            slack: {ops_channel: C0OPS}
            services:
              web:
                <<: *python
                repo: ./web
                image: web
                port: 8081
              api:
                <<: *python
                repo: ./api
                image: api
            """
        ),
        {},
    )
    assert config.services["web"].port == 8081
    assert config.services["api"].port == 8080
    assert config.services["api"].test == ("pytest",)


def test_merged_typo_points_at_the_anchor_line() -> None:
    problem = only_problem(
        """
        x-base: &base
          prot: 1
        slack: {ops_channel: C0OPS}
        services:
          web: {<<: *base, repo: ., image: web}
        """
    )
    assert (problem.key, problem.line) == ("services.web.prot", 2)


def test_yaml_keys_stay_text() -> None:
    config = parse_config(MINIMAL + "environments:\n  no: {}\n  on: {}\n", {})
    assert list(config.environments) == ["no", "on"]


def test_config_error_survives_pickling() -> None:
    import pickle

    with pytest.raises(ConfigError) as caught:
        parse_config("", {})
    copy = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own object
    assert copy.problems == caught.value.problems and str(copy) == str(caught.value)


def test_credentials_in_a_repository_url_are_secrets_to_redact() -> None:
    text = (
        "slack: {ops_channel: C0OPS}\n"
        "services:\n"
        "  web:\n"
        "    repo: https://deploy-bot:ghp_s3cretvalue@git.example.com/web.git\n"
        "    image: 127.0.0.1:5000/web\n"
        "  api:\n"
        "    repo: https://git.example.com/api.git\n"
        "    image: 127.0.0.1:5000/api\n"
    )
    config = parse_config(text, {})
    assert "ghp_s3cretvalue" in config.secrets()
    assert "deploy-bot" in config.secrets()
    assert len(config.secrets()) == 2


def test_two_deployments_that_would_share_a_container_name_are_refused() -> None:
    text = (
        "slack: {ops_channel: C0OPS}\n"
        "environments: {prod: {}, eu-prod: {}}\n"
        "services:\n"
        "  api:\n"
        "    repo: ./api\n"
        "    image: 127.0.0.1:5000/api\n"
        "    deploy: {eu-prod: {target: container}}\n"
        "  api-eu:\n"
        "    repo: ./api-eu\n"
        "    image: 127.0.0.1:5000/api-eu\n"
        "    deploy:\n"
        "      prod: {target: container}\n"
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text, {})
    (problem,) = caught.value.problems
    assert problem.key == "services.api-eu.deploy.prod"
    assert problem.line == 12
    assert "same container as api in eu-prod (opsloop-api-eu-prod)" in problem.message


# --- monitor -------------------------------------------------------------------------------------

MONITORED = """
slack:
  ops_channel: C0OPS
services:
  web:
    repo: .
    image: web
    checks: {checks}
monitor: {monitor}
"""


def test_check_durations_read_as_seconds() -> None:
    config = parse_config(
        MONITORED.format(checks="{interval: 1m, timeout: 500ms}", monitor="{deploy_window: 2h}"),
        {},
    )
    assert config.services["web"].checks.interval == 60.0
    assert config.services["web"].checks.timeout == 0.5
    assert config.monitor.deploy_window == 7200.0


@pytest.mark.parametrize(
    ("checks", "key", "message"),
    [
        ("{interval: soon}", "services.web.checks.interval", "must be a duration"),
        ("{interval: 0}", "services.web.checks.interval", "at least 1 second"),
        ("{interval: 5s, timeout: 10s}", "services.web.checks.timeout", "longer than interval"),
        ("{fail_after: 0}", "services.web.checks.fail_after", "at least 1"),
        ("{memory: 120}", "services.web.checks.memory", "at most 100"),
        ("{intervall: 5s}", "services.web.checks.intervall", "unknown key"),
    ],
)
def test_bad_checks_are_named(checks: str, key: str, message: str) -> None:
    problem = only_problem(MONITORED.format(checks=checks, monitor="{}"))
    assert problem.key == key
    assert message in problem.message


def test_alertmanager_needs_a_token_and_keeps_it_secret() -> None:
    missing = only_problem(MONITORED.format(checks="{}", monitor="{alertmanager: {}}"))
    assert missing.key == "monitor.alertmanager.token_env"
    unset = only_problem(
        MONITORED.format(checks="{}", monitor="{alertmanager: {token_env: AM_TOKEN}}")
    )
    assert unset.key == "monitor.alertmanager.token_env"
    assert "not set" in unset.message
    config = parse_config(
        MONITORED.format(checks="{}", monitor="{alertmanager: {token_env: AM_TOKEN}}"),
        {"AM_TOKEN": AM_TOKEN},
    )
    assert config.secrets() == (AM_TOKEN,)
    assert AM_TOKEN not in repr(config)


# --- a shared engine, published addresses, approval channels ----------------------------------


def test_the_namespace_defaults_to_one_derived_from_the_files_location(tmp_path: Path) -> None:
    one, two = tmp_path / "Team One" / "opsloop.yml", tmp_path / "two" / "opsloop.yml"
    for path in (one, two):
        path.parent.mkdir()
        path.write_text(MINIMAL, encoding="utf-8")
    first, second = load_config(one, {}).namespace, load_config(two, {}).namespace
    assert first.startswith("team-one-") and second.startswith("two-")
    assert first != second and load_config(one, {}).namespace == first
    named = parse_config(MINIMAL + "docker:\n  namespace: team1\n", {}, source=str(one))
    assert named.namespace == "team1"


def test_a_namespace_must_be_a_short_name() -> None:
    for bad in ("Team_1", "1team", "a" * 25):
        problem = only_problem(MINIMAL + f"docker:\n  namespace: {bad}\n")
        assert problem.key == "docker.namespace" and "max 24" in problem.message


def test_publish_takes_a_port_or_an_address_and_port() -> None:
    config = parse_config(
        """
        slack: {ops_channel: C0OPS}
        services:
          web:
            repo: .
            image: web
            deploy:
              a: {target: container, publish: 18080}
              b: {target: container, publish: "127.0.0.1:18081"}
              c: {target: container, publish: "[::1]:18082"}
        environments: {a: {}, b: {}, c: {}}
        """.replace("\n        ", "\n"),
        {},
    )
    deploy = config.services["web"].deploy
    found = [(deploy[e].publish_host, deploy[e].publish_port) for e in "abc"]
    assert found == [(None, 18080), ("127.0.0.1", 18081), ("::1", 18082)]


def test_a_bad_publish_address_is_named() -> None:
    base = "slack: {ops_channel: C0OPS}\nenvironments: {a: {}}\nservices:\n  web:\n"
    base += "    repo: .\n    image: web\n    deploy:\n      a: {target: %s, publish: %s}\n"
    for target, value, said in (
        ("container", '"localhost:80"', "IP address"),
        ("container", '"127.0.0.1:99999"', "between 1 and 65535"),
        ("container", '"127.0.0.1"', "address:port"),
        ("swarm, publish_mode: host", '"127.0.0.1:80"', "only the port"),
        ("swarm, publish_mode: ingress", '"127.0.0.1:80"', "publish_mode proxy"),
    ):
        problem = only_problem(base % (target, value))
        assert problem.key == "services.web.deploy.a.publish", problem
        assert said in problem.message, problem


def test_a_target_is_published_through_its_proxy_unless_told_otherwise() -> None:
    base = "slack: {ops_channel: C0OPS}\nenvironments: {a: {}}\nservices:\n  web:\n"
    base += "    repo: .\n    image: web\n    port: 8080\n    deploy:\n      a: {%s}\n"
    proxied = parse_config(base % 'target: swarm, publish: "127.0.0.1:18080", replicas: 3', {})
    settings = proxied.services["web"].deploy["a"]
    assert (settings.publish_mode, settings.publish_host) == ("proxy", "127.0.0.1")
    ingress = parse_config(base % "target: swarm, publish: 18080, publish_mode: ingress", {})
    assert ingress.services["web"].deploy["a"].publish_mode == "ingress"
    container = parse_config(base % 'target: container, publish: "127.0.0.1:18080"', {})
    assert container.services["web"].deploy["a"].publish_mode == "proxy"
    own_port = parse_config(base % "target: container, publish: 18080, publish_mode: host", {})
    assert own_port.services["web"].deploy["a"].publish_mode == "host"
    for body, key, said in (
        ("target: container, publish_mode: ingress", "publish_mode", "proxy (the default) or host"),
        ("target: swarm, publish_mode: mesh", "publish_mode", "proxy"),
    ):
        problem = only_problem(base % body)
        assert problem.key == f"services.web.deploy.a.{key}", problem
        assert said in problem.message, problem


def test_an_approval_channel_is_a_channel_id() -> None:
    text = MINIMAL + "environments:\n  prod:\n    approval_channel: C0APPROVE\n"
    assert parse_config(text, {}).environments["prod"].approval_channel == "C0APPROVE"
    problem = only_problem(MINIMAL + "environments:\n  prod:\n    approval_channel: '#ops'\n")
    assert problem.key == "environments.prod.approval_channel"
