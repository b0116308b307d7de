"""Votes on a deploy request settle by Slack's event time, whatever order the router's
workers handle the events in; kept in a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.deploy.approvals import event_time
from bot.core.deploy.model import DeployKind, NewDeploy
from bot.store.db import open_store
from bot.store.deploys import SqlDeployStore

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ADDED, REMOVED = T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)


@pytest.fixture
def store(tmp_path: Path) -> SqlDeployStore:
    return SqlDeployStore(open_store(f"sqlite:///{tmp_path / 'deploys.db'}"))


def _request(store: SqlDeployStore) -> int:
    request, created = store.create(
        NewDeploy(
            kind=DeployKind.DEPLOY, service="web", env="prod", version="1.2.0",
            from_version=None, image="127.0.0.1:5000/web", digest="sha256:0", requester="U0ALICE",
            channel_id="C0DEV", approvals_needed=2, created_at=T0, expires_at=None, shipped="",
            changes=(),
        )
    )  # fmt: skip
    assert created
    return request.id


def _approvers(store: SqlDeployStore, request_id: int) -> tuple[str, ...]:
    request = store.get(request_id)
    assert request is not None
    return request.approved_by


def test_a_removal_handled_before_its_addition_leaves_no_vote(store: SqlDeployStore) -> None:
    request_id = _request(store)
    store.vote(request_id, "U0BOB", "+1", False, REMOVED)
    store.vote(request_id, "U0BOB", "+1", True, ADDED)
    assert _approvers(store, request_id) == ()
    assert store.votes(request_id) == []


def test_in_order_events_add_then_withdraw_then_add_again(store: SqlDeployStore) -> None:
    request_id = _request(store)
    store.vote(request_id, "U0BOB", "+1", True, ADDED)
    assert _approvers(store, request_id) == ("U0BOB",)
    store.vote(request_id, "U0BOB", "+1", False, REMOVED)
    assert _approvers(store, request_id) == ()
    store.vote(request_id, "U0BOB", "+1", True, REMOVED + timedelta(seconds=1))
    assert _approvers(store, request_id) == ("U0BOB",)


def test_a_stale_removal_does_not_withdraw_a_newer_vote(store: SqlDeployStore) -> None:
    request_id = _request(store)
    store.vote(request_id, "U0BOB", "+1", True, REMOVED)
    store.vote(request_id, "U0BOB", "+1", False, ADDED)
    assert _approvers(store, request_id) == ("U0BOB",)


def test_a_retried_event_counts_once_and_other_marks_are_separate(store: SqlDeployStore) -> None:
    request_id = _request(store)
    for _retry in range(3):
        store.vote(request_id, "U0BOB", "+1", True, ADDED)
    store.vote(request_id, "U0CAROL", "white_check_mark", False, REMOVED)
    store.vote(request_id, "U0CAROL", "+1", True, ADDED)
    assert store.votes(request_id) == [("U0BOB", "+1"), ("U0CAROL", "+1")]
    assert _approvers(store, request_id) == ("U0BOB", "U0CAROL")


def test_slack_event_times_parse_to_the_microsecond() -> None:
    assert event_time("1767603600.000001") == datetime(2026, 1, 5, 9, 0, 0, 1, tzinfo=UTC)
    assert event_time("1767603600.5") == datetime(2026, 1, 5, 9, 0, 0, 500000, tzinfo=UTC)
    assert event_time("1767603600") == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert event_time("") is None
    assert event_time("soon") is None
    assert event_time("1.2.3") is None
