"""One pipeline's thread: runs its steps in order, each through its stage's own code, keeps
every change in the store first, then edits the pipeline's message and posts in its thread.

A stop (the bot shutting down) leaves the pipeline running in the store at a safe point;
the next start resumes it (ShipDesk.resume). A cancel is seen between steps, and while
waiting for an approval or watching; a running build, test, release or deploy is never cut.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from bot.core.build.model import Checkout
from bot.core.build.stages import BuildStages
from bot.core.changes import IssueLookup
from bot.core.clock import Clock
from bot.core.deploy.desk import DeployDesk
from bot.core.errors import OpsloopError
from bot.core.outbox import Outbox
from bot.core.ports import Notifier
from bot.core.progress import LiveMessage
from bot.core.replies import best_effort
from bot.core.ship.model import (
    Pipeline,
    PipelineState,
    PipelineStore,
    StepKind,
    StepState,
    begin,
    end,
    finish,
    linked,
)
from bot.core.ship.ports import WatchFeed
from bot.core.ship.views import announcement, checklist
from bot.core.ship.watching import ShipService, ShipSettings
from bot.core.values import MessageRef, Reply

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ShipDeps:
    """The stages and ports a pipeline runs through."""

    settings: ShipSettings
    store: PipelineStore
    builds: BuildStages
    repository: Callable[[str], Checkout]
    deploys: DeployDesk
    feed: WatchFeed
    notifier: Notifier
    outbox: Outbox
    clock: Clock
    issues: IssueLookup | None = None
    poll: float = 0.1
    """Seconds between looks at a deploy request or job that is not ours to wait on."""


class Stopped(Exception):
    """The bot is stopping: leave the pipeline as stored, for the next start."""


@dataclass(frozen=True, slots=True)
class StepEnd:
    """How a step ended; `stop` ends the pipeline in that state (None: go on)."""

    state: StepState
    detail: str = ""
    stop: PipelineState | None = None
    announce: str = ""
    """An event for the ops channel (a promotion, a rollback), with `detail` as evidence."""


StepWork = Callable[["PipelineRun", int], StepEnd]


class PipelineRun:
    """Runs one pipeline to its end, or until the bot stops."""

    def __init__(
        self,
        deps: ShipDeps,
        pipeline: Pipeline,
        work: dict[StepKind, StepWork],
        stopping: threading.Event,
        resumed: bool = False,
    ) -> None:
        self.deps = deps
        self.p = pipeline
        self.resumed = resumed
        self.resumed_step = False
        """The running step was running before a restart (a watch says it starts again)."""
        self._work = work
        self._stopping = stopping
        self._wake = threading.Event()
        self._live = (
            LiveMessage(deps.notifier, MessageRef(pipeline.channel_id, pipeline.message_ts),
                        deps.clock)
            if pipeline.message_ts else None
        )  # fmt: skip

    @property
    def service(self) -> ShipService:
        """The service's /ship settings."""
        return self.deps.settings.services[self.p.service]

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        """Run the remaining steps; never raises."""
        try:
            self._steps()
        except Stopped:
            log.info("pipeline #%s left for the next start", self.p.id)
        except Exception:
            log.exception("pipeline #%s failed unexpectedly", self.p.id)
            self._finish(PipelineState.FAILED, "The pipeline stopped unexpectedly; see the log.")

    def _steps(self) -> None:
        if self.resumed:
            self.say(":arrows_counterclockwise: opsloop restarted; the pipeline goes on from "
                     "where it was.")  # fmt: skip
        while True:
            self.p = self.reload()
            if self.p.state.finished:
                return
            index = self.p.current()
            if index is None:
                self._finish(PipelineState.SUCCEEDED, "Every step passed.")
                return
            step = self.p.steps[index]
            if self.p.cancel_requested_by and step.state is StepState.WAITING:
                self._cancelled()
                return
            self.resumed_step = self.resumed and step.state is StepState.RUNNING
            self.save(begin(self.p, index, self.deps.clock.now()))
            try:
                ended = self._work[step.kind](self, index)
            except OpsloopError as error:
                ended = StepEnd(StepState.FAILED, error.message, PipelineState.FAILED)
            self.save(end(self.reload(), index, ended.state, self.deps.clock.now(), ended.detail))
            if ended.announce:
                self.announce(ended.announce, ended.detail)
            if ended.stop is not None:
                name = self.p.steps[index].name
                self._finish(ended.stop, f"{name.capitalize()}: {ended.detail}")
                return

    def _cancelled(self) -> None:
        who = self.p.cancel_requested_by
        self._finish(PipelineState.CANCELLED, f"Cancelled by <@{who}> between steps.")

    def _finish(self, state: PipelineState, detail: str) -> None:
        current = self.reload()
        if current.state.finished:
            return
        self.save(finish(current, state, self.deps.clock.now(), detail))
        event = {
            PipelineState.SUCCEEDED: "succeeded",
            PipelineState.FAILED: "failed",
            PipelineState.ROLLED_BACK: "ended after a rollback",
            PipelineState.CANCELLED: "was cancelled",
        }[state]
        self.announce(event, detail)
        if self._live is not None:
            live = self._live
            best_effort("show the pipeline's end", lambda: live.finish(checklist(self.p)))

    # -- helpers the steps use -----------------------------------------------------------------
    def reload(self) -> Pipeline:
        """The pipeline as stored."""
        return self.deps.store.get(self.p.id) or self.p

    def save(self, pipeline: Pipeline) -> None:
        """Store, then show."""
        self.deps.store.save(pipeline)
        self.p = pipeline
        if self._live is not None and not pipeline.state.finished:
            live = self._live
            best_effort(f"show pipeline #{pipeline.id}", lambda: live.show(checklist(pipeline)))

    def link(self, index: int, link: str) -> None:
        """Step `index` waits on this stage run."""
        self.save(linked(self.reload(), index, link))

    def remember_previous(self, env: str, version: str | None) -> None:
        """What `env` ran before this pipeline deploys there (the rollback's version)."""
        current = self.reload()
        if version and current.previous_version(env) is None:
            self.save(replace(current, previous=(*current.previous, (env, version))))

    def say(self, text: str) -> None:
        """A line in the pipeline's thread."""
        if not self.p.message_ts:
            return
        where = self.p.channel_id
        post = partial(self.deps.notifier.post, where, Reply(text=text), self.p.message_ts)
        best_effort(f"post in pipeline #{self.p.id}'s thread", post)

    def announce(self, event: str, detail: str = "") -> None:
        """An announcement in the ops channel, once per event."""
        said = announcement(self.p, event, detail)
        key = f"pipeline-{self.p.id}-{event}"
        best_effort(
            f"announce pipeline #{self.p.id}",
            lambda: self.deps.outbox.post(self.deps.settings.ops_channel, said, key=key),
        )

    def cancel_requested(self) -> str:
        """Who asked to cancel (empty when nobody did)."""
        return self.reload().cancel_requested_by

    def pause(self, seconds: float) -> None:
        """Wait up to `seconds` (less when woken); Stopped when the bot stops."""
        self._wake.wait(seconds)
        self._wake.clear()
        if self._stopping.is_set():
            raise Stopped()

    def wake(self) -> None:
        """Cut the current pause short (a sample arrived, a cancel was asked)."""
        self._wake.set()

    def check_stopping(self) -> None:
        """Stopped when the bot stops."""
        if self._stopping.is_set():
            raise Stopped()


def message_link(channel: str, ts: str, label: str) -> str:
    """A link to a message by its channel and ts (Slack's archive URL form)."""
    return f"<https://slack.com/archives/{channel}/p{ts.replace('.', '')}|{label}>"
