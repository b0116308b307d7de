"""Runs approved deploys on the engine: claims the request (approved → running, once),
reports progress in a thread in the channel it was asked in, writes the final state into the
request's messages, and announces start and end in the ops channel. After a restart,
reconcile() settles requests that were running with what the engine actually runs.

Slack is told on a best-effort basis: a post or edit Slack refuses is logged and the deploy
goes on; whatever happens, a claimed request always reaches a final state. Announcements go
through the outbox: the rollout never waits on Slack for them, and each lands once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping
from functools import partial

from bot.core.clock import Clock
from bot.core.deploy.estate import Estate
from bot.core.deploy.locks import Locks, describe_refusal
from bot.core.deploy.model import (
    DeployEngine,
    DeployKind,
    DeployRequest,
    DeployState,
    DeployStore,
    Operation,
    Outcome,
    Running,
)
from bot.core.deploy.views import announcement, duration, request_reply
from bot.core.errors import OpsloopError
from bot.core.outbox import Outbox
from bot.core.ownership import taken_over_note
from bot.core.ports import Notifier
from bot.core.progress import MIN_INTERVAL, LiveMessage
from bot.core.replies import best_effort
from bot.core.values import MessageRef, Reply

log = logging.getLogger(__name__)

_EVENTS = {
    DeployState.SUCCEEDED: "succeeded",
    DeployState.FAILED: "failed",
    DeployState.ROLLED_BACK: "rolled back",
}


class RequestMessages:
    """Every edit of a request's messages goes through here: one LiveMessage per message (the
    request, and its mirror in the channel it was asked in), so at most one chat.update a
    second lands on each, and each shows the request as stored at the latest edit (the newest
    tally or state wins)."""

    def __init__(self, store: DeployStore, notifier: Notifier, clock: Clock, estate: Estate):
        self._store, self._notifier, self._clock, self._estate = store, notifier, clock, estate
        self._guard = threading.Lock()
        self._live: dict[tuple[int, str], tuple[LiveMessage, threading.Lock]] = {}
        self._shown: dict[int, float] = {}

    def show(self, request_id: int) -> None:
        """Show the request as stored now (soon, when its message was edited within the
        last second). Never raises."""
        best_effort(f"show deploy #{request_id}", lambda: self._show(request_id, final=False))

    def close(self) -> None:
        """Write edits still waiting out their second, and stop."""
        with self._guard:
            waiting = [i for i, at in self._shown.items()
                       if self._clock.monotonic() - at < MIN_INTERVAL]  # fmt: skip
        for request_id in waiting:
            best_effort(f"show deploy #{request_id}", partial(self._show, request_id, True))

    def _show(self, request_id: int, final: bool) -> None:
        request = self._store.get(request_id)
        if request is None or not request.message_ts:
            return
        refs = [MessageRef(request.channel_id, request.message_ts)]
        if request.mirror_channel_id and request.mirror_ts:
            refs.append(MessageRef(request.mirror_channel_id, request.mirror_ts))
        for ref in refs:
            best_effort(
                f"show deploy #{request_id} in {ref.channel_id}",
                partial(self._show_in, request_id, ref, final),
            )

    def _show_in(self, request_id: int, ref: MessageRef, final: bool) -> None:
        key = (request_id, ref.channel_id)
        with self._guard:
            if key not in self._live:
                live = LiveMessage(self._notifier, ref, self._clock)
                self._live[key] = (live, threading.Lock())
            live, order = self._live[key]
            self._shown[request_id] = self._clock.monotonic()
        with order:  # read and render under the lock, so a later show never shows older
            request = self._store.get(request_id)
            if request is None:
                return
            mirror = ref.channel_id != request.channel_id
            reply = request_reply(request, self._estate.policy(request.env), mirror=mirror)
            (live.finish if final else live.show)(reply)


class Runner:
    """Executes deploy requests; each at most once, whoever calls."""

    def __init__(
        self,
        *,
        estate: Estate,
        store: DeployStore,
        locks: Locks,
        engine: DeployEngine,
        notifier: Notifier,
        outbox: Outbox,
        clock: Clock,
        messages: RequestMessages | None = None,
        operations: Mapping[DeployKind, Operation] | None = None,
    ) -> None:
        self.estate = estate
        self._operations = dict(operations or {})
        self.messages = messages or RequestMessages(store, notifier, clock, estate)
        self.store = store
        self.clock = clock
        self._locks = locks
        self._engine = engine
        self._notifier = notifier
        self._outbox = outbox
        self._ops = estate.ops_channel
        self._noted: set[int] = set()  # takeovers already said (a retry must not repeat it)

    def execute(self, request_id: int) -> None:
        """Claim an approved request and run it; a request already claimed is left alone."""
        request = self.store.get(request_id)
        if request is None:
            return
        held = self._locks.blocking(request.env, request.requester)
        if held is not None:
            self._finish(request, DeployState.APPROVED, DeployState.FAILED,
                         f"Refused at start: {describe_refusal(held)}")  # fmt: skip
            return
        if not self.store.transition(
            request.id, DeployState.APPROVED, DeployState.RUNNING, self.clock.now()
        ):
            return
        state, detail = DeployState.FAILED, "The deploy stopped unexpectedly; see the bot's log."
        try:
            state, detail = self._run(self._reload(request.id))
        finally:
            # Claimed means ours to end: whatever failed above, the request leaves RUNNING.
            self._finish(request, DeployState.RUNNING, state, detail)

    def _run(self, request: DeployRequest) -> tuple[DeployState, str]:
        self.messages.show(request.id)
        self._announce(request, "started")
        thread = self._thread(request, _starting(request))
        live = LiveMessage(self._notifier, thread, self.clock) if thread else None

        def progress(text: str) -> None:
            if live is not None:
                best_effort("show progress", lambda: live.show(Reply(text=text)))

        try:
            outcome = self._carry_out(request, progress)
            state, detail = outcome.state, outcome.detail
        except OpsloopError as error:
            state, detail = DeployState.FAILED, error.message
        except Exception:
            log.exception("deploy #%s failed unexpectedly", request.id)
            state, detail = DeployState.FAILED, "The deploy failed unexpectedly; see the bot's log."
        if live is not None:
            said = Reply(text=f"{_EVENTS[state].capitalize()}: {detail}")
            best_effort("show the outcome", lambda: live.finish(said))
        return state, detail

    def _carry_out(self, request: DeployRequest, progress: Callable[[str], None]) -> Outcome:
        operation = self._operations.get(request.kind)
        if operation is not None:
            return operation.run(request, progress)
        if not request.kind.ships:
            return Outcome(DeployState.FAILED, f"This bot cannot {request.kind.value}.")
        target = self.estate.target(request.service, request.env)
        return self._engine.deploy(
            target, request.image_ref, request.version, str(request.id), progress
        )

    def _settled(self, request: DeployRequest) -> tuple[DeployState, str]:
        operation = self._operations.get(request.kind)
        if operation is not None:
            outcome = operation.settle(request)
            return (
                outcome.state,
                f"The bot restarted during the {request.kind.value}; {outcome.detail}",
            )
        target = self.estate.target(request.service, request.env)
        return _reconciled(request, self._engine.settle(target))

    def reconcile(
        self,
        resume: Callable[[int], None] | None = None,
        only: Collection[int] | None = None,
        owners: Mapping[int, str | None] | None = None,
    ) -> list[int]:
        """After a restart: settle requests left running (those in `only`, when given) from
        what the engine runs once it stops converging, say so in their threads, and resume
        requests that were approved but not started (when given `resume`). Returns the ids
        that could not be settled because the engine is out of reach, to try again later.
        `owners` names the process that ran a request and stopped answering (a takeover,
        bot.core.ownership): its thread says so first."""
        unsettled = []
        for request in self.store.in_states([DeployState.RUNNING]):
            if only is not None and request.id not in only:
                continue
            owner = (owners or {}).get(request.id)
            if owner is not None and request.id not in self._noted:
                self._noted.add(request.id)
                self._thread(request, taken_over_note(request.kind.value, owner))
            try:
                state, detail = self._settled(request)
            except OpsloopError as error:
                log.warning("cannot reconcile deploy #%s yet: %s", request.id, error.message)
                unsettled.append(request.id)
                continue
            if self._finish(request, DeployState.RUNNING, state, detail):
                self._thread(request, f"{_EVENTS[state].capitalize()}: {detail}")
        if resume is not None:
            for request in self.store.in_states([DeployState.APPROVED]):
                resume(request.id)
        return unsettled

    def _finish(
        self, request: DeployRequest, source: DeployState, state: DeployState, detail: str
    ) -> bool:
        if not self.store.transition(request.id, source, state, self.clock.now(), detail):
            return False
        self.messages.show(request.id)
        self._announce(self._reload(request.id), _EVENTS.get(state, state.value))
        return True

    def _reload(self, request_id: int) -> DeployRequest:
        request = self.store.get(request_id)
        assert request is not None
        return request

    def _thread(self, request: DeployRequest, text: str) -> MessageRef | None:
        # Progress goes where the deploy was asked for: under the mirror when the request
        # itself waited in the approval channel (ops hears the start and the end anyway).
        channel, ts = request.channel_id, request.message_ts
        if request.mirror_channel_id and request.mirror_ts:
            channel, ts = request.mirror_channel_id, request.mirror_ts
        if not ts:
            return None
        posted = best_effort(
            f"post in deploy #{request.id}'s thread",
            lambda: self._notifier.post(channel, Reply(text=text), ts),
        )
        return posted if isinstance(posted, MessageRef) else None

    def _announce(self, request: DeployRequest, event: str) -> None:
        took = duration(request.started_at, request.finished_at)
        said = announcement(request, event, took)
        key = announcement_key(request.id, event)  # a second announcement of one event: no-op
        best_effort(
            f"announce deploy #{request.id}", lambda: self._outbox.post(self._ops, said, key=key)
        )


def announcement_key(request_id: int, event: str) -> str:
    """The outbox key of deploy #request_id's announcement of `event` (`started`,
    `succeeded`, …): one message per event, and how others find it (the Monitor stage replies
    in its thread)."""
    return f"deploy-{request_id}-{event}"


def _starting(request: DeployRequest) -> str:
    if request.kind is DeployKind.SCALE:
        return f"Scaling to {request.replicas} replica(s)…"
    if request.kind is DeployKind.RESTART:
        return "Restarting…"
    return f"Deploying `{request.image_ref}`…"


def _reconciled(request: DeployRequest, running: Running) -> tuple[DeployState, str]:
    # The engine is the truth: the deploy counts only if the new version runs and answers.
    said = "The bot restarted during the deploy; "
    if running.version == request.version and running.healthy:
        return DeployState.SUCCEEDED, (
            f"{said}the engine runs `{request.version}` and it answers its health path."
        )
    if running.version == request.version:
        return DeployState.FAILED, (
            f"{said}the engine runs `{request.version}` but it does not answer its health path."
        )
    serving = "; it keeps serving" if running.version and running.healthy else ""
    return DeployState.FAILED, (
        f"{said}the engine runs `{running.version or 'nothing'}`{serving}, not `{request.version}`."
    )
