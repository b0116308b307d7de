"""Pipelines' pure rules: the checklist, where a /ship stops, one at a time, step moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.errors import Conflict, InvalidTransition
from bot.core.listing import Filters
from bot.core.ship.model import (
    Pipeline,
    PipelineState,
    StepState,
    begin,
    end,
    finish,
    overlapping,
    pipeline_envs,
    plan_steps,
)
from bot.core.ship.views import checklist, pipelines_listing

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _pipeline(envs: tuple[str, ...] = ("staging", "prod"), **kw: object) -> Pipeline:
    fields: dict[str, object] = {
        "id": 7, "service": "web", "version": "1.2.0", "ref": "HEAD", "envs": envs,
        "requester": "U0ALICE", "channel_id": "C0DEV", "created_at": T0,
        "steps": plan_steps(envs),
    }  # fmt: skip
    fields.update(kw)
    return Pipeline(**fields)  # type: ignore[arg-type]


def test_the_checklist_is_build_test_release_then_approval_deploy_watch_per_env() -> None:
    names = [step.name for step in plan_steps(("staging", "prod"))]
    assert names == [
        "build", "test", "release",
        "approval for staging", "deploy to staging", "watch in staging",
        "approval for prod", "deploy to prod", "watch in prod",
    ]  # fmt: skip


def test_to_env_stops_the_pipeline_there() -> None:
    assert pipeline_envs(("staging", "prod"), "staging", "web") == ("staging",)
    assert pipeline_envs(("staging", "prod"), None, "web") == ("staging", "prod")


def test_an_env_outside_the_pipeline_is_refused_with_the_pipeline() -> None:
    with pytest.raises(Conflict, match=r"`qa` is not in the pipeline of `web` \(staging → prod\)"):
        pipeline_envs(("staging", "prod"), "qa", "web")


def test_a_service_without_environments_cannot_ship() -> None:
    with pytest.raises(Conflict, match="no environment to ship to"):
        pipeline_envs((), None, "web")


def test_a_running_pipeline_through_the_same_env_overlaps() -> None:
    running = _pipeline()
    assert overlapping([running], "web", ("prod",)) is running
    assert overlapping([running], "api", ("prod",)) is None
    assert overlapping([_pipeline(envs=("qa",))], "web", ("prod",)) is None
    assert overlapping([_pipeline(state=PipelineState.FAILED)], "web", ("prod",)) is None


def test_steps_move_from_waiting_to_their_end_with_a_duration() -> None:
    p = begin(_pipeline(), 0, T0, link="build-abc123")
    assert p.steps[0].state is StepState.RUNNING and p.current() == 0
    p = end(p, 0, StepState.PASSED, T0 + timedelta(seconds=3), "Built")
    assert p.steps[0].seconds() == 3.0
    assert p.steps[0].link == "build-abc123"
    assert p.current() == 1
    with pytest.raises(InvalidTransition):
        begin(p, 0, T0)


def test_finishing_skips_the_steps_that_never_ran() -> None:
    p = end(begin(_pipeline(), 0, T0), 0, StepState.FAILED, T0, "broken")
    done = finish(p, PipelineState.FAILED, T0, "Build: broken")
    assert [s.state for s in done.steps[1:]] == [StepState.SKIPPED] * 8
    assert done.current() is None
    with pytest.raises(InvalidTransition):
        finish(done, PipelineState.SUCCEEDED, T0, "again")


def test_the_message_shows_every_step_with_state_duration_and_link() -> None:
    p = end(begin(_pipeline(), 0, T0, "build-abc123"), 0, StepState.PASSED,
            T0 + timedelta(seconds=2.5), "Built")  # fmt: skip
    shown = str(checklist(p).blocks)
    assert ":white_check_mark: build (2.5s) · build-abc123 — Built" in shown
    assert ":white_circle: watch in prod" in shown
    assert "Pipeline #7: `web` `1.2.0` to staging → prod" in shown


def test_the_list_filters_by_env_state_and_mine() -> None:
    mine = _pipeline()
    other = _pipeline(id=8, envs=("qa",), requester="U0BOB", state=PipelineState.FAILED)
    listing = pipelines_listing([other, mine], Filters(envs=frozenset({"prod"})), "U0ALICE")
    assert [row.split()[1] for row in listing.rows] == ["#7"]
    assert "1 running" in listing.summary
    failed = pipelines_listing([other, mine], Filters(states=frozenset({"failed"})), "U0ALICE")
    assert [row.split()[1] for row in failed.rows] == ["#8"]
    only_mine = pipelines_listing([other, mine], Filters(mine=True), "U0ALICE")
    assert len(only_mine.rows) == 1
