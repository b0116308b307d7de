"""Runs approved deploys on the engine: claims the request (approved → running, once),
reports progress in the request's thread, writes the final state into the request message,
and announces start and end in the ops channel. After a restart, reconcile() settles
requests that were running with what the engine actually runs."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.config import Config
from bot.core.clock import Clock
from bot.core.deploy_plans import policy_of, target_of
from bot.core.deploy_views import announcement, duration, request_reply
from bot.core.deploys import DeployEngine, DeployRequest, DeployState, DeployStore, Running
from bot.core.errors import OpsloopError
from bot.core.locks import Locks, describe_refusal
from bot.core.ports import Notifier
from bot.core.progress import LiveMessage
from bot.core.values import MessageRef, Reply

log = logging.getLogger(__name__)

_EVENTS = {
    DeployState.SUCCEEDED: "succeeded",
    DeployState.FAILED: "failed",
    DeployState.ROLLED_BACK: "rolled back",
}


class Runner:
    """Executes deploy requests; each at most once, whoever calls."""

    def __init__(
        self,
        *,
        config: Config,
        store: DeployStore,
        locks: Locks,
        engine: DeployEngine,
        notifier: Notifier,
        clock: Clock,
        ops_channel: str,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self._locks = locks
        self._engine = engine
        self._notifier = notifier
        self._ops = ops_channel

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
        request = self._reload(request.id)
        self._show(request)
        self._announce(request, "started")
        thread = self._thread(request, f"Deploying `{request.image_ref}`…")
        live = LiveMessage(self._notifier, thread, self.clock) if thread else None
        try:
            target = target_of(self.config, request.service, request.env)
            outcome = self._engine.deploy(
                target, request.image_ref, request.version, str(request.id),
                (lambda text: live.show(Reply(text=text))) if live else (lambda _t: None),
            )  # fmt: skip
            state, detail = outcome.state, outcome.detail
        except OpsloopError as error:
            state, detail = DeployState.FAILED, error.message
        except Exception:
            log.exception("deploy #%s failed unexpectedly", request.id)
            state, detail = DeployState.FAILED, "The deploy failed unexpectedly; see the bot's log."
        if live is not None:
            live.finish(Reply(text=f"{_EVENTS[state].capitalize()}: {detail}"))
        self._finish(request, DeployState.RUNNING, state, detail)

    def reconcile(self, resume: Callable[[int], None]) -> None:
        """After a restart: settle requests left running from what the engine runs once it
        stops converging, say so in their threads, and resume requests that were approved
        but not started."""
        for request in self.store.in_states([DeployState.RUNNING]):
            try:
                target = target_of(self.config, request.service, request.env)
                running = self._engine.settle(target)
            except OpsloopError as error:
                log.warning("cannot reconcile deploy #%s: %s", request.id, error.message)
                continue
            state, detail = _reconciled(request, running)
            if self._finish(request, DeployState.RUNNING, state, detail):
                self._thread(request, f"{_EVENTS[state].capitalize()}: {detail}")
        for request in self.store.in_states([DeployState.APPROVED]):
            resume(request.id)

    def _finish(
        self, request: DeployRequest, source: DeployState, state: DeployState, detail: str
    ) -> bool:
        if not self.store.transition(request.id, source, state, self.clock.now(), detail):
            return False
        done = self._reload(request.id)
        self._show(done)
        self._announce(done, _EVENTS.get(state, state.value))
        return True

    def _reload(self, request_id: int) -> DeployRequest:
        request = self.store.get(request_id)
        assert request is not None
        return request

    def _show(self, request: DeployRequest) -> None:
        if request.message_ts:
            reply = request_reply(request, policy_of(self.config, request.env))
            self._notifier.update(MessageRef(request.channel_id, request.message_ts), reply)

    def _thread(self, request: DeployRequest, text: str) -> MessageRef | None:
        if not request.message_ts:
            return None
        return self._notifier.post(request.channel_id, Reply(text=text), request.message_ts)

    def _announce(self, request: DeployRequest, event: str) -> None:
        took = duration(request.started_at, request.finished_at)
        self._notifier.post(self._ops, announcement(request, event, took))


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
