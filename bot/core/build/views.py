"""Block Kit for builds, tests and releases: the job message, its live thread, the job
list and the release announcement. Pure functions of the job and what it printed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.core.blocks import SECTION_LIMIT
from bot.core.blocks import context as _context
from bot.core.blocks import escape as _escape
from bot.core.blocks import section as _section
from bot.core.build.jobs import Job, JobKind, JobState
from bot.core.build.model import Step
from bot.core.changes import Commit, IssueSummary, changes_blocks
from bot.core.listing import Filters, Listing
from bot.core.values import Block, Reply

_ICON = {
    JobState.QUEUED: ":hourglass_flowing_sand:",
    JobState.RUNNING: ":gear:",
    JobState.SUCCEEDED: ":white_check_mark:",
    JobState.FAILED: ":x:",
    JobState.CANCELLED: ":no_entry_sign:",
}
_NOUN = {JobKind.BUILD: "Build", JobKind.TEST: "Test", JobKind.RELEASE: "Release"}


def title(job: Job) -> str:
    """`Build web @ 1a2b3c4d5e6f (main)`, `Release web 1.2.0 @ ...`."""
    version = f" {job.version}" if job.version else ""
    ref = f" ({job.ref})" if job.ref and not job.revision.startswith(job.ref) else ""
    return f"{_NOUN[job.kind]} {job.service}{version} @ {job.short}{ref}"


def job_message(job: Job) -> Reply:
    """The job's top message: state, who asked, and once finished the duration and, for
    builds, the image's size and digest."""
    state = job.state.value
    headline = f"{_ICON[job.state]} *{_escape(title(job))}* — {state}"
    facts = [f"`{job.id}` requested by <@{job.user_id}>"]
    duration = job.duration()
    if duration is not None and job.state.finished:
        facts.append(f"took {format_duration(duration)}")
    if job.image:
        facts.append(f"image `{job.image}`")
    if job.size:
        facts.append(f"size {format_size(job.size)}")
    if job.digest:
        facts.append(f"digest `{job.digest}`")
    blocks: list[Block] = [_section(headline), _section(" · ".join(facts))]
    if job.detail:
        blocks.append(_section(_escape(job.detail)))
    if not job.state.finished:
        blocks.append(_context(f"`/build cancel {job.id}` stops it. Progress is in the thread."))
    text = f"{title(job)}: {state}"
    if job.detail:
        text += f" — {job.detail[:200]}"
    return Reply(text=text, blocks=tuple(blocks), public=True)


def progress_message(job: Job, step: Step | None, lines: Sequence[str]) -> Reply:
    """The thread message: the current step (N/M) and the last lines of the log; once the
    job is finished, its result. The whole log is for operators: the thread names its path
    under the bot's state directory (jobs/<job id>.log), never a full path on the machine."""
    if job.state is JobState.FAILED and step is not None and job.kind is JobKind.BUILD:
        head = f"*Failed at step {_escape(step.label())}*"
    elif job.state.finished:
        head = f"{_ICON[job.state]} *{_NOUN[job.kind]} {job.state.value}*"
        duration = job.duration()
        if duration is not None:
            head += f" in {format_duration(duration)}"
    elif step is not None:
        head = f"*Step {_escape(step.label())}*"
    else:
        head = f"*{_NOUN[job.kind]} {job.state.value}*"
    shown = [f"{head} — last {len(lines)} log lines:" if lines else head]
    blocks: list[Block] = [_section(shown[0])]
    if lines:
        blocks.append(_section(code_block(lines)))
    blocks.append(
        _context(
            f"Whole log: `{job_log_name(job.id)}` in the bot's state directory "
            "(OPSLOOP_STATE_DIR; operators have it)"
        )
    )
    text = f"{title(job)}: {head.replace('*', '')}"
    return Reply(text=text, blocks=tuple(blocks), public=True)


def job_log_name(job_id: str) -> str:
    """Where a job's whole log is, relative to the bot's state directory."""
    return f"jobs/{job_id}.log"


def code_block(lines: Sequence[str]) -> str:
    """Log lines as a Slack code block that fits one section, the newest lines kept."""
    budget = SECTION_LIMIT - 10
    kept: list[str] = []
    for line in reversed(lines):
        clean = _escape(line.replace("```", "'''"))[:300]
        budget -= len(clean) + 1
        if budget < 0:
            break
        kept.append(clean)
    return "```" + "\n".join(reversed(kept)) + "```"


def interrupted_note(job: Job) -> Reply:
    """Said in the thread of a job that a restart of the bot cut short."""
    if job.state is JobState.SUCCEEDED:
        return Reply(
            text=f":warning: The bot restarted while `{job.id}` ran, after it happened: "
            f"it is marked succeeded. {job.detail}",
            public=True,
        )
    return Reply(
        text=f":warning: `{job.id}` was interrupted: the bot restarted while it ran, so it is "
        "marked failed. Run it again.",
        public=True,
    )


def jobs_listing(jobs: Sequence[Job], now: datetime, filters: Filters, user: str) -> Listing:
    """`/build list`: builds, tests and releases newest first, by service, state (or kind)
    and `mine`."""
    kinds = {kind.value for kind in JobKind} & filters.states
    states = filters.states - kinds
    kept = [
        job
        for job in jobs
        if filters.service(job.service)
        and (not kinds or job.kind.value in kinds)
        and (not states or job.state.value in states)
        and (not filters.mine or job.user_id == user)
    ]
    running = sum(job.state is JobState.RUNNING for job in kept)
    queued = sum(job.state is JobState.QUEUED for job in kept)
    failed = sum(job.state is JobState.FAILED for job in kept)
    rows = []
    for job in kept:
        ago = format_duration((now - job.created_at).total_seconds())
        rows.append(
            f"{_ICON[job.state]} `{job.id}` {_escape(title(job))} — {job.state.value}, "
            f"<@{job.user_id}>, {ago} ago"
        )
    return Listing(
        title="Builds, tests and releases",
        summary=f"{len(kept)} jobs (of the latest {len(jobs)}): {running} running, "
        f"{queued} queued, {failed} failed",
        rows=tuple(rows),
        columns=JOB_COLUMNS,
        records=tuple(_record(job) for job in kept),
        empty="No jobs match." if jobs else "No builds, tests or releases yet.",
    )


JOB_COLUMNS = ("id", "kind", "service", "ref", "revision", "state", "user", "created", "detail")


def _record(job: Job) -> tuple[str, ...]:
    return (job.id, job.kind.value, job.service, job.ref, job.revision, job.state.value,
            job.user_id, job.created_at.isoformat(), job.detail)  # fmt: skip


def release_notes(
    job: Job,
    previous: str | None,
    commits: Sequence[Commit],
    issues: Mapping[str, IssueSummary] | None,
) -> Reply:
    """The announcement of a pushed release: the commits since the previous one and the
    Jira issues they mention."""
    since = f"since {previous}" if previous else "(first release)"
    head = f":rocket: *{_escape(job.service)} {_escape(job.version)}* released {since}"
    blocks = changes_blocks(head, commits, issues)
    blocks.append(_context(f"`{job.image}` · digest `{job.digest}` · by <@{job.user_id}>"))
    return Reply(text=f"{job.service} {job.version} released", blocks=tuple(blocks), public=True)


def format_duration(seconds: float) -> str:
    """`4.2s`, `3m 05s`, `2h 10m`."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    return f"{minutes // 60}h {minutes % 60:02d}m"


def format_size(size: int) -> str:
    """Bytes as `1.4 MB`."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1000
    return f"{size} B"


def started(job: Job, joined: bool) -> Reply:
    """The requester's answer: the job started, or an identical one was already under way
    and they joined it."""
    if joined:
        return Reply(
            text=f":link: {title(job)} is already {job.state.value} as `{job.id}`; "
            "you joined it: its thread has the progress."
        )
    return Reply(
        text=f":gear: Started `{job.id}`: {title(job)}. Progress is in the thread; "
        f"`/build cancel {job.id}` stops it."
    )
