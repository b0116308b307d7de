"""Hostile and malformed input through the real HTTP edge: crafted bodies, odd headers and
replayed requests get the right status code, one log line, and change nothing."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from bot.config import parse_config
from bot.settings import Settings
from bot.store.tables import audit_log
from bot.workspace import SlackWorkspace
from tests.scenarios.conftest import Harness, start_bot
from tests.scenarios.replies import reply_to

DEADLINE = 10.0


def _audited(harness: Harness) -> list[tuple[str, str, str]]:
    query = select(audit_log.c.verb, audit_log.c.outcome, audit_log.c.detail).order_by(
        audit_log.c.id
    )
    with harness.bot.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(query).all()]  # type: ignore[misc]


def _form(harness: Harness, **fields: str) -> bytes:
    """A slash command's form as Slack sends it, with some fields changed."""
    base = {
        "token": "unused", "team_id": "T0OPSLOOP", "team_domain": "opsloop",
        "channel_id": "C0DEV", "channel_name": "dev", "user_id": "U0ALICE",
        "user_name": "alice", "command": "/ops", "text": "help",
        "response_url": harness.workspace.new_response_url("C0DEV", "U0ALICE"),
        "trigger_id": "1.2.payload-test",
    }  # fmt: skip
    return urlencode({**base, **fields}).encode()


@pytest.mark.parametrize(
    "fields",
    [
        {"channel_name": "payload-team"},
        {"user_name": "payload"},
        {"team_domain": "payload-parsers"},
    ],
)
def test_a_slash_command_that_says_payload_is_read_as_a_slash_command(
    harness: Harness, fields: dict[str, str]
) -> None:
    response = harness.slack.send_raw(_form(harness, **fields))
    assert response.status_code == 200
    assert "`/ops audit [filters...]`" in reply_to(harness, "U0ALICE")


def test_a_lock_reason_that_says_payload_takes_the_lock(harness: Harness) -> None:
    response = harness.slack.slash("/lock", "staging fixing payload parser")
    assert response.status_code == 200
    harness.workspace.wait_for(
        lambda: harness.workspace.messages("C0DEV"), timeout=DEADLINE, description="lock answer"
    )
    [answer] = harness.workspace.messages("C0DEV")
    assert "locked `staging` (fixing payload parser)" in answer.text


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"payload=notjson", "application/x-www-form-urlencoded"),
        (b"payload=%7B", "application/x-www-form-urlencoded"),
        (b"payload=%5B%5D", "application/x-www-form-urlencoded"),
        (b"{", "application/json"),
        (b"[]", "application/json"),
        (b'"payload"', "application/json"),
    ],
)
def test_a_malformed_body_gets_400_and_one_log_line(
    harness: Harness, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str
) -> None:
    caplog.set_level(logging.INFO)
    response = harness.slack.send_raw(body, {"Content-Type": content_type})
    assert response.status_code == 400
    edge_lines = [r for r in caplog.records if r.name.startswith("bot.slack")]
    assert [r.levelno for r in edge_lines] == [logging.WARNING]
    assert not any(r.exc_info for r in caplog.records)
    assert "Traceback" not in caplog.text
    assert _audited(harness) == []


@pytest.mark.parametrize(
    ("signature", "age"),
    [("v0=" + "0" * 64, 0), ("", 0), (None, 6 * 60)],
    ids=["forged", "unsigned", "stale"],
)
@pytest.mark.parametrize("readable", [True, False], ids=["form", "malformed"])
def test_a_request_not_signed_by_slack_is_refused_before_its_body_is_read_or_logged(
    harness: Harness,
    caplog: pytest.LogCaptureFixture,
    signature: str | None,
    age: int,
    readable: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = "hunter2-" + "x" * 8
    body = _form(harness, text=marker) if readable else f"payload={marker}".encode()
    stamp = int(time.time()) - age
    response = harness.slack.send_raw(body, timestamp=stamp, signature=signature)
    assert response.status_code == 401  # not 400: who sent it is settled before what it says
    assert marker not in caplog.text
    edge_lines = [
        r for r in caplog.records if r.name.startswith("bot.slack") and r.levelno > logging.DEBUG
    ]
    assert [r.levelno for r in edge_lines] == [logging.WARNING]
    assert "not sent by Slack" in edge_lines[0].getMessage()
    assert _audited(harness) == []


@pytest.mark.parametrize("timestamp", ["abc", "1e9", "-5", "12.5", ""])
def test_a_timestamp_that_is_not_a_number_gets_401(harness: Harness, timestamp: str) -> None:
    response = harness.slack.send_raw(
        _form(harness), {"X-Slack-Request-Timestamp": timestamp}, signature="v0=" + "0" * 64
    )
    assert response.status_code == 401
    assert _audited(harness) == []


def test_a_replayed_slash_command_is_refused_also_after_a_restart(harness: Harness) -> None:
    first = harness.slack.slash("/ops", "help", trigger_id="4242.1337.replayed")
    assert first.status_code == 200
    assert "/ops help" in reply_to(harness, "U0ALICE")
    again = harness.slack.slash("/ops", "help", trigger_id="4242.1337.replayed")
    assert again.status_code == 200  # acknowledged, as Slack expects; then refused
    harness.workspace.wait_for(
        lambda: len(_audited(harness)) == 2, timeout=DEADLINE, description="the replay audited"
    )
    restarted = harness.restart()
    try:
        restarted.slack.slash("/ops", "help", trigger_id="4242.1337.replayed")
        restarted.bot.workers.shutdown(wait=True)
        assert [(verb, outcome) for verb, outcome, _ in _audited(restarted)] == [
            ("help", "ok"), ("ops", "denied"), ("ops", "denied"),
        ]  # fmt: skip
        assert "replay" in _audited(restarted)[1][2]
        assert len(restarted.workspace.ephemerals("C0DEV", "U0ALICE")) == 1
    finally:
        restarted.bot.stop()
        restarted.slack.close()


def test_services_never_shows_repository_credentials_whatever_their_length(
    workspace: SlackWorkspace, settings: Settings
) -> None:
    config = parse_config(
        "slack:\n  ops_channel: C0OPS\nservices:\n  web:\n"
        "    repo: https://bot:p&ss@git.example.com/web.git\n"
        "    image: 127.0.0.1:5000/web\n",
        {},
    )
    harness = start_bot(workspace, settings, config)
    try:
        harness.slack.slash("/services", "")
        answer = reply_to(harness, "U0ALICE")
        (listed,) = workspace.ephemerals("C0DEV", "U0ALICE")
        export = next(
            element
            for block in listed.blocks or []
            if block["type"] == "actions"
            for element in block["elements"]
            if element["action_id"] == "list.export"
        )
        harness.slack.block_action("U0ALICE", "C0DEV", listed.ts, "list.export", export["value"])
        workspace.wait_for(lambda: any(f.completed for f in workspace.files()), timeout=10)
        (shared,) = workspace.files()
        exported = bytes(shared.content or b"").decode()
    finally:
        harness.bot.stop()
        harness.slack.close()
    # The list's rows are compact; the repository shows in the export.
    assert "git.example.com/web.git" in exported
    sent = repr([call.params for call in workspace.calls])
    for shown in (answer, sent, exported):
        assert "p&ss" not in shown
        assert "p&amp;ss" not in shown
        assert "bot:" not in shown
