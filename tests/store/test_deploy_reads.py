"""Reads of many deploy requests at once, on both databases: each request's votes when a
list reads them together, and every placement's newest succeeded request in one call."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.core.deploy.model import DeployKind, DeployState, NewDeploy
from bot.store.db import open_store
from bot.store.deploys import SqlDeployStore

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _new(service: str, env: str, version: str, user: str = "U0ALICE") -> NewDeploy:
    return NewDeploy(
        kind=DeployKind.DEPLOY, service=service, env=env, version=version, from_version=None,
        image=f"r/{service}", digest="", requester=user, channel_id="C0DEV",
        approvals_needed=2, created_at=AT, expires_at=None, shipped="", changes=(),
    )  # fmt: skip


def _finish(store: SqlDeployStore, request_id: int, end: DeployState) -> None:
    store.transition(request_id, DeployState.PENDING, DeployState.APPROVED, AT)
    store.transition(request_id, DeployState.APPROVED, DeployState.RUNNING, AT)
    store.transition(request_id, DeployState.RUNNING, end, AT)


def test_a_list_of_requests_carries_each_ones_own_votes(database_url: str) -> None:
    store = SqlDeployStore(open_store(database_url))
    first, _ = store.create(_new("web", "prod", "1.0.0"))
    second, _ = store.create(_new("api", "prod", "1.0.0"))
    store.vote(first.id, "U0BOB", "button:approve", True, AT)
    store.vote(second.id, "U0CAROL", "button:approve", True, AT + timedelta(seconds=1))
    store.vote(first.id, "U0DAVE", "button:approve", True, AT + timedelta(seconds=2))
    store.vote(first.id, "U0DAVE", "button:approve", False, AT + timedelta(seconds=3))  # withdrawn
    listed = {r.id: r for r in store.recent(None, 10)}
    assert listed[first.id].approved_by == store.get(first.id).approved_by  # type: ignore[union-attr]
    assert listed[first.id].approved_by == ("U0BOB",)
    assert listed[second.id].approved_by == ("U0CAROL",)


def test_the_newest_succeeded_request_of_every_placement_at_once(database_url: str) -> None:
    store = SqlDeployStore(open_store(database_url))
    old, _ = store.create(_new("web", "prod", "1.0.0"))
    _finish(store, old.id, DeployState.SUCCEEDED)
    new, _ = store.create(_new("web", "prod", "1.1.0", user="U0BOB"))
    _finish(store, new.id, DeployState.SUCCEEDED)
    failed, _ = store.create(_new("web", "prod", "1.2.0"))
    _finish(store, failed.id, DeployState.FAILED)
    staging, _ = store.create(_new("web", "staging", "1.2.0"))
    _finish(store, staging.id, DeployState.SUCCEEDED)
    store.create(_new("api", "prod", "2.0.0"))  # pending: never succeeded

    latest = store.latest_succeeded()
    assert set(latest) == {("web", "prod"), ("web", "staging")}
    assert (latest["web", "prod"].version, latest["web", "prod"].requester) == ("1.1.0", "U0BOB")
    assert latest["web", "staging"].id == staging.id


def test_scales_and_restarts_are_not_the_last_deploy(database_url: str) -> None:
    store = SqlDeployStore(open_store(database_url))
    shipped, _ = store.create(_new("web", "prod", "1.1.0", user="U0BOB"))
    _finish(store, shipped.id, DeployState.SUCCEEDED)
    for kind in (DeployKind.SCALE, DeployKind.RESTART):
        later, _ = store.create(replace(_new("web", "prod", "1.1.0"), kind=kind, replicas=3))
        _finish(store, later.id, DeployState.SUCCEEDED)
    scaled, _ = store.create(replace(_new("api", "prod", "2.0.0"), kind=DeployKind.SCALE))
    _finish(store, scaled.id, DeployState.SUCCEEDED)

    assert [r.id for r in store.last_succeeded("web", "prod", 5)] == [shipped.id]
    assert store.last_succeeded("api", "prod", 5) == []
    latest = store.latest_succeeded()
    assert set(latest) == {("web", "prod")} and latest["web", "prod"].id == shipped.id
