"""The `opsloop` command line, run as a user would run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

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
    assert "2 problem(s)" in result.stderr


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
