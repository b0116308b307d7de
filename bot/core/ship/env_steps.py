"""Per environment: the approval and the deploy are one deploy request on the deploy desk
(the same rules, messages, reactions and buttons as /deploy), then a watch of the Monitor
stage's checks, which rolls the environment back through the desk when it fails.

Before a step files a request it stores its intent with the step (`filing deploy at <time>`),
so a restart between the filing and the link finds the request it filed (its kind, service,
environment, version and asker, filed since then; the channel is where the request was
posted, not asked) instead of filing another, which the desk would refuse while the first
one waits."""

from __future__ import annotations

import threading
from datetime import datetime

from bot.core.deploy.desk import Ask
from bot.core.deploy.model import DeployKind, DeployRequest, DeployState
from bot.core.errors import OpsloopError
from bot.core.ship.model import PipelineState, StepKind, StepState
from bot.core.ship.run import PipelineRun, StepEnd, message_link
from bot.core.ship.watching import Sample, Verdict, WatchTally

APPROVAL_POLL = 0.5
"""Seconds between looks at a request waiting for people."""
ROLLBACK_LINK = "rollback #"
"""How a watch step links the rollback it filed (a restart sees it through)."""
INTENT_LINK = "filing "
"""How a step links a request it is about to file: `filing rollback at <ISO time>`."""
OWN_LOOKBACK = 200
"""How many of the environment's newest requests a restarted step looks through for its own."""
_PASSED = (DeployState.APPROVED, DeployState.RUNNING, DeployState.SUCCEEDED,
           DeployState.ROLLED_BACK)  # fmt: skip


def approval_step(run: PipelineRun, index: int) -> StepEnd:
    """File the deploy request; wait for its approvals when the environment needs any."""
    request = _request(run, index)
    if not request.approvals_needed:
        return StepEnd(StepState.PASSED, "none needed")
    desk = run.deps.deploys
    while True:
        current = desk.store.get(request.id) or request
        if current.state in _PASSED:
            who = ", ".join(f"<@{u}>" for u in current.approved_by)
            return StepEnd(StepState.PASSED, f"approved by {who}" if who else "approved")
        if current.state is not DeployState.PENDING:
            said = current.detail or current.state.value
            return StepEnd(StepState.FAILED, f"deploy #{request.id} {current.state.value}: "
                           f"{said}", PipelineState.FAILED)  # fmt: skip
        if who := run.cancel_requested():
            desk.withdraw(request.id, f"Withdrawn: <@{who}> cancelled pipeline #{run.p.id}.")
            return StepEnd(StepState.FAILED, f"withdrawn: cancelled by <@{who}>",
                           PipelineState.CANCELLED)  # fmt: skip
        run.pause(APPROVAL_POLL)


def deploy_step(run: PipelineRun, index: int) -> StepEnd:
    """Wait for the request's rollout, which the deploy desk runs once approved."""
    env = run.p.steps[index].env
    approval = next(s for s in run.p.steps if s.kind is StepKind.APPROVAL and s.env == env)
    request_id = _request_id(approval.link)
    run.link(index, approval.link)
    ended = _settled(run, request_id)
    if ended.state is DeployState.SUCCEEDED:
        return StepEnd(StepState.PASSED, ended.detail)
    stop = (
        PipelineState.ROLLED_BACK
        if ended.state is DeployState.ROLLED_BACK
        else (PipelineState.FAILED)
    )
    return StepEnd(StepState.FAILED, f"deploy #{request_id} {ended.state.value.replace('_', ' ')}"
                   f": {ended.detail}", stop)  # fmt: skip


def watch_step(run: PipelineRun, index: int) -> StepEnd:
    """Watch the deployment's checks for the window; roll back on a failure."""
    env = run.p.steps[index].env
    assert env is not None
    link = run.p.steps[index].link
    if link.startswith(INTENT_LINK):
        # The watch failed and was filing its rollback when a restart came: the version it
        # failed on is not watched again, the rollback it filed (or files now) is seen
        # through.
        return _file_rollback(run, index, env, "The watch failed before the restart.", "")
    if link.startswith(ROLLBACK_LINK):
        # The watch failed and filed its rollback before a restart: the version it failed
        # on is not watched again (a pass would promote it), the rollback is seen through.
        run.say(f":rewind: The watch of `{env}` failed before the restart; {link} goes on.")
        return _rolled_back(run, env, _request_id(link), "The watch failed before the restart.")
    deployed = next(s for s in run.p.steps if s.kind is StepKind.DEPLOY and s.env == env)
    since = deployed.finished_at or run.deps.clock.now()
    service = run.service
    seconds = service.watch_seconds(env)
    tally = WatchTally(seconds, service.min_samples)
    guard = threading.Lock()
    failed_at: list[float] = []

    def on_sample(sample: Sample) -> None:
        with guard:
            if tally.sample(sample) is Verdict.FAILED and not failed_at:
                failed_at.append(run.deps.clock.monotonic())
        run.wake()

    if run.resumed_step:
        run.say(f":eyes: The watch of `{env}` starts its {seconds:g}s window again after the "
                "restart.")  # fmt: skip
    else:
        run.say(f":eyes: Watching `{env}` for {seconds:g}s: at least {service.min_samples} "
                "passed checks and no failing check or firing alert.")  # fmt: skip
    started = run.deps.clock.monotonic()
    stop = run.deps.feed.observe(run.p.service, env, on_sample)
    try:
        verdict = Verdict.WATCHING
        while verdict is Verdict.WATCHING:
            elapsed = run.deps.clock.monotonic() - started
            with guard:
                for firing in run.deps.feed.firing(run.p.service, env, since):
                    tally.alert(firing.title, firing.source, firing.detail)
                    failed_at.append(run.deps.clock.monotonic())
                verdict = tally.verdict(elapsed)
            if verdict is not Verdict.WATCHING:
                break
            if who := run.cancel_requested():
                said = (
                    f"cut short: <@{who}> cancelled the pipeline; `{env}` keeps `{run.p.version}`"
                )
                return StepEnd(StepState.SKIPPED, said, PipelineState.CANCELLED)
            run.pause(min(service.check_interval, max(0.05, seconds - elapsed)))
    finally:
        stop()
    if verdict is Verdict.PASSED:
        return _passed(run, env, tally)
    return _roll_back(run, index, env, tally, failed_at[0] if failed_at else None)


def _passed(run: PipelineRun, env: str, tally: WatchTally) -> StepEnd:
    said = f"{tally.passes} check(s) passed in {tally.seconds:g}s, no alert"
    following = run.p.envs.index(env) + 1
    if following < len(run.p.envs):
        nxt = run.p.envs[following]
        run.say(f":white_check_mark: `{env}` passed its watch; promoting to `{nxt}`.")
        return StepEnd(StepState.PASSED, said, announce=f"passed its watch in {env}, "
                       f"promoting to {nxt}")  # fmt: skip
    return StepEnd(StepState.PASSED, said)


def _roll_back(
    run: PipelineRun, index: int, env: str, tally: WatchTally, failed_at: float | None
) -> StepEnd:
    lag = ""
    if failed_at is not None:
        lag = f" {run.deps.clock.monotonic() - failed_at:.2f}s after the failure was seen"
    return _file_rollback(run, index, env, tally.evidence(), lag)


def _file_rollback(run: PipelineRun, index: int, env: str, evidence: str, lag: str) -> StepEnd:
    """File (or, after a restart, find) the rollback of `env` to what ran there before and
    see it through; the pipeline ends rolled back."""
    previous = run.p.previous_version(env)
    if previous is None:
        detail = f"{evidence}\nNothing ran in `{env}` before, so there is nothing to roll back to."
        run.say(f":x: The watch of `{env}` failed.\n{detail}")
        return StepEnd(StepState.FAILED, detail, PipelineState.FAILED, f"failed its watch in {env}")
    ask = Ask(DeployKind.ROLLBACK, run.p.service, env, previous, run.p.requester,
              run.p.channel_id, "")  # fmt: skip
    try:
        request, filed = _file_once(run, index, ask, approvals=0)
    except OpsloopError as error:
        detail = f"{evidence}\nThe rollback to `{previous}` was refused: {error.message}"
        run.say(f":x: The watch of `{env}` failed.\n{detail}")
        return StepEnd(StepState.FAILED, detail, PipelineState.FAILED, f"failed its watch in {env}")
    run.link(index, f"{ROLLBACK_LINK}{request.id}")
    if filed:
        run.say(f":rewind: The watch of `{env}` failed; rollback #{request.id} to `{previous}` "
                f"started{lag}.\n{evidence}")  # fmt: skip
    else:
        run.say(f":rewind: The watch of `{env}` failed before the restart; rollback "
                f"#{request.id} to `{previous}` goes on.")  # fmt: skip
    return _rolled_back(run, env, request.id, f"{evidence}\nRollback filed{lag}.")


def _file_once(
    run: PipelineRun, index: int, ask: Ask, *, approvals: int | None = None
) -> tuple[DeployRequest, bool]:
    """The request `ask` on the deploy desk, and whether it was filed now: stores the intent
    with step `index` first; a step whose intent is stored (a restart came while it was
    filing) takes the request it filed then, when there is one."""
    link = run.p.steps[index].link
    if link.startswith(INTENT_LINK):
        since = datetime.fromisoformat(link.rpartition(" at ")[2])
        own = _own_request(run, ask, since)
        if own is not None:
            return own, False
    else:
        run.link(index, f"{INTENT_LINK}{ask.kind.value} at {run.deps.clock.now().isoformat()}")
    return run.deps.deploys.request_now(ask, approvals=approvals), True


def _own_request(run: PipelineRun, ask: Ask, since: datetime) -> DeployRequest | None:
    """The request of `ask` filed since `since` (by this step, before a restart)."""
    version = (ask.version or "").removeprefix("v")
    for request in run.deps.deploys.store.recent(ask.env, OWN_LOOKBACK):
        if (
            request.kind is ask.kind
            and request.service == ask.service
            and request.version.removeprefix("v") == version
            and request.requester == ask.user
            and request.created_at >= since
        ):
            return request
    return None


def _rolled_back(run: PipelineRun, env: str, request_id: int, evidence: str) -> StepEnd:
    """Wait for the rollback `request_id` of `env` to end; the pipeline ends rolled back."""
    ended = _settled(run, request_id)
    previous = ended.version
    outcome = f"rollback #{request_id} to `{previous}` {ended.state.value.replace('_', ' ')}"
    detail = f"{evidence}\n{outcome}: {ended.detail}"
    run.say(f":rewind: {outcome}.")
    return StepEnd(StepState.FAILED, detail, PipelineState.ROLLED_BACK,
                   f"rolled {env} back to {previous}")  # fmt: skip


def _request(run: PipelineRun, index: int) -> DeployRequest:
    desk = run.deps.deploys
    link = run.p.steps[index].link
    if link and not link.startswith(INTENT_LINK):
        found = desk.store.get(_request_id(link))
        if found is not None:
            return found
    env = run.p.steps[index].env
    assert env is not None
    ask = Ask(DeployKind.DEPLOY, run.p.service, env, run.p.version, run.p.requester,
              run.p.channel_id, "")  # fmt: skip
    request, filed = _file_once(run, index, ask)
    run.link(index, f"deploy #{request.id}")
    run.remember_previous(env, request.from_version)
    request = desk.store.get(request.id) or request
    where = ""
    if request.message_ts:
        where = f" ({message_link(request.channel_id, request.message_ts, 'the request')})"
    waits = (
        f", waiting for {request.approvals_needed} approval(s)" if request.approvals_needed else ""
    )
    said = "filed" if filed else "filed before the restart"
    run.say(f"Deploy #{request.id} to `{env}` {said}{waits}{where}.")
    return request


def _request_id(link: str) -> int:
    return int(link.rpartition("#")[2])


def _settled(run: PipelineRun, request_id: int) -> DeployRequest:
    desk = run.deps.deploys
    while True:
        request = desk.store.get(request_id)
        assert request is not None, request_id
        if not request.state.active:
            return request
        run.pause(run.deps.poll)
