"""The `opsloop` command line, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.version import opsloop_version
from tests.specs import REPO


def _opsloop(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPSLOOP_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **(env or {})},
        cwd=REPO,
        check=False,
    )


def test_check_config_accepts_the_sandbox_config() -> None:
    result = _opsloop("check-config", "bot/sandbox/opsloop.yml")
    assert result.returncode == 0, result.stderr
    assert "ok (2 services, 3 environments)" in result.stdout


def test_check_config_names_every_problem_with_key_and_line(tmp_path: Path) -> None:
    config = tmp_path / "opsloop.yml"
    config.write_text(
        "slack:\n"
        "  ops_channel: C0OPS\n"
        "services:\n"
        "  web:\n"
        "    repo: ./web\n"
        "    image: 127.0.0.1:5000/web\n"
        "    port: 99999\n"
        "    replica: 2\n"
    )
    result = _opsloop("check-config", str(config))
    assert result.returncode == 1
    assert "opsloop.yml:7: services.web.port" in result.stderr
    assert "opsloop.yml:8: services.web.replica" in result.stderr
    assert result.stderr.startswith(f"{config} has 2 problems:\n")


def test_manifest_prints_the_pinned_manifest() -> None:
    result = _opsloop("manifest")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (REPO / "app-manifest.yml").read_text()
    custom = _opsloop("manifest", "--url", "https://bot.example.org/slack/events")
    urls = {c["url"] for c in yaml.safe_load(custom.stdout)["features"]["slash_commands"]}
    assert urls == {"https://bot.example.org/slack/events"}


def test_serve_refuses_to_start_without_credentials_or_with_a_bad_config(tmp_path: Path) -> None:
    missing = _opsloop("serve", "--port", "0")
    assert missing.returncode == 2
    assert "SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET" in missing.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text("slack: {}\n")
    env = {
        "SLACK_BOT_TOKEN": "xoxb-cli-test-token-1234",
        "SLACK_SIGNING_SECRET": "cli-test-signing-secret",
        "OPSLOOP_CONFIG": str(bad),
    }
    refused = _opsloop("serve", "--port", "0", env=env)
    assert refused.returncode == 1
    assert "slack.ops_channel" in refused.stderr
    assert "will not start" in refused.stderr
    assert "xoxb-cli-test-token-1234" not in refused.stderr + refused.stdout


def test_run_needs_the_app_token() -> None:
    result = _opsloop("run", env={"SLACK_BOT_TOKEN": "xoxb-cli-test-token-1234"})
    assert result.returncode == 2
    assert "SLACK_APP_TOKEN" in result.stderr


def test_version_and_help_with_defaults() -> None:
    version = _opsloop("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"opsloop {opsloop_version()}"
    serve = _opsloop("serve", "--help")
    assert serve.returncode == 0
    assert "--port PORT    the port to listen on (default: 3000)" in serve.stdout
    assert "--config PATH" in serve.stdout and "$OPSLOOP_CONFIG" in serve.stdout
    assert "--config PATH" in _opsloop("run", "--help").stdout
    top = _opsloop("--help").stdout
    assert "OPSLOOP_LOG_FORMAT" in top and "check-config" in top


def test_serve_and_run_read_the_config_given_with_config(tmp_path: Path) -> None:
    bad = tmp_path / "given.yml"
    bad.write_text("slack: {}\n")
    env = {
        "SLACK_BOT_TOKEN": "xoxb-cli-test-token-1234",
        "SLACK_SIGNING_SECRET": "cli-test-signing-secret",
        "SLACK_APP_TOKEN": "xapp-cli-test-token-1234",
        "OPSLOOP_CONFIG": str(tmp_path / "not-this-one.yml"),
    }
    for command in (["serve", "--port", "0"], ["run"]):
        refused = _opsloop(*command, "--config", str(bad), env=env)
        assert refused.returncode == 1, refused.stderr
        assert "given.yml:1: slack.ops_channel" in refused.stderr
        assert "not-this-one" not in refused.stderr


def test_the_readme_check_config_example_is_what_check_config_prints(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    example = readme.split("```text\n", 1)[1].split("```", 1)[0]
    example = textwrap.dedent(example)
    (tmp_path / "opsloop.yml").write_text(
        "slack:\n"
        "  ops_channel: C0OPS\n"
        "  # the channel for release notes\n"
        "  team_chanel: C0TEAM\n"
        "services:\n"
        "  web:\n"
        "    repo: ./repos/web\n"
        "    image: 127.0.0.1:5000/web\n"
        "    test: pytest -q\n"
        "    port: 8080\n"
        "    health: /healthz\n"
        "    deploy:\n"
        "      prod: {target: container, publish: 18080}\n"
        "      qa: {target: container}\n"
        "environments:\n"
        "  prod: {}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check-config", "opsloop.yml"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == example


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("OPSLOOP_LOG_LEVEL", "loud", "OPSLOOP_LOG_LEVEL='loud' is not a log level"),
        ("OPSLOOP_LOG_FORMAT", "xml", "OPSLOOP_LOG_FORMAT='xml' is not known; use text or json"),
    ],
)
def test_a_bad_log_setting_is_named(variable: str, value: str, message: str) -> None:
    result = _opsloop("check-config", "bot/sandbox/opsloop.yml", env={variable: value})
    assert result.returncode == 2
    assert message in result.stderr


def test_serve_logs_json_lines_with_a_time_zone_at_the_level_asked_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("slack: {}\n")
    env = {
        "SLACK_BOT_TOKEN": "xoxb-cli-test-token-1234",
        "SLACK_SIGNING_SECRET": "cli-test-signing-secret",
        "OPSLOOP_CONFIG": str(bad),
        "OPSLOOP_LOG_FORMAT": "json",
        "TZ": "Europe/Berlin",
    }
    refused = _opsloop("serve", "--port", "0", env=env)
    lines = [json.loads(line) for line in refused.stderr.splitlines()]
    assert lines, refused.stderr
    assert {line["level"] for line in lines} == {"ERROR"}
    assert any("slack.ops_channel" in line["message"] for line in lines)
    stamp = datetime.fromisoformat(lines[0]["time"])
    assert stamp.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
    quiet = _opsloop("serve", "--port", "0", env={**env, "OPSLOOP_LOG_LEVEL": "critical"})
    assert quiet.returncode == 1 and quiet.stderr == ""


def test_manifest_options_and_a_bad_prefix(tmp_path: Path) -> None:
    socket = yaml.safe_load(_opsloop("manifest", "--socket-mode", "--prefix", "ops-").stdout)
    assert socket["settings"]["socket_mode_enabled"] is True
    commands = [entry["command"] for entry in socket["features"]["slash_commands"]]
    assert "/ops-deploy" in commands
    assert all("url" not in entry for entry in socket["features"]["slash_commands"])
    bad = _opsloop("manifest", "--prefix", "Ops ")
    assert bad.returncode == 2 and "may hold only lowercase letters" in bad.stderr
    env = {
        "SLACK_BOT_TOKEN": "xoxb-cli-test-token-1234",
        "SLACK_SIGNING_SECRET": "cli-test-signing-secret",
        "OPSLOOP_COMMAND_PREFIX": "x" * 40,
        "OPSLOOP_CONFIG": str(tmp_path / "absent.yml"),
    }
    refused = _opsloop("serve", "--port", "0", env=env)
    assert refused.returncode == 2 and "too long" in refused.stderr
