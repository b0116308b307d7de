"""The deploy desk: takes requests, counts votes, expires what waits too long, and hands
approved requests to the runner. Everything it decides is stored first, then shown."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial

from bot.core.changes import IssueLookup, SourceRepository
from bot.core.clock import Clock
from bot.core.deploy.approvals import Verdict, judge
from bot.core.deploy.estate import Estate
from bot.core.deploy.locks import Locks, LockStore, describe_refusal
from bot.core.deploy.model import (
    DeployEngine,
    DeployKind,
    DeployRequest,
    DeployState,
    DeployStore,
    ImageIndex,
    NewDeploy,
    Operation,
)
from bot.core.deploy.plans import Planner, ReleaseLog
from bot.core.deploy.runner import RequestMessages, Runner
from bot.core.deploy.views import Plan, plan_reply, request_reply
from bot.core.draining import DrainingPool
from bot.core.errors import Conflict, IntegrationError, InvalidTransition, OpsloopError
from bot.core.outbox import Outbox
from bot.core.ports import Directory, Notifier
from bot.core.replies import answer, best_effort
from bot.core.values import MessageRef, Reply, Settle

log = logging.getLogger(__name__)
DEPLOY_THREADS = 4
SWEEPER_JOIN = 5.0
RECONCILE_RETRY = 5.0


def build_desk(
    *,
    estate: Estate,
    store: DeployStore,
    locks: LockStore,
    engine: DeployEngine,
    images: ImageIndex,
    notifier: Notifier,
    outbox: Outbox,
    directory: Directory,
    clock: Clock,
    repository: Callable[[str], SourceRepository],
    issues: IssueLookup | None,
    releases: ReleaseLog | None = None,
    operations: Mapping[DeployKind, Operation] | None = None,
) -> DeployDesk:
    """A desk with its planner, runner and deploy threads; `releases` tells which versions
    opsloop released (protected environments take only those); announcements go to the
    ops channel through `outbox`; `operations` carry out the request kinds that are not
    rollouts (Operate's scale and restart)."""
    rules = Locks(locks, clock)
    planner = Planner(
        estate=estate, store=store, locks=rules, engine=engine, images=images,
        repository=repository, issues=issues, releases=releases,
    )  # fmt: skip
    runner = Runner(
        estate=estate, store=store, locks=rules, engine=engine, notifier=notifier,
        outbox=outbox, clock=clock, operations=operations,
    )  # fmt: skip
    executor = DrainingPool(DEPLOY_THREADS, "opsloop-deploy")
    return DeployDesk(
        planner=planner, runner=runner, store=store, locks=rules, notifier=notifier,
        directory=directory, executor=executor, closing=(engine.close, images.close),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Ask:
    """One /deploy or /rollback, as typed."""

    kind: DeployKind
    service: str
    env: str
    version: str | None
    user: str
    channel: str
    response_url: str
    dry_run: bool = False
    settle: Settle = field(default=lambda _outcome, _detail: None, compare=False)
    """Records how the command ended once its answer is sent (the router's audit)."""


class DeployDesk:
    """The deploy stage's rules over its ports."""

    def __init__(
        self,
        *,
        planner: Planner,
        runner: Runner,
        store: DeployStore,
        locks: Locks,
        notifier: Notifier,
        directory: Directory,
        executor: DrainingPool,
        closing: tuple[Callable[[], None], ...] = (),
    ) -> None:
        self.planner = planner
        self.runner = runner
        self.estate: Estate = planner.estate
        self.store = store
        self.locks = locks
        self._notifier = notifier
        self._directory = directory
        self._executor = executor
        self._closing = closing
        self.messages: RequestMessages = runner.messages
        self._clock = runner.clock
        self._stop = threading.Event()
        self._posting = threading.Lock()
        self._sweeper: threading.Thread | None = None
        self._unsettled: list[int] = []
        self._reconciling = threading.Event()
        self.orphans: Callable[[], dict[int, str | None]] | None = None
        """Running deploys whose process stopped answering (bot.core.ownership); None
        settles every running deploy, as one process alone on its store does at start."""

    # -- asking ----------------------------------------------------------------------------
    def ask(self, ask: Ask) -> None:
        """Plan on the deploy executor; the asker hears back through the response_url."""
        self._executor.submit(best_effort, f"answer a /{ask.kind.value}", partial(self._ask, ask))

    def _ask(self, ask: Ask) -> None:
        answered = answer(partial(self._prepare, ask), f"`/{ask.kind.value}`")
        ask.settle(answered.outcome, answered.detail)
        self._notifier.respond(ask.response_url, answered.reply)

    def _prepare(self, ask: Ask) -> Reply:
        plan = self.planner.plan(ask.kind, ask.service, ask.env, ask.version, ask.user)
        if ask.dry_run:
            return plan_reply(plan)
        return self._filed(self._planned(ask, plan, plan.policy.needed))[1]

    def request_now(self, ask: Ask, *, approvals: int | None = None) -> DeployRequest:
        """Plan and file `ask` on the caller's thread, under /deploy's rules (locks,
        protected environments, one at a time per service and environment), and return the
        stored request; raises what /deploy would answer. `approvals` replaces the
        environment's count (0: it starts at once), for a rollback a /ship pipeline makes
        after a failed watch of the version those approvers let in."""
        plan = self.planner.plan(ask.kind, ask.service, ask.env, ask.version, ask.user)
        needed = plan.policy.needed if approvals is None else approvals
        return self._filed(self._planned(ask, plan, needed))[0]

    def withdraw(self, request_id: int, detail: str) -> bool:
        """End a request still waiting for approval (its pipeline was cancelled); False when
        it is no longer pending."""
        done = self.store.transition(
            request_id, DeployState.PENDING, DeployState.FAILED, self._clock.now(), detail
        )
        if done:
            self.messages.show(request_id)
        return done

    def _planned(self, ask: Ask, plan: Plan, needed: int) -> NewDeploy:
        if plan.blocking_lock is not None:
            raise Conflict(describe_refusal(plan.blocking_lock))
        now = self._clock.now()
        expires = now + timedelta(minutes=plan.policy.timeout_minutes) if needed else None
        return NewDeploy(
            kind=ask.kind, service=ask.service, env=ask.env, version=plan.version,
            from_version=plan.from_version, image=plan.image, digest=plan.digest,
            requester=ask.user, channel_id=ask.channel, approvals_needed=needed,
            created_at=now, expires_at=expires, shipped=plan.shipped, changes=plan.changes,
        )  # fmt: skip

    def file(self, new: NewDeploy, response_url: str, settle: Settle | None = None) -> None:
        """File a request that needs no plan (Operate's scale and restart), on the deploy
        threads: refused under someone else's lock, then approved (or started) like a
        deploy. `new`'s approvals and expiry are set here from the environment's policy;
        the asker hears back through the response_url, and `settle` records the outcome."""
        work = partial(self._file_and_answer, new, response_url, settle)
        self._executor.submit(best_effort, f"answer a /{new.kind.value}", work)

    def _file_and_answer(self, new: NewDeploy, response_url: str, settle: Settle | None) -> None:
        def filed() -> Reply:
            self.locks.check(new.env, new.requester)
            policy = self.estate.policy(new.env)
            now = self._clock.now()
            expires = now + timedelta(minutes=policy.timeout_minutes) if policy.needed else None
            return self._file(
                replace(new, approvals_needed=policy.needed, created_at=now, expires_at=expires)
            )

        answered = answer(filed, f"`/{new.kind.value}`")
        if settle is not None:
            settle(answered.outcome, answered.detail)
        self._notifier.respond(response_url, answered.reply)

    def _file(self, new: NewDeploy) -> Reply:
        return self._filed(new)[1]

    def _filed(self, new: NewDeploy) -> tuple[DeployRequest, Reply]:
        policy = self.estate.policy(new.env)
        needed = new.approvals_needed
        request, created = self.store.create(new)
        if not created:
            raise Conflict(
                f"{request.kind.value.title()} #{request.id} of `{request.service}` "
                f"`{request.version}` to `{request.env}`, asked by <@{request.requester}>, "
                f"is {request.state.value}; one at a time per service and environment."
            )
        # Approval requests go where approvers look (the environment's approval channel),
        # mirrored in the channel they were asked in; a deploy needing none stays there.
        where = self.estate.approval_channel(new.env) if needed else new.channel_id
        mirrored = where != new.channel_id
        shown = replace(request, mirror_channel_id=new.channel_id) if mirrored else request
        # A fast approver can react before the message's ts is stored: lookups wait on this.
        with self._posting:
            try:
                ref = self._notifier.post(where, request_reply(shown, policy))
            except Exception as error:
                raise self._unposted(request, where, error) from error
            self.store.set_message(request.id, ref.channel_id, ref.ts)
            if mirrored:
                self._mirror(request.id, new.channel_id)
        if not needed:
            self._approve(request.id)
            return request, Reply(text=f"{new.kind.value.title()} #{request.id} is starting.")
        asked = f" in <#{where}>" if mirrored else ""
        return request, Reply(
            text=f"{new.kind.value.title()} #{request.id} waits for {needed} approval(s){asked}."
        )

    def _mirror(self, request_id: int, channel: str) -> None:
        # The mirror is a convenience: without it the request still waits in its channel.
        request = self.store.get(request_id)
        if request is None:
            return
        shown = replace(request, mirror_channel_id=channel)
        policy = self.estate.policy(request.env)
        posted = best_effort(
            f"mirror deploy #{request_id} in {channel}",
            partial(self._notifier.post, channel, request_reply(shown, policy, mirror=True)),
        )
        if isinstance(posted, MessageRef):
            self.store.set_mirror(request_id, posted.channel_id, posted.ts)

    def _unposted(self, request: DeployRequest, where: str, error: Exception) -> OpsloopError:
        # Nobody can approve a request without its message: end it so the slot frees.
        log.warning(
            "deploy #%s: the request message could not be posted", request.id, exc_info=True
        )
        why = error.message if isinstance(error, OpsloopError) else type(error).__name__
        self.store.transition(
            request.id, DeployState.PENDING, DeployState.FAILED, self._clock.now(),
            f"The request message could not be posted ({why}); nothing was deployed.",
        )  # fmt: skip
        return IntegrationError(
            f"{request.kind.value.title()} #{request.id} could not be posted in <#{where}> "
            f"({why}), so nobody could approve it: it is cancelled and nothing was deployed. "
            f"Ask again in a moment (the bot must be in that channel)."
        )

    # -- voting ----------------------------------------------------------------------------
    def vote(
        self,
        request: DeployRequest,
        user: str,
        mark: str,
        added: bool,
        at: datetime | None = None,
    ) -> str | None:
        """Count one approving or rejecting mark, cast (or withdrawn) at `at` (Slack's event
        time; now when None). Returns what to tell the voter when the vote did not count
        (None when it did)."""
        policy = self.estate.policy(request.env)
        request = self._expire_if_due(request)
        if request.state is not DeployState.PENDING:
            if not added:
                return None
            shown = request.state.value.replace("_", " ")
            return f"Deploy #{request.id} is {shown}; votes no longer count."
        verdict = judge(policy, request.requester, user, self._directory.group_members)
        if verdict is Verdict.SELF_APPROVAL:
            return "You asked for this deploy, so you cannot approve or reject it."
        if verdict is Verdict.NOT_APPROVER:
            return f"Only approvers of `{request.env}` can approve or reject this deploy."
        # Slack's event time, not arrival: a removal handled before its addition still wins.
        self.store.vote(request.id, user, mark, added, at or self._clock.now())
        self._settle(request.id)
        return None

    def _settle(self, request_id: int) -> None:
        request = self.store.get(request_id)
        if request is None or request.state is not DeployState.PENDING:
            return
        now = self._clock.now()
        if request.rejected_by:
            if self.store.transition(request.id, DeployState.PENDING, DeployState.REJECTED, now):
                self.messages.show(request.id)
            return
        if len(request.approved_by) >= request.approvals_needed:
            self._approve(request.id)
            return
        self.messages.show(request.id)

    def _approve(self, request_id: int) -> None:
        now = self._clock.now()
        if self.store.transition(request_id, DeployState.PENDING, DeployState.APPROVED, now):
            self.start(request_id)

    def start(self, request_id: int) -> None:
        """Run an approved request on the deploy executor (once: the runner claims it)."""
        self._executor.submit(
            best_effort, f"run deploy #{request_id}", partial(self.runner.execute, request_id)
        )

    # -- time ------------------------------------------------------------------------------
    def _expire_if_due(self, request: DeployRequest) -> DeployRequest:
        if (
            request.state is DeployState.PENDING
            and request.expires_at is not None
            and request.expires_at <= self._clock.now()
        ):
            detail = "No decision in time; the request expired."
            self.store.transition(
                request.id, DeployState.PENDING, DeployState.EXPIRED, self._clock.now(), detail
            )
            self.messages.show(request.id)
            return self.store.get(request.id) or request
        return request

    def sweep(self) -> None:
        """Expire requests and locks that ran out; tell lock holders."""
        for request in self.store.in_states([DeployState.PENDING]):
            self._expire_if_due(request)
        for lock in self.locks.expire():
            said = Reply(
                text=f":unlock: Your lock on `{lock.env}` expired; others can deploy there now."
            )
            # Each holder is told on their own: one channel gone must not silence the rest.
            best_effort(
                f"tell {lock.holder} their lock on {lock.env} expired",
                partial(self._notifier.ephemeral, lock.channel_id, lock.holder, said),
            )

    def start_background(self, interval: float, retry: float = RECONCILE_RETRY) -> None:
        """Reconcile interrupted deploys, resume approved ones, and sweep every `interval`
        until stop_sweeping() or stop_background(); deploys that could not be reconciled
        (the engine was out of reach) are tried again every `retry` seconds until they are.
        This is singleton work: with several processes on one store, only the lease holder
        runs it (bot.core.lease_keeper), and it may start again after a stop_sweeping()."""
        self._reconciling.set()
        self._executor.submit(
            best_effort, "settle interrupted deploys", partial(self._reconcile, None, True)
        )
        next_try = self._clock.monotonic() + retry
        stop = threading.Event()

        def loop() -> None:
            nonlocal next_try
            # The first sweep comes at once: a new lease holder catches up on what ran out
            # while the last one was dying.
            best_effort("sweep expired requests and locks", self.sweep)
            while not stop.wait(interval):
                best_effort("sweep expired requests and locks", self.sweep)
                if self._clock.monotonic() < next_try or self._reconciling.is_set():
                    continue
                next_try = self._clock.monotonic() + retry
                # Approved requests nobody started (the process that approved one died
                # first) are started here; one that process did start is claimed already.
                best_effort("resume approved deploys", self._resume_approved)
                orphans = best_effort("find deploys whose process died", self._orphans) or {}
                if self._unsettled or orphans:
                    self._reconciling.set()
                    unsettled = (*self._unsettled, *orphans)
                    self._executor.submit(
                        best_effort, "settle interrupted deploys",
                        partial(self._reconcile, unsettled),
                    )  # fmt: skip

        self.stop_sweeping()
        self._stop = stop
        self._sweeper = threading.Thread(target=loop, name="opsloop-deploy-sweeper", daemon=True)
        self._sweeper.start()

    def _resume_approved(self) -> None:
        for request in self.store.in_states([DeployState.APPROVED]):
            self.start(request.id)

    def _orphans(self) -> dict[int, str | None]:
        return self.orphans() if self.orphans is not None else {}

    def _reconcile(self, only: tuple[int, ...] | None, resume: bool = False) -> None:
        try:
            owners: dict[int, str | None] = {}
            if self.orphans is not None:
                # Several processes may share the store: settle only what no live one runs.
                owners = self.orphans()
                only = (*(only or ()), *owners)
            self._unsettled = self.runner.reconcile(self.start if resume else None, only, owners)
        finally:
            self._reconciling.clear()

    def stop_sweeping(self, timeout: float = SWEEPER_JOIN) -> None:
        """Stop the sweeper, waiting up to `timeout` seconds for a sweep in hand to end; the
        desk keeps taking requests and running deploys."""
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=timeout)
            self._sweeper = None

    def stop_background(self, timeout: float | None = None) -> list[str]:
        """Stop the sweeper, let deploys in hand finish for up to `timeout` seconds (None: as
        long as they take), write the last edits, and close the engine's and registries'
        connections. A rollout still going after that is cut short: it stays running in
        the store, the next start settles it from the engine (reconcile), and the
        connections stay open for it. Returns what was cut short."""
        ends = None if timeout is None else self._clock.monotonic() + timeout
        self.stop_sweeping(SWEEPER_JOIN if timeout is None else timeout)
        left = None if ends is None else max(0.0, ends - self._clock.monotonic())
        if self._executor.drain(left, cancel_queued=True):
            cut_short = [
                f"deploy #{request.id}" for request in self.store.in_states([DeployState.RUNNING])
            ]
            log.warning("stopped with rollouts still running: %s", ", ".join(cut_short))
            return cut_short or ["deploy work"]
        self.messages.close()
        for close in self._closing:
            best_effort("close a deploy connection", close)
        return []

    # -- finding ---------------------------------------------------------------------------
    def by_message(self, channel_id: str, ts: str) -> DeployRequest | None:
        """The request whose message this is (waiting for a request being posted)."""
        with self._posting:
            return self.store.by_message(channel_id, ts)

    def find(self, request_id: int) -> DeployRequest:
        """The request, or InvalidTransition when it is gone."""
        request = self.store.get(request_id)
        if request is None:
            raise InvalidTransition(f"Deploy #{request_id} does not exist.")
        return request
