"""The ship desk: checks a /ship, stores the pipeline, runs each on a thread of its own,
cancels, lists, and resumes what a restart left running.

Pipelines run only in the process holding the singletons' lease (between resume() and
stop()): a watch counts the Monitor stage's check results as this process's check loop
applies them, and only the lease holder checks, so a pipeline watched anywhere else would see
no data and roll a healthy deploy back. A /ship that another process answers is stored there
and taken up by the holder's adopt(), which it runs every lease period."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace

from bot.core.errors import Conflict, NotFound, PermissionDenied
from bot.core.replies import best_effort
from bot.core.ship.env_steps import approval_step, deploy_step, watch_step
from bot.core.ship.job_steps import build_step, release_step, test_step
from bot.core.ship.model import (
    NewPipeline,
    Pipeline,
    StepKind,
    StepState,
    overlapping,
    pipeline_envs,
    plan_steps,
)
from bot.core.ship.run import PipelineRun, ShipDeps, StepWork
from bot.core.ship.views import announcement, checklist
from bot.core.values import MessageRef

log = logging.getLogger(__name__)

WORK: dict[StepKind, StepWork] = {
    StepKind.BUILD: build_step,
    StepKind.TEST: test_step,
    StepKind.RELEASE: release_step,
    StepKind.APPROVAL: approval_step,
    StepKind.DEPLOY: deploy_step,
    StepKind.WATCH: watch_step,
}


@dataclass(frozen=True, slots=True)
class ShipAsk:
    """One /ship as typed."""

    service: str
    version: str
    ref: str
    stop_at: str | None
    user: str
    channel: str


class ShipDesk:
    """/ship's rules over the stages."""

    def __init__(self, deps: ShipDeps) -> None:
        self.deps = deps
        self._stopping = threading.Event()
        self._stopping.set()  # no pipeline runs here until resume() (the lease holder's)
        self._guard = threading.Lock()
        self._runs: dict[int, tuple[PipelineRun, threading.Thread]] = {}
        self._shipping: set[int] = set()
        """Pipelines ship() stored and has not started yet (adopt() leaves them to it)."""

    def ship(self, ask: ShipAsk) -> Pipeline:
        """Check the /ship, store its pipeline and start it here when this process holds
        the lease (else the holder's adopt() starts it). Slow (git, the registry, the
        engine): call it off the router's workers. Raises what to tell the asker; nothing
        is stored or started then."""
        service = self.deps.settings.services.get(ask.service)
        if service is None:
            raise NotFound(f"`{ask.service}` is not a service in opsloop.yml.")
        envs = pipeline_envs(service.pipeline, ask.stop_at, ask.service)
        version = ask.version.removeprefix("v")
        self._refuse_overlap(ask.service, envs)
        builds = self.deps.builds
        tags = builds.deps.registry.tags(service.image)
        if version in tags or f"v{version}" in tags:
            raise Conflict(
                f"`{ask.service}` {version} is already in the registry; releases are never "
                "overwritten. Pick a new version."
            )
        revision = self.deps.repository(service.repo).resolve(ask.ref)
        builds.deps.engine.check()
        new = NewPipeline(ask.service, version, ask.ref, envs, ask.user, ask.channel,
                          self.deps.clock.now())  # fmt: skip
        with self._guard:
            # The store decides (another process may be storing one right now); the check
            # above only spares a refused /ship the registry, git and engine calls.
            pipeline, created = self.deps.store.create(new, plan_steps(envs))
            if not created:
                raise self._overlap(pipeline, ask.service, envs)
            pipeline = replace(pipeline, revision=revision)
            self.deps.store.save(pipeline)
            self._shipping.add(pipeline.id)
        try:
            pipeline = self._introduce(pipeline, ask)
        finally:
            with self._guard:
                self._shipping.discard(pipeline.id)
        self._start(pipeline, resumed=False)
        return pipeline

    def _introduce(self, pipeline: Pipeline, ask: ShipAsk) -> Pipeline:
        """Post the pipeline's checklist and announce it (before any run of it starts, so
        the run edits that checklist)."""
        posted = best_effort(
            f"post pipeline #{pipeline.id}",
            lambda: self.deps.notifier.post(ask.channel, checklist(pipeline)),
        )
        if isinstance(posted, MessageRef):
            pipeline = replace(pipeline, message_ts=posted.ts)
            self.deps.store.save(pipeline)
        said = announcement(pipeline, "started")
        best_effort(
            f"announce pipeline #{pipeline.id}",
            lambda: self.deps.outbox.post(self.deps.settings.ops_channel, said,
                                          key=f"pipeline-{pipeline.id}-started"),
        )  # fmt: skip
        return pipeline

    def _refuse_overlap(self, service: str, envs: tuple[str, ...]) -> None:
        running = overlapping(self.deps.store.running(), service, envs)
        if running is not None:
            raise self._overlap(running, service, envs)

    @staticmethod
    def _overlap(running: Pipeline, service: str, envs: tuple[str, ...]) -> Conflict:
        shared = [env for env in envs if env in running.envs]
        return Conflict(
            f"Pipeline #{running.id} of `{service}` `{running.version}` to "
            f"{', '.join(f'`{e}`' for e in shared)} is running (asked by "
            f"<@{running.requester}>); one at a time per service and environment. "
            f"`/ship cancel {running.id}` stops it."
        )

    def cancel(self, pipeline_id: int, user: str, *, admin: bool = False) -> Pipeline:
        """Ask a running pipeline to stop after its running step (a pending approval is
        withdrawn, a watch ends, a rollout finishes). Only its asker or an admin may."""
        pipeline = self.find(pipeline_id)
        if pipeline.state.finished:
            return pipeline
        if pipeline.requester != user and not admin:
            raise PermissionDenied(
                f"Pipeline #{pipeline_id} was asked by <@{pipeline.requester}>; only they or "
                "a member of `admins` can cancel it."
            )
        self.deps.store.request_cancel(pipeline_id, user)
        with self._guard:
            live = self._runs.get(pipeline_id)
        if live is not None:
            live[0].wake()
        return self.find(pipeline_id)

    def find(self, pipeline_id: int) -> Pipeline:
        """The pipeline, or NotFound."""
        pipeline = self.deps.store.get(pipeline_id)
        if pipeline is None:
            raise NotFound(f"There is no pipeline #{pipeline_id}. `/ship list` shows them.")
        return pipeline

    def recent(self, limit: int) -> list[Pipeline]:
        """The newest pipelines, newest first."""
        return self.deps.store.recent(limit)

    def resume(self) -> None:
        """Run pipelines here from now on (this process took the lease: singleton work, to
        call where the deploy desk's reconcile runs, after it) and go on with every pipeline
        left running (a restart, a lost lease)."""
        with self._guard:
            if self._stopping.is_set():
                # A fresh event: runs of an earlier term that did not stop in time still
                # see theirs set.
                self._stopping = threading.Event()
        self.adopt()

    def adopt(self) -> None:
        """Start every running pipeline that runs nowhere here: left by a restart or a lost
        lease, or stored by another process's /ship. Nothing while this process does not
        hold the lease (before resume(), after stop())."""
        for pipeline in self.deps.store.running():
            with self._guard:
                if self._stopping.is_set():
                    return
                if pipeline.id in self._shipping:
                    continue
            begun = any(step.state is not StepState.WAITING for step in pipeline.steps)
            self._start(pipeline, resumed=begun)

    def _start(self, pipeline: Pipeline, *, resumed: bool) -> None:
        with self._guard:
            if pipeline.id in self._runs or self._stopping.is_set():
                return
            run = PipelineRun(self.deps, pipeline, WORK, self._stopping, resumed)
            thread = threading.Thread(
                target=self._run, args=(run,), name=f"opsloop-ship-{pipeline.id}", daemon=True
            )
            self._runs[pipeline.id] = (run, thread)
        thread.start()

    def _run(self, run: PipelineRun) -> None:
        try:
            run.run()
        finally:
            with self._guard:
                self._runs.pop(run.p.id, None)

    def stop(self, timeout: float | None = None) -> list[str]:
        """Stop the pipelines at their next safe point (they stay running in the store for
        the next start, or the next holder of the lease, to resume); returns those still
        going after `timeout` seconds."""
        with self._guard:
            self._stopping.set()
            runs = list(self._runs.values())
        for run, _thread in runs:
            run.wake()
        ends = None if timeout is None else time.monotonic() + timeout
        for _run, thread in runs:
            thread.join(None if ends is None else max(0.0, ends - time.monotonic()))
        return [f"pipeline #{run.p.id}" for run, thread in runs if thread.is_alive()]
