"""Pipelines in the store: one running pipeline per service and environment, decided by the
store (two processes answering a /ship at once never both store one)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import create_engine, text

from bot.core.ship.model import NewPipeline, PipelineState, finish, plan_steps
from bot.store.db import migrate, open_store
from bot.store.pipelines import SqlPipelineStore, pipelines

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _new(version: str, envs: tuple[str, ...], service: str = "web") -> NewPipeline:
    return NewPipeline(service, version, "HEAD", envs, "U0ALICE", "C0DEV", NOW)


def test_a_pipeline_through_an_env_a_running_one_holds_is_not_stored(database_url: str) -> None:
    store = SqlPipelineStore(open_store(database_url))
    first, created = store.create(
        _new("1.3.0", ("staging", "prod")), plan_steps(("staging", "prod"))
    )
    assert created
    holder, created = store.create(_new("1.4.0", ("prod",)), plan_steps(("prod",)))
    assert not created and holder.id == first.id
    other, created = store.create(_new("1.4.0", ("prod",), "api"), plan_steps(("prod",)))
    assert created, "another service's pipeline does not overlap"
    assert [p.id for p in store.running()] == [first.id, other.id]


def test_a_finished_pipeline_frees_its_environments(database_url: str) -> None:
    store = SqlPipelineStore(open_store(database_url))
    first, _created = store.create(_new("1.3.0", ("staging",)), plan_steps(("staging",)))
    store.save(finish(first, PipelineState.FAILED, NOW, "failed"))
    second, created = store.create(_new("1.4.0", ("staging",)), plan_steps(("staging",)))
    assert created and second.id != first.id


def test_pipelines_stored_at_the_same_moment_take_an_env_once(database_url: str) -> None:
    engine = open_store(database_url)
    go = threading.Barrier(6)
    results: list[bool] = []
    failures: list[BaseException] = []

    def ship(version: str) -> None:
        store = SqlPipelineStore(engine)
        go.wait()
        try:
            results.append(store.create(_new(version, ("prod",)), plan_steps(("prod",)))[1])
        except Exception as error:  # collected, so the test shows what went wrong
            failures.append(error)

    threads = [threading.Thread(target=ship, args=(f"1.{n}.0",), daemon=True) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert sorted(results) == [False] * 5 + [True]
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT COUNT(*) FROM pipelines")).scalar_one()
    assert rows == 1


def test_the_migration_gives_running_pipelines_their_slots(database_url: str) -> None:
    engine = create_engine(database_url)
    migrate(engine, "0006_pipelines")
    row = {
        "service": "web", "ref": "HEAD", "revision": "", "requester": "U0ALICE",
        "channel_id": "C0DEV", "message_ts": "", "steps": "[]", "previous": "[]",
        "cancel_requested_by": "", "detail": "", "created_at": NOW,
    }  # fmt: skip
    with engine.begin() as connection:
        for version, envs, state in [("1.3.0", '["staging", "prod"]', "running"),
                                     ("1.2.0", '["qa"]', "succeeded")]:  # fmt: skip
            connection.execute(pipelines.insert().values(**row, version=version, envs=envs,
                                                         state=state))  # fmt: skip
    migrate(engine)
    store = SqlPipelineStore(engine)
    holder, created = store.create(_new("1.4.0", ("prod",)), plan_steps(("prod",)))
    assert not created and holder.version == "1.3.0"
    _qa, created = store.create(_new("1.4.0", ("qa",)), plan_steps(("qa",)))
    assert created, "a finished pipeline holds nothing"
    engine.dispose()
