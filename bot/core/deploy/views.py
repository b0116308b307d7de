"""Block Kit for the deploy stage: the plan, the approval request (edited in place as votes
and states change), announcements to ops, and the lists. Pure functions of values."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.blocks import MAX_BLOCKS, escape, section
from bot.core.deploy.approvals import ActionId, Policy
from bot.core.deploy.locks import EnvLock, describe_refusal, stamp
from bot.core.deploy.model import DeployKind, DeployRequest, DeployState
from bot.core.listing import Filters, Listing
from bot.core.values import Block, Reply

_ICONS = {
    DeployState.PENDING: ":hourglass_flowing_sand:",
    DeployState.APPROVED: ":white_check_mark:",
    DeployState.RUNNING: ":rocket:",
    DeployState.SUCCEEDED: ":large_green_circle:",
    DeployState.FAILED: ":red_circle:",
    DeployState.ROLLED_BACK: ":leftwards_arrow_with_hook:",
    DeployState.REJECTED: ":no_entry:",
    DeployState.EXPIRED: ":alarm_clock:",
}


@dataclass(frozen=True, slots=True)
class Plan:
    """What a deploy would do, before it is asked for."""

    kind: DeployKind
    service: str
    env: str
    image: str
    version: str
    digest: str
    from_version: str | None
    policy: Policy
    blocking_lock: EnvLock | None
    changes: tuple[Block, ...]
    shipped: str


def who_approves(policy: Policy) -> str:
    """`<@U0BOB>, <!subteam^S0APPROVERS>`."""
    names = [f"<!subteam^{a}>" if a.startswith("S") else f"<@{a}>" for a in policy.approvers]
    return ", ".join(names) or "nobody"


def plan_reply(plan: Plan) -> Reply:
    """The --dry-run answer: everything the deploy would do, and nothing done."""
    head = (
        f"*Dry run:* {plan.kind.value} `{plan.service}` to `{plan.env}`\n"
        f"Image `{plan.image}:{plan.version}` (`{plan.digest}`)\n"
        f"Version: `{plan.from_version or 'nothing running'}` → `{plan.version}`"
    )
    needs = (
        f"Needs {plan.policy.needed} approval(s) from {who_approves(plan.policy)}"
        if plan.policy.needed
        else "Needs no approval"
    )
    lock = (
        "Locks: none in the way"
        if plan.blocking_lock is None
        else f":lock: {describe_refusal(plan.blocking_lock)}"
    )
    shipped = f"Ships: {plan.shipped}"
    blocks = [section(head), section(f"{needs}\n{lock}\n{shipped}"), *plan.changes]
    return Reply(text=f"Dry run: {plan.service} {plan.version} to {plan.env}", blocks=_fit(blocks))


def request_reply(request: DeployRequest, policy: Policy, *, mirror: bool = False) -> Reply:
    """The request message: who asks, the plan, the tally, the state; buttons while
    approvals are still possible. `mirror`: the copy in the channel it was asked in, which
    links to the request in the approval channel."""
    r = request
    icon = _ICONS[r.state]
    title = (
        f"{icon} *{r.kind.value.title()} #{r.id}*: {what(r)} — *{r.state.value.replace('_', ' ')}*"
    )
    asked = f"Asked by <@{r.requester}>"
    if r.kind.ships:
        asked += f" · image `{r.image_ref}` (`{r.digest[:19]}…`)"
    elif r.reason:
        asked += f" · why: {escape(r.reason)}"
    lines = [title, asked]
    if mirror:
        lines.append(f"Approvers are asked in <#{r.channel_id}>; approve here or there.")
    elif r.mirror_channel_id:
        lines.append(f"Asked in <#{r.mirror_channel_id}>.")
    if r.approvals_needed:
        lines.append(
            f"Approvals: {len(r.approved_by)}/{r.approvals_needed}"
            + (f" ({', '.join(f'<@{u}>' for u in r.approved_by)})" if r.approved_by else "")
            + f" · approvers: {who_approves(policy)}"
            # Slack keeps every reaction on the message, counted, even those that do not
            # approve; say so, or "✅ 3" beside "Approvals: 1/1" reads as a contradiction.
            + " (only their reactions count)"
        )
        if r.state is DeployState.PENDING and r.expires_at is not None:
            lines.append(
                f"React :white_check_mark: or :+1: to approve, :x: to reject. "
                f"Expires {stamp(r.expires_at)}."
            )
    if r.rejected_by:
        lines.append(f"Rejected by {', '.join(f'<@{u}>' for u in r.rejected_by)}")
    if r.detail:
        lines.append(r.detail)
    blocks: list[Block] = [section("\n".join(lines))]
    if r.state is DeployState.PENDING and r.approvals_needed:
        blocks.append(_buttons(r.id))
    blocks += list(r.changes)
    text = f"{r.kind.value} #{r.id} {r.service} {r.version} to {r.env}: {r.state.value}"
    return Reply(text=text, blocks=_fit(blocks), public=True)


def announcement(request: DeployRequest, event: str, seconds: float | None) -> Reply:
    """What ops hears when a deploy starts, succeeds, fails or rolls back."""
    r = request
    if r.approved_by:
        approved = "approved by " + ", ".join(f"<@{u}>" for u in r.approved_by)
    else:
        approved = "no approval needed"
    took = f" · took {seconds:.0f}s" if seconds is not None else ""
    if r.kind.ships:
        text = (
            f"{_ICONS[r.state]} {r.kind.value} `{r.service}` to `{r.env}` {event}: "
            f"`{r.from_version or '—'}` → `{r.version}` · asked by <@{r.requester}> · "
            f"{approved}{took}\nShipped: {r.shipped}"
        )
    else:
        why = escape(r.reason) if r.reason else "no reason given"
        text = (
            f"{_ICONS[r.state]} {r.kind.value} {event}: {what(r)} · asked by "
            f"<@{r.requester}> · {approved}{took}\nWhy: {why}"
        )
    if r.detail and event != "started":
        text += f"\n{r.detail}"
    return Reply(text=text, blocks=(section(text),), public=True)


def deploys_listing(requests: Sequence[DeployRequest], filters: Filters, user: str) -> Listing:
    """`/deploy list`: deploys and rollbacks newest first, running or waiting ones counted
    first; filtered by environment, service, state and `mine` (asked by the caller)."""
    kept = [
        r
        for r in requests
        if filters.env(r.env)
        and filters.service(r.service)
        and filters.state(r.state.value)
        and (not filters.mine or r.requester == user)
    ]
    active = sum(r.state.active for r in kept)
    pending = sum(r.state is DeployState.PENDING for r in kept)
    failed = sum(r.state is DeployState.FAILED for r in kept)
    return Listing(
        title="Deploys",
        summary=f"{len(kept)} deploys (of the latest {len(requests)}): {active} running or "
        f"waiting ({pending} for approval), {failed} failed",
        rows=tuple(_line(r) for r in kept),
        columns=("id", "kind", "service", "env", "from", "to", "state", "requester", "at"),
        records=tuple(_record(r) for r in kept),
        empty="No deploys match." if requests else "No deploys yet.",
    )


def locks_listing(locks: Sequence[EnvLock], filters: Filters, user: str) -> Listing:
    """`/lock list`: the locks in force, by environment and `mine`."""
    kept = [
        lock
        for lock in locks
        if filters.env(lock.env) and (not filters.mine or lock.holder == user)
    ]
    return Listing(
        title="Locks",
        summary=f"{len(kept)} environment(s) locked",
        rows=tuple(f":lock: {describe_refusal(lock)}" for lock in kept),
        columns=("env", "holder", "reason", "expires"),
        records=tuple(
            (lock.env, lock.holder, lock.reason, lock.expires_at.isoformat()) for lock in kept
        ),
        empty="No environment is locked.",
    )


def _record(r: DeployRequest) -> tuple[str, ...]:
    when = (r.finished_at or r.started_at or r.created_at).isoformat()
    return (str(r.id), r.kind.value, r.service, r.env, r.from_version or "", r.version,
            r.state.value, r.requester, when)  # fmt: skip


def what(r: DeployRequest) -> str:
    """What the request changes: `web` `1.0.0` → `1.1.0` to `prod`; `web` in `prod`: 2 → 4
    replicas; `web` in `prod` (`1.1.0`) for a restart."""
    if r.kind is DeployKind.SCALE:
        return f"`{r.service}` in `{r.env}`: {r.from_replicas} → {r.replicas} replicas"
    if r.kind is DeployKind.RESTART:
        return f"`{r.service}` in `{r.env}` (`{r.version or '—'}`)"
    return f"`{r.service}` `{r.from_version or '—'}` → `{r.version}` to `{r.env}`"


def _line(r: DeployRequest) -> str:
    when = stamp(r.finished_at or r.started_at or r.created_at)
    return (
        f"{_ICONS[r.state]} #{r.id} {'' if r.kind.ships else r.kind.value + ' '}{what(r)} "
        f"by <@{r.requester}> — "
        f"{r.state.value.replace('_', ' ')} ({when})"
    )


def duration(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds between two instants, when both are known."""
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def _buttons(request_id: int) -> Block:
    return {
        "type": "actions",
        "block_id": f"deploy-{request_id}",
        "elements": [
            {"type": "button", "action_id": ActionId.APPROVE.value, "style": "primary",
             "text": {"type": "plain_text", "text": "Approve"}, "value": str(request_id)},
            {"type": "button", "action_id": ActionId.REJECT.value, "style": "danger",
             "text": {"type": "plain_text", "text": "Reject"}, "value": str(request_id)},
        ],
    }  # fmt: skip


def _fit(blocks: list[Block]) -> tuple[Block, ...]:
    return tuple(blocks[:MAX_BLOCKS])
