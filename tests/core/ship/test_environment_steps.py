"""A pipeline's environment steps over the real deploy desk (fake engine and Slack, SQLite):
approvals as /deploy's, the watch's verdicts, the automatic rollback, cancel and resume."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.core.deploy.desk import Ask, DeployDesk
from bot.core.deploy.model import DeployKind, DeployRequest, DeployState, Running
from bot.core.outbox import Outbox
from bot.core.ship.desk import WORK
from bot.core.ship.model import (
    NewPipeline,
    Pipeline,
    PipelineState,
    StepKind,
    StepState,
    begin,
    end,
    plan_steps,
)
from bot.core.ship.ports import Firing
from bot.core.ship.run import PipelineRun, ShipDeps
from bot.core.ship.watching import Sample, ShipService, ShipSettings
from bot.store.db import open_store
from bot.store.pipelines import SqlPipelineStore
from tests.core.deploy.fakes import Desk, Images, Releases, eventually, make_desk

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
SERVICE = ShipService("web", "./web", "127.0.0.1:5000/web", pipeline=("staging", "prod"),
                      watch=(("staging", 5.0), ("prod", 5.0)), min_samples=2,
                      check_interval=0.05)  # fmt: skip


class Feed:
    """The Monitor stage's results, as the test hands them in."""

    def __init__(self) -> None:
        self.observers: list[Callable[[Sample], None]] = []
        self.alerts: list[Firing] = []

    def observe(
        self, service: str, env: str, on_sample: Callable[[Sample], None]
    ) -> Callable[[], None]:
        self.observers.append(on_sample)
        return lambda: self.observers.remove(on_sample)

    def firing(self, service: str, env: str, since: Any) -> list[Firing]:
        return list(self.alerts)

    def emit(self, passed: bool, detail: str) -> None:
        eventually(lambda: self.observers, "a watch observing")
        for observer in list(self.observers):
            observer(Sample(passed, "http", "container", detail, NOW))


class RunningOld:
    """The fake engine, running 1.2.0 before the pipeline."""

    def __init__(self, engine: Any) -> None:
        engine.running = lambda target: Running("1.2.0", "1", True)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Desk, SqlPipelineStore, Feed, ShipDeps]]:
    desk = make_desk(tmp_path, Images("1.2.0", "1.3.0"), Releases("1.2.0", "1.3.0"))
    RunningOld(desk.engine)
    store = SqlPipelineStore(open_store(f"sqlite:///{tmp_path / 'deploys.db'}"))
    feed = Feed()
    deps = ShipDeps(
        settings=ShipSettings("C0OPS", {"web": SERVICE}), store=store,
        builds=None,  # type: ignore[arg-type]  (the job steps are not run here)
        repository=lambda _s: None,  # type: ignore[arg-type,return-value]
        deploys=desk.desk, feed=feed, notifier=desk.slack,
        outbox=Outbox(desk.outbox, desk.clock), clock=desk.clock, poll=0.02,
    )  # fmt: skip
    yield desk, store, feed, deps
    desk.desk.stop_background()


def _released(store: SqlPipelineStore, envs: tuple[str, ...]) -> Pipeline:
    """A pipeline of web 1.3.0 whose build, test and release passed."""
    new = NewPipeline("web", "1.3.0", "HEAD", envs, "U0ALICE", "C0DEV", NOW)
    p, _created = store.create(new, plan_steps(envs))
    for index in range(3):
        p = end(p, index, StepState.PASSED, NOW, "done")
    p = replace(p, message_ts="1700000000.000001", revision="a" * 40)
    store.save(p)
    return p


def _run(deps: ShipDeps, p: Pipeline, resumed: bool = False) -> threading.Thread:
    run = PipelineRun(deps, p, WORK, threading.Event(), resumed)
    thread = threading.Thread(target=run.run, daemon=True)
    thread.start()
    return thread


def _state(store: SqlPipelineStore, p: Pipeline, state: PipelineState) -> Pipeline:
    return eventually(
        lambda: (q := store.get(p.id)) is not None and q.state is state and q, state.value
    )


def test_a_watch_with_enough_passed_checks_promotes_and_ends_succeeded(setup: Any) -> None:
    desk, store, feed, deps = setup
    p = _released(store, ("staging",))
    _run(deps, p)
    for _ in range(2):
        feed.emit(True, "200 in 2 ms")
    desk.clock.advance(5)
    done = _state(store, p, PipelineState.SUCCEEDED)
    assert [s.state for s in done.steps] == [StepState.PASSED] * 6
    assert done.steps[3].detail == "none needed"
    assert "2 check(s) passed in 5s" in done.steps[5].detail


def test_no_data_is_not_success(setup: Any) -> None:
    desk, store, feed, deps = setup
    p = _released(store, ("staging",))
    _run(deps, p)
    eventually(lambda: feed.observers, "the watch")
    desk.clock.advance(5)
    done = _state(store, p, PipelineState.ROLLED_BACK)
    assert "only 0 passed check(s) in 5s" in done.steps[5].detail


def test_a_failing_check_rolls_the_env_back_to_what_ran_before_without_asking(setup: Any) -> None:
    desk, store, feed, deps = setup
    p = _released(store, ("staging", "prod"))
    _run(deps, p)
    feed.emit(True, "200 in 2 ms")
    feed.emit(False, "HTTP 404 from /health")
    done = _state(store, p, PipelineState.ROLLED_BACK)
    watch = done.steps[5]
    assert watch.state is StepState.FAILED and watch.link.startswith("rollback #")
    assert "the http check failed: HTTP 404 from /health" in watch.detail
    rollback = desk.store.recent(None, 5)[0]
    assert (rollback.kind, rollback.version, rollback.approvals_needed) == (
        DeployKind.ROLLBACK, "1.2.0", 0)  # fmt: skip
    assert rollback.state is DeployState.SUCCEEDED
    assert [s.state for s in done.steps[6:]] == [StepState.SKIPPED] * 3  # prod untouched


def test_a_firing_alert_fails_the_watch(setup: Any) -> None:
    _desk, store, feed, deps = setup
    feed.alerts.append(Firing("HighErrorRate", "alertmanager", "5% of requests fail"))
    p = _released(store, ("staging",))
    _run(deps, p)
    done = _state(store, p, PipelineState.ROLLED_BACK)
    assert "an alert from alertmanager fired: HighErrorRate" in done.steps[5].detail


def test_prod_waits_for_its_approval_and_cancel_withdraws_it(setup: Any) -> None:
    desk, store, feed, deps = setup
    p = _released(store, ("prod",))
    _run(deps, p)
    request = eventually(lambda: desk.store.recent(None, 5), "the request")[0]
    assert request.state is DeployState.PENDING and request.approvals_needed == 1
    store.request_cancel(p.id, "U0ALICE")
    done = _state(store, p, PipelineState.CANCELLED)
    assert "withdrawn: cancelled by <@U0ALICE>" in done.steps[3].detail
    assert desk.store.get(request.id).state is DeployState.FAILED  # type: ignore[union-attr]
    del feed


def test_an_approval_by_reaction_lets_the_deploy_run(setup: Any) -> None:
    desk, store, feed, deps = setup
    p = _released(store, ("prod",))
    _run(deps, p)
    request = eventually(lambda: desk.store.recent(None, 5), "the request")[0]
    assert desk.desk.vote(request, "U0ALICE", "white_check_mark", True) is not None  # self
    assert desk.desk.vote(request, "U0BOB", "white_check_mark", True) is None
    feed.emit(True, "ok")
    feed.emit(True, "ok")
    desk.clock.advance(5)
    done = _state(store, p, PipelineState.SUCCEEDED)
    assert done.steps[3].detail == "approved by <@U0BOB>"


def test_a_resumed_watch_says_it_starts_again(setup: Any) -> None:
    desk, store, feed, deps = setup
    p = _released(store, ("staging",))
    stopping = threading.Event()
    run = PipelineRun(deps, p, WORK, stopping)
    thread = threading.Thread(target=run.run, daemon=True)
    thread.start()
    eventually(lambda: feed.observers, "the first watch")
    stopping.set()
    run.wake()
    thread.join(5)
    assert store.get(p.id).state is PipelineState.RUNNING  # type: ignore[union-attr]
    _run(deps, store.get(p.id), resumed=True)  # type: ignore[arg-type]
    eventually(lambda: any("starts its 5s window again" in text for _c, text in desk.slack.posts),
               "the resumed watch says so")  # fmt: skip
    feed.emit(True, "ok")
    feed.emit(True, "ok")
    desk.clock.advance(5)
    _state(store, p, PipelineState.SUCCEEDED)


def test_someone_elses_lock_stops_the_pipeline_with_the_lock_named(setup: Any) -> None:
    desk, store, _feed, deps = setup
    desk.desk.locks.lock("staging", "U0BOB", "migrating the database", 600, "C0OPS")
    p = _released(store, ("staging",))
    _run(deps, p)
    done = _state(store, p, PipelineState.FAILED)
    assert done.steps[3].state is StepState.FAILED
    assert "<@U0BOB>" in done.steps[3].detail and "migrating the database" in done.steps[3].detail
    assert desk.store.recent(None, 5) == []


def test_a_restart_during_the_rollback_sees_it_through_and_never_promotes(setup: Any) -> None:
    desk, store, feed, deps = setup
    p = _released(store, ("staging", "prod"))
    # Before the restart: staging got 1.3.0, its watch failed and filed the rollback.
    p = end(p, 3, StepState.PASSED, NOW, "none needed")
    p = end(begin(p, 4, NOW, "deploy #1"), 4, StepState.PASSED, NOW, "deployed")
    rollback = desk.desk.request_now(
        Ask(DeployKind.ROLLBACK, "web", "staging", "1.2.0", "U0ALICE", "C0DEV", ""), approvals=0
    )
    p = replace(begin(p, 5, NOW, f"rollback #{rollback.id}"), previous=(("staging", "1.2.0"),))
    store.save(p)
    _run(deps, p, resumed=True)
    done = _state(store, p, PipelineState.ROLLED_BACK)
    assert feed.observers == [], "the version that failed its watch is not watched again"
    assert done.steps[5].state is StepState.FAILED
    assert f"rollback #{rollback.id} to `1.2.0` succeeded" in done.steps[5].detail
    assert [s.state for s in done.steps[6:]] == [StepState.SKIPPED] * 3  # prod untouched
    assert [r.id for r in desk.store.recent(None, 5)] == [rollback.id], "no second request"


class Crash(BaseException):
    """The process dies here (nothing after it runs, nothing catches it)."""


class CrashAfterFiling:
    """The deploy desk of a process that dies right after filing a request, before the
    pipeline links it."""

    def __init__(self, desk: DeployDesk) -> None:
        self._desk = desk

    def request_now(self, ask: Ask, *, approvals: int | None = None) -> DeployRequest:
        self._desk.request_now(ask, approvals=approvals)
        raise Crash()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._desk, name)


def _crash_in(deps: ShipDeps, p: Pipeline, index: int) -> None:
    """Run step `index` of `p` in a process that dies right after filing its request."""
    p = begin(p, index, NOW)
    deps.store.save(p)
    crashing = replace(deps, deploys=CrashAfterFiling(deps.deploys))  # type: ignore[arg-type]
    with pytest.raises(Crash):
        WORK[p.steps[index].kind](PipelineRun(crashing, p, WORK, threading.Event()), index)


def test_a_restart_right_after_filing_the_deploy_waits_for_that_request(setup: Any) -> None:
    desk, store, feed, deps = setup
    p = _released(store, ("prod",))
    _crash_in(deps, p, 3)
    (filed,) = desk.store.recent(None, 5)
    assert filed.state is DeployState.PENDING
    _run(deps, store.get(p.id), resumed=True)  # type: ignore[arg-type]
    said = f"Deploy #{filed.id} to `prod` filed before the restart"
    eventually(lambda: any(said in text for _c, text in desk.slack.posts), "it took it up")
    assert desk.desk.vote(filed, "U0BOB", "white_check_mark", True) is None
    feed.emit(True, "ok")
    feed.emit(True, "ok")
    desk.clock.advance(5)
    done = _state(store, p, PipelineState.SUCCEEDED)
    assert done.steps[3].detail == "approved by <@U0BOB>"
    assert done.steps[3].link == done.steps[4].link == f"deploy #{filed.id}"
    assert done.previous == (("prod", "1.2.0"),)
    assert [r.id for r in desk.store.recent(None, 5)] == [filed.id], "no second request"


def test_a_restart_right_after_filing_the_rollback_sees_that_one_through(setup: Any) -> None:
    desk, store, feed, deps = setup
    p = _released(store, ("staging", "prod"))
    p = end(p, 3, StepState.PASSED, NOW, "none needed")
    p = end(begin(p, 4, NOW, "deploy #1"), 4, StepState.PASSED, NOW, "deployed")
    p = replace(p, previous=(("staging", "1.2.0"),))
    feed.alerts.append(Firing("HighErrorRate", "alertmanager", "5% of requests fail"))
    _crash_in(deps, p, 5)
    (rollback,) = desk.store.recent(None, 5)
    assert (rollback.kind, rollback.version) == (DeployKind.ROLLBACK, "1.2.0")
    _run(deps, store.get(p.id), resumed=True)  # type: ignore[arg-type]
    done = _state(store, p, PipelineState.ROLLED_BACK)
    assert done.steps[5].link == f"rollback #{rollback.id}"
    assert f"rollback #{rollback.id} to `1.2.0` succeeded" in done.steps[5].detail
    assert [s.state for s in done.steps[6:]] == [StepState.SKIPPED] * 3  # prod untouched
    assert [r.id for r in desk.store.recent(None, 5)] == [rollback.id], "no second request"


def test_a_restart_before_the_rollback_was_filed_files_it_without_watching_again(
    setup: Any,
) -> None:
    desk, store, feed, deps = setup
    p = _released(store, ("staging", "prod"))
    p = end(p, 3, StepState.PASSED, NOW, "none needed")
    p = end(begin(p, 4, NOW, "deploy #1"), 4, StepState.PASSED, NOW, "deployed")
    p = replace(begin(p, 5, NOW, f"filing rollback at {NOW.isoformat()}"),
                previous=(("staging", "1.2.0"),))  # fmt: skip
    store.save(p)
    _run(deps, p, resumed=True)
    done = _state(store, p, PipelineState.ROLLED_BACK)
    assert feed.observers == [], "the version that failed its watch is not watched again"
    (rollback,) = desk.store.recent(None, 5)
    assert (rollback.kind, rollback.version, rollback.state) == (
        DeployKind.ROLLBACK, "1.2.0", DeployState.SUCCEEDED)  # fmt: skip
    assert done.steps[5].link == f"rollback #{rollback.id}"
    assert StepKind.WATCH is done.steps[5].kind
