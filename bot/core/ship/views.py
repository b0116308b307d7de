"""What pipelines look like in Slack: the checklist message, the ops announcements, the
list rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.blocks import clip, context, section
from bot.core.listing import Filters, Listing
from bot.core.ship.model import Pipeline, PipelineState, Step, StepState
from bot.core.values import Reply

_STEP_ICONS = {
    StepState.WAITING: ":white_circle:",
    StepState.RUNNING: ":hourglass_flowing_sand:",
    StepState.PASSED: ":white_check_mark:",
    StepState.FAILED: ":x:",
    StepState.SKIPPED: ":heavy_minus_sign:",
}
_ICONS = {
    PipelineState.RUNNING: ":arrows_counterclockwise:",
    PipelineState.SUCCEEDED: ":rocket:",
    PipelineState.FAILED: ":x:",
    PipelineState.ROLLED_BACK: ":rewind:",
    PipelineState.CANCELLED: ":no_entry_sign:",
}


def title(p: Pipeline) -> str:
    """`Pipeline #3: web 1.2.0 to staging → prod`."""
    return f"Pipeline #{p.id}: `{p.service}` `{p.version}` to {' → '.join(p.envs)}"


def _seconds(step: Step) -> str:
    took = step.seconds()
    if took is None:
        return ""
    return f" ({took:.1f}s)" if took < 120 else f" ({took / 60:.1f} min)"


def _line(step: Step) -> str:
    link = f" · {step.link}" if step.link else ""
    detail = f" — {clip(step.detail, 200)}" if step.detail and step.state.ended else ""
    if step.state is StepState.RUNNING and step.detail:
        detail = f" — {clip(step.detail, 200)}"
    return f"{_STEP_ICONS[step.state]} {step.name}{_seconds(step)}{link}{detail}"


def checklist(p: Pipeline) -> Reply:
    """The pipeline's one message: its state and every step with state, duration and the
    stage run it links to."""
    state = p.state.value.replace("_", " ")
    head = f"{_ICONS[p.state]} *{title(p)}* — *{state}*"
    asked = f"Asked by <@{p.requester}> · ref `{p.ref}`"
    if p.revision:
        asked += f" (`{p.revision[:12]}`)"
    if p.cancel_requested_by and p.state is PipelineState.RUNNING:
        asked += f" · cancelled by <@{p.cancel_requested_by}>: stops after the running step"
    lines = "\n".join(_line(step) for step in p.steps)
    blocks = [section(head), section(clip(lines)), context(asked)]
    if p.detail:
        blocks.insert(2, section(clip(p.detail)))
    return Reply(text=f"pipeline #{p.id} {p.service} {p.version}: {state}", blocks=tuple(blocks),
                 public=True)  # fmt: skip


def announcement(p: Pipeline, event: str, detail: str = "") -> Reply:
    """An ops-channel line: the start, a promotion, a rollback or the end."""
    text = f"{_ICONS[p.state]} {title(p)} {event} (asked by <@{p.requester}>)."
    if detail:
        text += f"\n{clip(detail, 2500)}"
    return Reply(text=text, blocks=(section(text),), public=True)


def pipelines_listing(pipelines: Sequence[Pipeline], filters: Filters, user: str) -> Listing:
    """`/ship list`: running and recent pipelines, newest first."""
    kept = [
        p
        for p in pipelines
        if filters.service(p.service)
        and (not filters.envs or any(filters.env(env) for env in p.envs))
        and filters.state(p.state.value)
        and (not filters.mine or p.requester == user)
    ]
    running = sum(p.state is PipelineState.RUNNING for p in kept)
    return Listing(
        title="Pipelines",
        summary=f"{len(kept)} pipelines (of the latest {len(pipelines)}): {running} running",
        rows=tuple(_row(p) for p in kept),
        columns=("id", "service", "version", "envs", "state", "step", "requester", "at"),
        records=tuple(_record(p) for p in kept),
        empty="No pipelines match." if pipelines else "No pipelines yet.",
    )


def _at(p: Pipeline) -> datetime:
    return p.finished_at or p.created_at


def _step_now(p: Pipeline) -> str:
    index = p.current()
    return p.steps[index].name if index is not None and p.state is PipelineState.RUNNING else ""


def _row(p: Pipeline) -> str:
    now = _step_now(p)
    at = f" at {now}" if now else ""
    state = p.state.value.replace("_", " ")
    return (
        f"{_ICONS[p.state]} #{p.id} `{p.service}` `{p.version}` to {' → '.join(p.envs)} "
        f"by <@{p.requester}> — {state}{at} ({_at(p):%Y-%m-%d %H:%M} UTC)"
    )


def _record(p: Pipeline) -> tuple[str, ...]:
    return (str(p.id), p.service, p.version, " ".join(p.envs), p.state.value, _step_now(p),
            p.requester, _at(p).isoformat())  # fmt: skip
