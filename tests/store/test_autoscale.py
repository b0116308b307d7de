"""The autoscaler's memory survives reopening the store, and only a running deploy pauses
it, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.deploy.model import DeployKind, DeployState, NewDeploy
from bot.core.operate.model import AutoscaleState
from bot.store.autoscale import SqlAutoscaleStore
from bot.store.db import open_store
from bot.store.deploys import SqlDeployStore

AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_paused_flag_and_history_survive_a_reopen(database_url: str) -> None:
    engine = open_store(database_url)
    store = SqlAutoscaleStore(engine)
    assert store.get("web", "prod") == AutoscaleState("web", "prod")
    history = ((AT, 3), (AT + timedelta(seconds=15), 2))
    store.save(AutoscaleState("web", "prod", True, "U0ALICE", history), AT)
    store.save(AutoscaleState("web", "staging", False, None, ()), AT)
    engine.dispose()

    again = SqlAutoscaleStore(open_store(database_url))
    assert again.get("web", "prod") == AutoscaleState("web", "prod", True, "U0ALICE", history)
    assert again.get("web", "staging") == AutoscaleState("web", "staging")
    again.save(AutoscaleState("web", "prod", False, None, ()), AT)
    assert again.get("web", "prod").paused is False


def _new(kind: DeployKind) -> NewDeploy:
    return NewDeploy(
        kind=kind, service="web", env="prod", version="1.0.0", from_version=None,
        image="r/web", digest="", requester="U0ALICE", channel_id="C0DEV", approvals_needed=0,
        created_at=AT, expires_at=None, shipped="", changes=(), replicas=3, from_replicas=1,
        reason="spike",
    )  # fmt: skip


def test_only_a_running_deploy_counts_as_deploying(database_url: str) -> None:
    store = SqlDeployStore(open_store(database_url))
    scale, _ = store.create(_new(DeployKind.SCALE))
    assert (scale.replicas, scale.from_replicas, scale.reason) == (3, 1, "spike")
    store.transition(scale.id, DeployState.PENDING, DeployState.APPROVED, AT)
    store.transition(scale.id, DeployState.APPROVED, DeployState.RUNNING, AT)
    assert not store.deploying("web", "prod")  # a scale does not pause the autoscaler
    store.transition(scale.id, DeployState.RUNNING, DeployState.SUCCEEDED, AT)

    deploy, _ = store.create(_new(DeployKind.DEPLOY))
    assert not store.deploying("web", "prod")  # pending: not yet
    store.transition(deploy.id, DeployState.PENDING, DeployState.APPROVED, AT)
    store.transition(deploy.id, DeployState.APPROVED, DeployState.RUNNING, AT)
    assert store.deploying("web", "prod") and not store.deploying("web", "staging")
    store.transition(deploy.id, DeployState.RUNNING, DeployState.SUCCEEDED, AT)
    assert not store.deploying("web", "prod")
