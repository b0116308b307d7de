"""/status of many deployments as a list: a summary of the estate first, one compact row per
service and environment, read from one engine listing (as `docker ps` and `docker service
ls` read it), with the Deploy stage's context (last deploy, deploying, locked) and the
Monitor stage's open alerts. Pure functions of values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.core.blocks import escape
from bot.core.code.catalogue import Deployment
from bot.core.deploy.model import DeployRequest
from bot.core.listing import Filters, Listing
from bot.core.monitor.model import Alert, AlertState
from bot.core.operate.model import Placement

Key = tuple[str, str]
"""(service, environment)."""


class StatusState(StrEnum):
    """The states /status filters on."""

    RUNNING = "running"
    """Every task that should run, runs."""
    UNHEALTHY = "unhealthy"
    """Fewer tasks run than should, the container stopped, or its healthcheck fails."""
    UNDEPLOYED = "undeployed"
    DEPLOYING = "deploying"
    LOCKED = "locked"
    ALERTING = "alerting"
    """An open alert is firing (not acknowledged or silenced)."""


@dataclass(frozen=True, slots=True)
class EstateContext:
    """What /status knows beside the engine's listing, each read once for the whole view:
    deploys under way, locked environments, each placement's last deploy and open alerts,
    and why the engine could not be read."""

    deploying: frozenset[Key] = frozenset()
    locked: frozenset[str] = frozenset()
    last_deploys: Mapping[Key, DeployRequest] = field(default_factory=dict)
    alerts: Mapping[Key, Sequence[Alert]] = field(default_factory=dict)
    note: str | None = None


COLUMNS = (
    "service", "environment", "target", "state", "version", "revision", "running", "desired",
    "engine status", "open alerts", "deploying", "locked", "last deploy", "deployed by",
    "deployed at",
)  # fmt: skip


def alerts_by_key(alerts: Sequence[Alert]) -> dict[Key, list[Alert]]:
    """Open alerts grouped by (service, environment); ones naming neither are left out."""
    found: dict[Key, list[Alert]] = {}
    for alert in alerts:
        if alert.service is not None and alert.env is not None:
            found.setdefault((alert.service, alert.env), []).append(alert)
    return found


def status_listing(
    placements: Sequence[Placement],
    running: Mapping[Key, Deployment],
    context: EstateContext,
    filters: Filters,
    *,
    user: str,
    now: datetime,
) -> Listing:
    """/status as a list. `placements` are every configured service and environment; the
    summary counts those the service and environment filters keep, the rows also pass the
    state filters and `mine` (the last deploy was the person's)."""
    scoped = [p for p in placements if filters.service(p.service) and filters.env(p.env)]
    states = {(p.service, p.env): _states(p, running, context) for p in scoped}
    kept = [
        p
        for p in scoped
        if (not filters.states or filters.states & states[p.service, p.env])
        and (not filters.mine or _deployed_by(context, p) == user)
    ]
    counts = {s: sum(s in found for found in states.values()) for s in StatusState}
    total = len(placements)
    counted = f"{len(scoped)} of {total}" if len(scoped) != total else f"{total}"
    summary = (
        f"{counted} deployments: {counts[StatusState.UNHEALTHY]} unhealthy, "
        f"{counts[StatusState.DEPLOYING]} deploying, {counts[StatusState.LOCKED]} locked, "
        f"{counts[StatusState.ALERTING]} alerting, {counts[StatusState.UNDEPLOYED]} not deployed"
    )
    if len(kept) != len(scoped):
        summary += f" · {len(kept)} shown"
    note = ""
    if context.note:
        note = f"{escape(context.note)} What runs shows as unknown."
    return Listing(
        title="Status",
        summary=summary,
        rows=tuple(_row(p, running.get((p.service, p.env)), context, now) for p in kept),
        columns=COLUMNS,
        records=tuple(_record(p, running.get((p.service, p.env)), context) for p in kept),
        empty="No deployment matches." if placements else "No service has deploy settings.",
        note=note,
    )


def _ours(deployment: Deployment | None) -> Deployment | None:
    return None if deployment is None or deployment.foreign else deployment


def _states(
    placement: Placement, running: Mapping[Key, Deployment], context: EstateContext
) -> set[StatusState]:
    key = (placement.service, placement.env)
    found: set[StatusState] = set()
    deployment = _ours(running.get(key))
    if context.note is None:
        if deployment is None:
            found.add(StatusState.UNDEPLOYED)
        elif _unhealthy(deployment):
            found.add(StatusState.UNHEALTHY)
        else:
            found.add(StatusState.RUNNING)
    if key in context.deploying:
        found.add(StatusState.DEPLOYING)
    if placement.env in context.locked:
        found.add(StatusState.LOCKED)
    if any(a.state is AlertState.OPEN for a in context.alerts.get(key, ())):
        found.add(StatusState.ALERTING)
    return found


def _unhealthy(deployment: Deployment) -> bool:
    if deployment.kind == "container":
        return deployment.state != "running" or "(unhealthy)" in deployment.status
    if deployment.desired is None or deployment.running is None:
        return False  # a global service: the listing does not say how many should run
    return deployment.running < deployment.desired


def _deployed_by(context: EstateContext, placement: Placement) -> str | None:
    last = context.last_deploys.get((placement.service, placement.env))
    return last.requester if last is not None else None


def _row(
    placement: Placement, found: Deployment | None, context: EstateContext, now: datetime
) -> str:
    key = (placement.service, placement.env)
    head = f"*{escape(placement.service)}* `{placement.env}`"
    deployment = _ours(found)
    if found is not None and found.foreign:
        parts = [f":white_circle: {head} `{escape(found.name)}` belongs to another opsloop "
                 f"installation (namespace `{escape(found.foreign)}`)"]  # fmt: skip
    elif deployment is None:
        icon = ":white_circle:" if context.note is None else ":grey_question:"
        parts = [f"{icon} {head}", "unknown" if context.note else "not deployed"]
    else:
        icon = ":red_circle:" if _unhealthy(deployment) else ":large_green_circle:"
        parts = [f"{icon} {head}", f"`{escape(deployment.version or 'unknown version')}`",
                 _running(deployment)]  # fmt: skip
    alerts = context.alerts.get(key, ())
    if alerts:
        firing = sum(a.state is AlertState.OPEN for a in alerts)
        parts.append(
            f":rotating_light: {len(alerts)} open alert(s) ({firing} firing): "
            + ", ".join(f"#{a.id}" for a in alerts[:3])
            + ("…" if len(alerts) > 3 else "")
        )
    if key in context.deploying:
        parts.append(":arrows_counterclockwise: deploying")
    if placement.env in context.locked:
        parts.append(":lock: locked")
    last = context.last_deploys.get(key)
    if last is not None:
        parts.append(f"deployed by <@{last.requester}> {_ago(now, _when(last))} ago")
    return " · ".join(parts)


def _running(deployment: Deployment) -> str:
    if deployment.kind == "container":
        return f"container {escape(deployment.status or deployment.state)}"
    desired = "global" if deployment.desired is None else str(deployment.desired)
    running = "?" if deployment.running is None else str(deployment.running)
    updating = f" · {deployment.updating}" if deployment.updating else ""
    return f"swarm {running}/{desired} running{updating}"


def _when(request: DeployRequest) -> datetime:
    return request.finished_at or request.created_at


def _ago(now: datetime, then: datetime) -> str:
    seconds = max(int((now - then).total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _record(
    placement: Placement, found: Deployment | None, context: EstateContext
) -> tuple[str, ...]:
    key = (placement.service, placement.env)
    deployment = _ours(found)
    if found is not None and found.foreign:
        state = f"another installation's ({found.foreign})"
    elif deployment is None:
        state = "unknown" if context.note else "not deployed"
    else:
        state = "unhealthy" if _unhealthy(deployment) else "running"
    last = context.last_deploys.get(key)
    alerts = context.alerts.get(key, ())

    def number(value: int | None) -> str:
        return "" if value is None else str(value)

    return (
        placement.service, placement.env, placement.kind, state,
        (deployment.version or "") if deployment else "",
        (deployment.revision or "") if deployment else "",
        number(deployment.running) if deployment else "",
        number(deployment.desired) if deployment else "",
        deployment.status if deployment else "",
        " ".join(f"#{a.id}" for a in alerts),
        "yes" if key in context.deploying else "",
        "yes" if placement.env in context.locked else "",
        f"#{last.id} {last.version}" if last else "",
        last.requester if last else "",
        _when(last).isoformat(timespec="seconds") if last else "",
    )  # fmt: skip
