"""Slash commands end to end: signed HTTP into the bot, answers out through the workspace."""

from __future__ import annotations

import json
import logging
import socket
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from bot.config import parse_config
from bot.core.values import AuditEntry, Invocation, Outcome, Reply
from bot.core.verbs import Verb
from bot.settings import Settings
from bot.store.audit import SqlAuditLog
from bot.store.tables import audit_log
from bot.version import opsloop_version
from bot.workspace import SlackWorkspace
from tests.scenarios.conftest import BOT_TOKEN, CONFIG, Harness, start_bot
from tests.scenarios.replies import reply_to

REQUEST_DEADLINE = 5.0


def test_ops_help_lists_every_verb_with_its_usage(harness: Harness) -> None:
    response = harness.slack.slash("/ops", "help")
    assert response.status_code == 200
    answer = reply_to(harness, "U0ALICE")
    assert "/deploy <service> <version> [to] <env> [--dry-run]" in answer
    assert "/ops audit [filters...]" in answer
    assert "/ship <service> <version> [ref]" in answer


def test_help_for_one_verb_shows_both_spellings(harness: Harness) -> None:
    harness.slack.slash("/ops", "help lock")
    answer = reply_to(harness, "U0ALICE")
    assert "/lock <env> [reason...] [--for <duration>]" in answer
    assert "/lock list" in answer
    assert "Also: `/ops lock ...`" in answer


NOT_IN_PIPELINE = "`staging` is not in the pipeline of `web` (prod)"


def test_ship_refuses_an_environment_outside_the_pipeline(harness: Harness) -> None:
    harness.slack.slash("/ship", "web 1.2.0 to staging")
    assert NOT_IN_PIPELINE in reply_to(harness, "U0ALICE")


def test_ship_list_says_when_there_are_none(harness: Harness) -> None:
    harness.slack.slash("/ship", "list")
    assert "No pipelines yet." in reply_to(harness, "U0ALICE")


def test_ops_prefix_reaches_the_same_handler(harness: Harness) -> None:
    harness.slack.slash("/ops", "ship web 1.2.0 to staging")
    assert NOT_IN_PIPELINE in reply_to(harness, "U0ALICE")


@pytest.mark.parametrize(
    ("command", "text", "expected"),
    [
        ("/deploy", "", "Missing <service>"),
        ("/ops", "frobnicate now", "I don't know the verb `frobnicate`"),
        ("/deploy", "billing 1.0.0 prod", "Unknown service `billing`"),
        ("/deploy", "web 1.0.0 moon", "Unknown environment `moon`"),
        ("/release", "web one-point-oh", "is not a semantic version"),
        ("/build", 'web "$(touch /tmp/opsloop-pwned)"', "not a valid git branch"),
        ("/lock", 'prod "unclosed', "No closing quotation"),
        ("/ops", "audit 0", "`0` is not a filter of this list"),
        ("/ops", "audit page 0", "a page is a whole number from 1"),
        ("/services", "moon-base", "`moon-base` is not a filter of this list"),
        ("/deploy", "list page 9", "There is no page 9"),
        ("/lock", "prod " + "x" * 4001, "the limit is 4,000"),
        ("/lock", "pröd ünïcode", "Unknown environment `pröd`"),
    ],
)
def test_bad_input_gets_a_specific_answer_and_changes_nothing(
    harness: Harness, command: str, text: str, expected: str
) -> None:
    harness.slack.slash(command, text)
    assert expected in reply_to(harness, "U0ALICE")
    assert not Path("/tmp/opsloop-pwned").exists()
    assert harness.workspace.messages("C0DEV") == []
    assert harness.workspace.messages("C0OPS") == []


def test_every_command_is_audited_and_the_log_survives_a_restart(harness: Harness) -> None:
    harness.slack.slash("/ops", "help")
    reply_to(harness, "U0ALICE")
    harness.slack.slash("/deploy", "nope", user_id="U0BOB", channel_id="C0OPS")
    reply_to(harness, "U0BOB", channel_id="C0OPS")
    restarted = harness.restart()
    try:
        restarted.slack.slash("/ops", "audit", user_id="U0CAROL")
        answer = reply_to(restarted, "U0CAROL")
    finally:
        restarted.bot.stop()
    # The audit command is recorded once it has answered, so it is not in its own answer.
    lines = [line for line in answer.splitlines() if "<@" in line]
    assert len(lines) == 2
    assert "<@U0BOB> in <#C0OPS>: `deploy` `nope` → *not_found*" in lines[0]
    assert "<@U0ALICE> in <#C0DEV>: `help` → *ok*" in lines[1]


def test_a_command_left_pending_by_a_crash_is_audited_as_interrupted_at_the_next_start(
    harness: Harness,
) -> None:
    # What a kill -9 leaves behind: a command whose answer was still to follow.
    SqlAuditLog(harness.bot.engine).append(
        AuditEntry(datetime.now(UTC) - timedelta(seconds=5), "U0BOB", "C0OPS", "release",
                   "web 1.0.0", Outcome.PENDING.value)
    )  # fmt: skip
    restarted = harness.restart()
    try:
        restarted.slack.slash("/ops", "audit interrupted", user_id="U0CAROL")
        answer = reply_to(restarted, "U0CAROL")
    finally:
        restarted.bot.stop()
    assert "<@U0BOB> in <#C0OPS>: `release` `web 1.0.0` → *interrupted*" in answer, answer


def test_a_command_a_gone_process_left_pending_after_the_start_is_audited_as_interrupted(
    harness: Harness,
) -> None:
    # Another process on the store recorded a command after this one started, and stopped
    # before its answer came: its heartbeat row is gone, so the lease holder settles it at
    # its next round (every lease period), without a restart.
    entry_id = SqlAuditLog(harness.bot.engine, "gone-host:4242:abcdef").append(
        AuditEntry(datetime.now(UTC), "U0BOB", "C0OPS", "release", "web 1.0.0",
                   Outcome.PENDING.value)
    )  # fmt: skip
    deadline = time.monotonic() + harness.settings.lease_seconds
    while time.monotonic() < deadline:
        outcomes = {e.id: e.outcome for e in SqlAuditLog(harness.bot.engine).latest(10)}
        if outcomes[entry_id] != Outcome.PENDING.value:
            break
        time.sleep(0.1)
    assert outcomes[entry_id] == Outcome.INTERRUPTED.value


def test_forged_and_stale_requests_get_401_and_run_nothing(harness: Harness) -> None:
    body = b"command=%2Fops&text=audit&user_id=U0ALICE&channel_id=C0DEV&response_url=x"
    forged = harness.slack.send_raw(body, {}, signature="v0=" + "0" * 64)
    missing = harness.slack.send_raw(body, {}, signature="")
    stale = harness.slack.send_raw(body, {}, timestamp=int(time.time()) - 6 * 60)
    assert [forged.status_code, missing.status_code, stale.status_code] == [401, 401, 401]
    with harness.bot.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(audit_log)).scalar() == 0


def test_url_verification_answers_the_challenge(harness: Harness) -> None:
    response = harness.slack.url_verification(
        "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    )
    assert response.status_code == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in response.text


def test_secrets_typed_into_a_command_never_reach_slack_or_the_logs(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = harness.settings.signing_secret
    harness.slack.slash("/ops", f"{BOT_TOKEN} {secret}")
    answer = reply_to(harness, "U0ALICE")
    assert "[redacted]" in answer
    recorded = json.dumps([call.params for call in harness.workspace.calls])
    recorded += json.dumps([e.text for e in harness.workspace.ephemerals("C0DEV", "U0ALICE")])
    for value in (BOT_TOKEN, secret):
        assert value not in answer
        assert value not in recorded
        assert value not in caplog.text


def test_healthz_and_metrics(harness: Harness) -> None:
    harness.slack.slash("/ops", "help")
    reply_to(harness, "U0ALICE")
    base = harness.bot.http_server().url
    health = httpx.get(base + "/healthz")
    assert health.status_code == 200
    assert health.json()["ok"] is True
    metrics = httpx.get(base + "/metrics").text
    assert 'opsloop_commands_total{outcome="ok",verb="help"} 1.0' in metrics
    assert "opsloop_ack_seconds_count 1.0" in metrics
    # The standard collectors, the build's version, and no *_created twin of each series.
    assert "process_resident_memory_bytes " in metrics
    assert "process_cpu_seconds_total " in metrics
    assert 'python_info{implementation="CPython"' in metrics
    assert "python_gc_collections_total" in metrics
    assert f'opsloop_build_info{{version="{opsloop_version()}"}} 1.0' in metrics
    assert opsloop_version() != "unknown"
    assert "_created" not in metrics


def test_a_crashing_handler_is_reported_with_a_reference_and_audited(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(_invocation: Invocation) -> Reply:
        raise RuntimeError("disk on fire")

    harness.bot.registry.add(Verb("explode", "crashes", "Test", crash, direct=False))
    harness.slack.slash("/ops", "explode")
    answer = reply_to(harness, "U0ALICE")
    assert "`/ops` failed unexpectedly" in answer
    reference = answer.split("reference `")[1].split("`")[0]
    assert f"reference {reference}" in caplog.text
    assert "disk on fire" in caplog.text and "disk on fire" not in answer
    latest = harness.bot.services.audit.latest(1)[0]
    assert (latest.verb, latest.outcome) == ("explode", "error")


@pytest.mark.parametrize("length", ["-1", "abc", "1e3"])
def test_a_malformed_content_length_gets_400_without_waiting(harness: Harness, length: str) -> None:
    url = urlsplit(harness.bot.http_server().events_url)
    request = (
        f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Content-Length: {length}\r\nConnection: close\r\n\r\nx=1"
    )
    with socket.create_connection((url.hostname, url.port), timeout=REQUEST_DEADLINE) as raw:
        raw.sendall(request.encode())
        status_line = raw.makefile("rb").readline()
    assert status_line.split()[1] == b"400"


def test_the_bot_answers_to_prefixed_command_names(
    workspace: SlackWorkspace, settings: Settings
) -> None:
    # `opsloop manifest --prefix ops-` names the commands /ops-lock, /ops-ops ...
    prefixed = start_bot(
        workspace, replace(settings, command_prefix="ops-"), parse_config(CONFIG, {})
    )
    try:
        prefixed.slack.slash("/ops-lock", "list")
        assert "No environment is locked." in reply_to(prefixed, "U0ALICE")
        prefixed.slack.slash("/ops-ops", "help lock")
        assert "/lock list" in reply_to(prefixed, "U0ALICE", nth=2)
        prefixed.slack.slash("/ops-ship", "web 1.2.0 to staging")
        assert NOT_IN_PIPELINE in reply_to(prefixed, "U0ALICE", nth=3)
    finally:
        prefixed.bot.stop()
        prefixed.slack.close()


def test_a_command_while_the_store_does_not_answer_is_told_so(harness: Harness) -> None:
    from sqlalchemy.exc import OperationalError

    def down(_key: str) -> bool:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    harness.bot.router._d.events.claim = down  # type: ignore[method-assign]
    harness.slack.slash("/lock", "prod")
    assert "cannot reach its store right now, so nothing was done" in reply_to(harness, "U0ALICE")
