"""`/ops processes`, /healthz and /metrics show which process holds the singletons lease;
two bots on one PostgreSQL run the singleton work in one of them, and the other takes the
lease over when the first stops."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from bot.config import parse_config
from bot.settings import Settings
from bot.workspace import SlackWorkspace
from tests.scenarios.conftest import CONFIG, Harness, start_bot
from tests.scenarios.replies import reply_to
from tests.support.postgres import fresh_schema

DEADLINE = 10.0


def _health(harness: Harness) -> dict[str, object]:
    reply = httpx.get(harness.bot.http_server().url + "/healthz").json()
    assert isinstance(reply, dict)
    return reply


def _metrics(harness: Harness) -> str:
    return httpx.get(harness.bot.http_server().url + "/metrics").text


def test_a_lone_process_holds_the_lease_and_says_so(harness: Harness) -> None:
    keeper = harness.bot.keeper
    assert keeper is not None
    me = keeper.process_id
    harness.slack.slash("/ops", "processes")
    answer = reply_to(harness, "U0ALICE")
    assert "1 alive" in answer
    assert f"`{me}` (this one): pid {os.getpid()}" in answer
    assert "holds `singletons`" in answer
    assert f"`singletons`: held by `{me}` since " in answer and "(epoch 1," in answer
    assert _health(harness)["leases"] == ["singletons"]
    assert _health(harness)["process_id"] == me
    metrics = _metrics(harness)
    assert 'opsloop_lease_held{lease="singletons"} 1.0' in metrics
    assert f'opsloop_process_info{{process_id="{me}"}} 1.0' in metrics


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL."""
    with fresh_schema() as url:
        yield url


def test_two_bots_on_postgresql_run_the_singletons_in_one_and_hand_over_on_stop(
    workspace: SlackWorkspace, settings: Settings, postgres_url: str
) -> None:
    shared = replace(settings, database_url=postgres_url, lease_seconds=3.0)
    config = parse_config(CONFIG, {})
    first = start_bot(workspace, shared, config)
    second = start_bot(workspace, shared, config)
    try:
        assert first.bot.keeper is not None and second.bot.keeper is not None
        ids = (first.bot.keeper.process_id, second.bot.keeper.process_id)
        assert _health(first)["leases"] == ["singletons"]
        assert _health(second)["leases"] == []
        assert 'opsloop_lease_held{lease="singletons"} 0.0' in _metrics(second)
        second.slack.slash("/ops", "processes")
        answer = reply_to(second, "U0ALICE")
        assert "2 alive" in answer
        assert f"`{ids[0]}`: pid" in answer and f"`{ids[1]}` (this one): pid" in answer
        assert f"`singletons`: held by `{ids[0]}`" in answer
        first.bot.stop()  # gives the lease up: the second takes it at its next round
        workspace.wait_for(lambda: _health(second)["leases"] == ["singletons"], DEADLINE)
        assert 'opsloop_lease_held{lease="singletons"} 1.0' in _metrics(second)
        lease = second.bot.keeper.lease
        assert lease is not None and lease.epoch == 2
    finally:
        first.bot.stop()
        second.bot.stop()
