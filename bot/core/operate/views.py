"""Block Kit for Operate: the status view and the autoscaler's announcements. Pure functions
of values."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bot.core.blocks import MAX_BLOCKS, context, escape, section
from bot.core.deploy.model import DeployRequest
from bot.core.monitor.model import Alert
from bot.core.monitor.views import summary
from bot.core.operate.autoscale import Decision
from bot.core.operate.model import Placement, Status, TaskState, Usage
from bot.core.values import Block, Reply

MIB = 1024 * 1024
TASKS_SHOWN = 12
USAGE_PENDING = "CPU and memory are being read…"


@dataclass(frozen=True, slots=True)
class Seen:
    """What is known of one placement: its status (None when the engine failed, with
    `problem` saying why), CPU and memory when read, the last deploy, autoscaler pause."""

    placement: Placement
    status: Status | None
    problem: str = ""
    usage: Sequence[Usage] | None = None
    last_deploy: DeployRequest | None = None
    autoscale_paused: bool = False


def status_reply(seen: Sequence[Seen], now: datetime, usage_pending: bool) -> Reply:
    """The /status view: one section per placement, task lines under it."""
    if not seen:
        return Reply(text="No service has deploy settings in opsloop.yml.")
    blocks: list[Block] = []
    for one in seen:
        blocks.append(section(_placement_text(one, now)))
    if usage_pending and any(one.status is not None and one.status.running for one in seen):
        blocks.append(context(f":hourglass_flowing_sand: {USAGE_PENDING}"))
    summary = ", ".join(f"{s.placement.service}/{s.placement.env}" for s in seen)
    return Reply(text=f"Status: {summary}"[:3000], blocks=tuple(blocks[:MAX_BLOCKS]))


def with_open_alerts(
    reply: Reply, alerts: Sequence[Alert], keys: Collection[tuple[str, str]]
) -> Reply:
    """The status view with the open alerts (Monitor stage) of the placements `keys`: one
    line each under the placements, or a line saying none is open."""
    mine = [a for a in alerts if (a.service, a.env) in keys]
    lines = [summary(alert) for alert in mine[:ALERTS_SHOWN]]
    if len(mine) > ALERTS_SHOWN:
        lines.append(f"… and {len(mine) - ALERTS_SHOWN} more: `/alerts` lists them all.")
    text = "*Open alerts*\n" + "\n".join(lines) if lines else ":white_check_mark: No open alerts."
    blocks = list(reply.blocks)
    at = next((i for i, b in enumerate(blocks) if b.get("type") == "context"), len(blocks))
    blocks.insert(at, section(text))
    return replace(reply, blocks=tuple(blocks[:MAX_BLOCKS]))


ALERTS_SHOWN = 10


def _placement_text(one: Seen, now: datetime) -> str:
    p, s = one.placement, one.status
    head = f"*`{p.service}` in `{p.env}`* · {p.kind}"
    if s is None:
        return f"{head}\n:warning: {one.problem}"
    if not s.exists:
        return f"{head}\n:white_circle: nothing runs (not deployed yet)"
    icon = ":large_green_circle:" if s.running >= s.desired > 0 else ":red_circle:"
    revision = f" (`{s.revision[:12]}`)" if s.revision else ""
    lines = [
        f"{head} · `{s.version or 'unknown version'}`{revision}",
        f"{icon} {s.running}/{s.desired} running"
        + (f" · updating: {s.updating}" if s.updating else ""),
        "Limits: " + _limits(s),
    ]
    if p.autoscale is not None:
        a = p.autoscale
        mem = f", memory {a.memory}%" if a.memory else ""
        state = "paused" if one.autoscale_paused else "on"
        lines.append(f"Autoscale {state}: {a.low} to {a.high} replicas at CPU {a.cpu}%{mem}")
    if s.proxy is not None:
        up = s.proxy.state == "running"
        lines.append(
            f"{':large_green_circle:' if up else ':red_circle:'} proxy `{s.proxy.name}` "
            f"{s.proxy.state}"
            + (f" on {s.proxy.address}" if s.proxy.address else "")
            + ("" if up else f" (reported, not replaced: `docker start {s.proxy.name}`)")
        )
    usage = {u.task_id: u for u in one.usage or ()}
    for task in s.tasks[:TASKS_SHOWN]:
        lines.append(_task_line(task, usage.get(task.id), now))
    if len(s.tasks) > TASKS_SHOWN:
        lines.append(f"… and {len(s.tasks) - TASKS_SHOWN} more task(s)")
    if one.last_deploy is not None:
        d = one.last_deploy
        when = (d.finished_at or d.created_at).strftime("%Y-%m-%d %H:%M UTC")
        lines.append(
            f"Last deploy: #{d.id} `{d.from_version or '—'}` → `{d.version}` by "
            f"<@{d.requester}>, {when}"
        )
    return "\n".join(lines)


def _limits(s: Status) -> str:
    cpu = f"{s.cpu_limit:g} CPU" if s.cpu_limit else "no CPU limit"
    memory = f"{s.memory_limit / MIB:.0f} MiB" if s.memory_limit else "no memory limit"
    return f"{cpu}, {memory}"


def _task_line(task: TaskState, usage: Usage | None, now: datetime) -> str:
    icon = {"running": ":large_green_circle:", "failed": ":red_circle:",
            "rejected": ":red_circle:"}.get(task.state, ":large_yellow_circle:")  # fmt: skip
    since = f" for {_ago(now, task.since)}" if task.since else ""
    parts = [f"{icon} `{task.id}` {task.state}{since} on {escape(task.node)}"]
    if task.restarts:
        parts.append(f"{task.restarts} earlier task(s)")
    if task.health:
        parts.append(task.health)
    if usage is not None:
        cpu = f"CPU {usage.cpu:.0f}%" if usage.cpu is not None else "CPU —"
        memory = f"memory {usage.memory:.0f}%" if usage.memory is not None else "memory —"
        parts.append(f"{cpu} / {memory} of limit")
    if task.error:
        parts.append(escape(task.error[:120]))
    return " · ".join(parts)


def _ago(now: datetime, then: datetime) -> str:
    seconds = max(int((now - then).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def autoscale_announcement(placement: Placement, decision: Decision, trouble: str = "") -> Reply:
    """What ops hears when the autoscaler changes the replicas (and only then); `trouble`
    says what went wrong when the engine did not reach the new count."""
    found = decision.recommendation
    up = decision.replicas > decision.current
    icon = ":chart_with_upwards_trend:" if up else ":chart_with_downwards_trend:"
    why = ""
    if found is not None and found.observed is not None:
        why = (
            f": {found.metric} {found.observed:.0f}% of the limit on average, target "
            f"{found.target:.0f}%"
        )
    text = (
        f"{icon} Autoscaler scaled `{placement.service}` in `{placement.env}` from "
        f"{decision.current} to {decision.replicas} replicas{why}."
    )
    if trouble:
        text += f"\n:warning: {trouble}"
    return Reply(text=text, blocks=(section(text),), public=True)


def paused_reply(placement: Placement, paused: bool, user: str) -> Reply:
    """`/scale web prod auto off|on`."""
    where = f"`{placement.service}` in `{placement.env}`"
    if paused:
        text = f":double_vertical_bar: <@{user}> paused the autoscaler of {where}."
    else:
        text = f":arrow_forward: <@{user}> resumed the autoscaler of {where}."
    return Reply(text=text, public=True)


def by_key(seen: Sequence[Seen]) -> Mapping[tuple[str, str], Seen]:
    """The entries by (service, env)."""
    return {(s.placement.service, s.placement.env): s for s in seen}
