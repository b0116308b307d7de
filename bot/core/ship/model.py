"""Pipelines: one /ship as an ordered checklist of the stages' own runs.

    build ▸ test ▸ release ▸ for each environment: approval ▸ deploy ▸ watch

A pipeline is running until a step fails (failed), a watch fails and its environment is
rolled back (rolled_back), someone cancels it (cancelled, after the running step), or every
step passed (succeeded). Steps are stored with the pipeline, so a restart resumes at the
first step that has not ended. Pure values and rules; the store is a port.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.core.errors import Conflict, InvalidTransition


class StepKind(StrEnum):
    """What a step runs: a stage's job, a deploy request, or a watch of its checks."""

    BUILD = "build"
    TEST = "test"
    RELEASE = "release"
    APPROVAL = "approval"
    DEPLOY = "deploy"
    WATCH = "watch"


class StepState(StrEnum):
    """Where a step is."""

    WAITING = "waiting"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"

    @property
    def ended(self) -> bool:
        """Passed, failed or skipped: the pipeline will not run it again."""
        return self in (StepState.PASSED, StepState.FAILED, StepState.SKIPPED)


class PipelineState(StrEnum):
    """Where a pipeline is."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """Nothing runs any more."""
        return self is not PipelineState.RUNNING


@dataclass(frozen=True, slots=True)
class Step:
    """One line of the checklist. `link` is the stage's own id (a job id, `deploy #12`)."""

    kind: StepKind
    env: str | None = None
    state: StepState = StepState.WAITING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    detail: str = ""
    link: str = ""

    @property
    def name(self) -> str:
        """`build`, or `deploy to staging`."""
        if self.env is None:
            return self.kind.value
        joiner = (
            "to"
            if self.kind is StepKind.DEPLOY
            else "for"
            if self.kind is StepKind.APPROVAL
            else "in"
        )
        return f"{self.kind.value} {joiner} {self.env}"

    def seconds(self) -> float | None:
        """How long it ran, once it ended."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class NewPipeline:
    """A /ship as asked, before it is stored."""

    service: str
    version: str
    ref: str
    envs: tuple[str, ...]
    requester: str
    channel_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Pipeline:
    """One stored /ship."""

    id: int
    service: str
    version: str
    ref: str
    envs: tuple[str, ...]
    requester: str
    channel_id: str
    created_at: datetime
    steps: tuple[Step, ...]
    state: PipelineState = PipelineState.RUNNING
    revision: str = ""
    message_ts: str = ""
    cancel_requested_by: str = ""
    finished_at: datetime | None = None
    detail: str = ""
    previous: tuple[tuple[str, str], ...] = field(default=())
    """(env, version) each environment ran before this pipeline deployed there."""

    def current(self) -> int | None:
        """The index of the first step that has not ended; None when all have."""
        for index, step in enumerate(self.steps):
            if not step.state.ended:
                return index
        return None

    def previous_version(self, env: str) -> str | None:
        """What `env` ran before this pipeline's deploy there."""
        return dict(self.previous).get(env)


def plan_steps(envs: Sequence[str]) -> tuple[Step, ...]:
    """The checklist for a pipeline through `envs`, in order."""
    steps = [Step(StepKind.BUILD), Step(StepKind.TEST), Step(StepKind.RELEASE)]
    for env in envs:
        steps += [
            Step(StepKind.APPROVAL, env),
            Step(StepKind.DEPLOY, env),
            Step(StepKind.WATCH, env),
        ]
    return tuple(steps)


def pipeline_envs(pipeline: Sequence[str], stop_at: str | None, service: str) -> tuple[str, ...]:
    """The environments a /ship goes through: the service's pipeline up to and including
    `stop_at`. Conflict when `stop_at` is not in it."""
    if not pipeline:
        raise Conflict(
            f"`{service}` has no environment to ship to: give it deploy settings, or a "
            f"`pipeline` under services.{service} in opsloop.yml."
        )
    if stop_at is None:
        return tuple(pipeline)
    if stop_at not in pipeline:
        raise Conflict(
            f"`{stop_at}` is not in the pipeline of `{service}` ({' → '.join(pipeline)}); "
            "/ship goes only through those environments."
        )
    return tuple(pipeline[: pipeline.index(stop_at) + 1])


def begin(pipeline: Pipeline, index: int, at: datetime, link: str = "") -> Pipeline:
    """Step `index` is running from `at`."""
    step = pipeline.steps[index]
    if step.state.ended:
        raise InvalidTransition(f"step {step.name} of pipeline #{pipeline.id} already ended")
    started = replace(step, state=StepState.RUNNING, started_at=step.started_at or at,
                      link=link or step.link)  # fmt: skip
    return _with_step(pipeline, index, started)


def linked(pipeline: Pipeline, index: int, link: str) -> Pipeline:
    """Step `index` points at the stage run it waits on."""
    return _with_step(pipeline, index, replace(pipeline.steps[index], link=link))


def end(
    pipeline: Pipeline, index: int, state: StepState, at: datetime, detail: str = ""
) -> Pipeline:
    """Step `index` ended in `state`."""
    if not state.ended:
        raise InvalidTransition(f"{state.value} is not an end of a step")
    step = pipeline.steps[index]
    ended = replace(step, state=state, started_at=step.started_at or at, finished_at=at,
                    detail=detail)  # fmt: skip
    return _with_step(pipeline, index, ended)


def finish(pipeline: Pipeline, state: PipelineState, at: datetime, detail: str) -> Pipeline:
    """The pipeline ended; steps that never ran are skipped."""
    if pipeline.state.finished:
        raise InvalidTransition(f"pipeline #{pipeline.id} is already {pipeline.state.value}")
    steps = tuple(
        s if s.state.ended else replace(s, state=StepState.SKIPPED,
                                        finished_at=at if s.started_at else None)
        for s in pipeline.steps
    )  # fmt: skip
    return replace(pipeline, steps=steps, state=state, finished_at=at, detail=detail)


def _with_step(pipeline: Pipeline, index: int, step: Step) -> Pipeline:
    steps = list(pipeline.steps)
    steps[index] = step
    return replace(pipeline, steps=tuple(steps))


def overlapping(running: Sequence[Pipeline], service: str, envs: Sequence[str]) -> Pipeline | None:
    """A running pipeline of `service` through any of `envs` (one at a time per service and
    environment)."""
    for found in running:
        if found.service == service and not found.state.finished and set(found.envs) & set(envs):
            return found
    return None


class PipelineStore(Protocol):
    """Where pipelines are kept."""

    def create(self, new: NewPipeline, steps: tuple[Step, ...]) -> tuple[Pipeline, bool]:
        """Store a new running pipeline with its checklist, and True; or, when a running
        pipeline of the service goes through one of its environments, store nothing and
        return that one, and False. Decided in the store (atomically), so two processes
        answering a /ship at once never both store one."""
        ...

    def save(self, pipeline: Pipeline) -> None:
        """Write the pipeline as it is now (steps, state, message, revision)."""
        ...

    def get(self, pipeline_id: int) -> Pipeline | None:
        """One pipeline."""
        ...

    def running(self) -> list[Pipeline]:
        """Every running pipeline, oldest first."""
        ...

    def recent(self, limit: int) -> list[Pipeline]:
        """The newest pipelines, newest first."""
        ...

    def request_cancel(self, pipeline_id: int, user: str) -> bool:
        """Mark a running pipeline to stop after its running step; False when it is not
        running."""
        ...
