"""Where pipelines run: only in the process holding the singletons' lease, whose check loop
is the one that applies the check results a watch counts. Another process's /ship is stored
and taken up by the holder."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.core.clock import FakeClock
from bot.core.errors import Conflict
from bot.core.ship import desk as ship_desk
from bot.core.ship.desk import ShipAsk, ShipDesk
from bot.core.ship.model import Pipeline, PipelineState, StepKind, StepState
from bot.core.ship.run import PipelineRun, ShipDeps, StepEnd
from bot.core.ship.watching import ShipService, ShipSettings
from bot.core.values import MessageRef
from bot.store.db import open_store
from bot.store.pipelines import SqlPipelineStore
from tests.core.deploy.fakes import eventually

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SERVICE = ShipService("web", "./web", "127.0.0.1:5000/web", pipeline=("staging",))
ASK = ShipAsk("web", "1.3.0", "HEAD", None, "U0ALICE", "C0DEV")
QUIET = 0.3
"""Seconds a desk is given to run a step it must not run."""


class Steps:
    """Every step passes at once; which desk's run took each is recorded."""

    def __init__(self) -> None:
        self.ran: list[tuple[int, StepKind]] = []
        self._lock = threading.Lock()

    def __call__(self, run: PipelineRun, index: int) -> StepEnd:
        with self._lock:
            self.ran.append((run.p.id, run.p.steps[index].kind))
        return StepEnd(StepState.PASSED, "done")


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> Steps:
    fake = Steps()
    for kind in StepKind:
        monkeypatch.setitem(ship_desk.WORK, kind, fake)
    return fake


def _deps(tmp_path: Path) -> ShipDeps:
    store = SqlPipelineStore(open_store(f"sqlite:///{tmp_path / 'ship.db'}"))
    builds: Any = SimpleNamespace(
        deps=SimpleNamespace(registry=SimpleNamespace(tags=lambda _image: []),
                             engine=SimpleNamespace(check=lambda: None))
    )  # fmt: skip
    notifier: Any = SimpleNamespace(
        post=lambda channel, *_a, **_k: MessageRef(channel, "1700000000.000100"),
        update=lambda *_a, **_k: None,
    )
    outbox: Any = SimpleNamespace(post=lambda *_a, **_k: 1)
    return ShipDeps(
        settings=ShipSettings("C0OPS", {"web": SERVICE}), store=store, builds=builds,
        repository=lambda _s: SimpleNamespace(resolve=lambda _ref: "a" * 40),  # type: ignore[arg-type,return-value]
        deploys=None, feed=None, notifier=notifier, outbox=outbox,  # type: ignore[arg-type]
        clock=FakeClock(NOW), poll=0.02,
    )  # fmt: skip


def _state(deps: ShipDeps, pipeline_id: int) -> PipelineState:
    found = deps.store.get(pipeline_id)
    assert found is not None
    return found.state


def test_a_process_without_the_lease_stores_the_pipeline_and_runs_none_of_it(
    tmp_path: Path, steps: Steps
) -> None:
    deps = _deps(tmp_path)
    standby = ShipDesk(deps)
    pipeline = standby.ship(ASK)
    threading.Event().wait(QUIET)
    assert steps.ran == [], "a process whose check loop does not run must not run a watch"
    assert _state(deps, pipeline.id) is PipelineState.RUNNING
    holder = ShipDesk(deps)
    holder.resume()
    eventually(lambda: _state(deps, pipeline.id) is PipelineState.SUCCEEDED, "the holder ran it")
    assert [kind for _id, kind in steps.ran] == [StepKind.BUILD, StepKind.TEST, StepKind.RELEASE,
                                                 StepKind.APPROVAL, StepKind.DEPLOY,
                                                 StepKind.WATCH]  # fmt: skip
    holder.stop(5.0)


def test_the_holder_takes_up_a_pipeline_another_process_stored_after_it_took_the_lease(
    tmp_path: Path, steps: Steps
) -> None:
    deps = _deps(tmp_path)
    holder, standby = ShipDesk(deps), ShipDesk(deps)
    holder.resume()
    pipeline = standby.ship(ASK)
    threading.Event().wait(QUIET)
    assert steps.ran == []
    holder.adopt()
    eventually(lambda: _state(deps, pipeline.id) is PipelineState.SUCCEEDED, "the holder ran it")
    holder.stop(5.0)


def test_a_process_that_lost_the_lease_leaves_a_new_pipeline_to_the_next_holder(
    tmp_path: Path, steps: Steps
) -> None:
    deps = _deps(tmp_path)
    former = ShipDesk(deps)
    former.resume()
    former.stop(5.0)  # the lease went to another process
    pipeline = former.ship(ASK)
    former.adopt()
    threading.Event().wait(QUIET)
    assert steps.ran == [], "it would stop at its first pause and stay running for nobody"
    former.resume()  # it took the lease again
    eventually(lambda: _state(deps, pipeline.id) is PipelineState.SUCCEEDED, "it ran again")
    former.stop(5.0)


class ReadBeforeTheOther:
    """A store whose every running() reads before another process's /ship stores its
    pipeline, which that process does at this one's first read (two processes answering at
    the same moment: each checks, then each inserts)."""

    def __init__(self, store: SqlPipelineStore, other: ShipDesk) -> None:
        self._store = store
        self._other = other
        self.others: list[Pipeline] = []

    def running(self) -> list[Pipeline]:
        if not self.others:
            self.others.append(self._other.ship(ASK))
        hidden = {p.id for p in self.others}
        return [p for p in self._store.running() if p.id not in hidden]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def test_two_processes_shipping_at_once_store_one_pipeline_and_refuse_the_other(
    tmp_path: Path, steps: Steps
) -> None:
    deps = _deps(tmp_path)
    first = ShipDesk(deps)
    # The second process: a store of its own (its own engine) on the same database.
    own = SqlPipelineStore(open_store(f"sqlite:///{tmp_path / 'ship.db'}"))
    store: Any = ReadBeforeTheOther(own, first)
    second = ShipDesk(replace(deps, store=store))
    with pytest.raises(Conflict) as refused:
        second.ship(ASK)
    (stored,) = store.others
    assert (
        f"Pipeline #{stored.id} of `web` `1.3.0` to `staging` is running" in refused.value.message
    )
    assert [p.id for p in deps.store.running()] == [stored.id]
    assert steps.ran == []


def test_a_finished_pipeline_frees_its_environments_for_the_next_ship(
    tmp_path: Path, steps: Steps
) -> None:
    deps = _deps(tmp_path)
    holder = ShipDesk(deps)
    holder.resume()
    done = holder.ship(ASK)
    eventually(lambda: _state(deps, done.id) is PipelineState.SUCCEEDED, "the first one ran")
    again = holder.ship(ASK)
    eventually(lambda: _state(deps, again.id) is PipelineState.SUCCEEDED, "the next one ran")
    holder.stop(5.0)
