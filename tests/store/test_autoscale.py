"""The autoscaler's memory survives reopening the store, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.operate.model import AutoscaleState
from bot.store.autoscale import SqlAutoscaleStore
from bot.store.db import open_store

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
