"""Runs build, test and release jobs on threads of their own (never the router's), keeps
their state in the JobStore, their log in a file, and their progress in Slack: one top
message per job, edited as its state changes, and a thread message with the current step
and the last log lines, each edited at most once a second (LiveMessage)."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TypeVar

from bot.core.build import jobs as transitions
from bot.core.build.job_context import (
    SHOWN_LINES,
    JobContext,
    LiveJobMessage,
    Outcome,
    Work,
    after_commit,
)
from bot.core.build.jobs import Job, JobKind, JobState, JobStore
from bot.core.build.model import Cancelled, CancelToken, JobFailed
from bot.core.build.views import interrupted_note, job_message, progress_message
from bot.core.clock import Clock
from bot.core.draining import DrainingPool
from bot.core.errors import Conflict, NotFound, OpsloopError, PermissionDenied
from bot.core.ownership import taken_over_note
from bot.core.ports import Notifier
from bot.core.replies import best_effort
from bot.core.values import MessageRef, Reply

log = logging.getLogger(__name__)

FAILED_LINES = 30
STOPPED_DETAIL = "cancelled: opsloop was stopped while it ran; run it again"
_T = TypeVar("_T")
Submitted = Callable[[Job, bool], None]
"""Told a submitted job and whether it was joined, before the job's messages are posted."""
Recognise = Callable[[Job], "Outcome | None"]
"""After a restart: whether an unfinished job had in fact happened, and how it ended."""


class JobRunner:
    """Starts, joins, cancels and recovers jobs."""

    def __init__(
        self,
        store: JobStore,
        notifier: Notifier,
        clock: Clock,
        log_dir: Path,
        workers: int = 2,
    ) -> None:
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._log_dir = log_dir
        self._pool = DrainingPool(workers, "opsloop-job")
        # The thread's last edit may have to wait out the edit interval; it waits here, so
        # that the job's worker is free for the next job at once.
        self._finisher = DrainingPool(4, "opsloop-edit")
        self._workers = workers
        self._lock = threading.Lock()
        # Notified whenever a job of this runner ends, for wait().
        self._ended = threading.Condition()
        self._tokens: dict[str, CancelToken] = {}
        self._running: set[str] = set()
        self._busy = 0
        self._stopping = False

    def submit(
        self, job: Job, work: Work, before_posting: Submitted | None = None
    ) -> tuple[Job, bool]:
        """Queue the job, or join the same kind of job for the same service and revision
        that is queued or running here. Returns the job and whether it was joined;
        `before_posting` hears the same before the job's messages are posted (so that a
        note to the requester lands above them). A job's messages are a courtesy: when
        Slack refuses them the job runs all the same. Conflict once the runner is stopping."""
        with self._lock:
            if self._stopping:
                raise Conflict("opsloop is restarting; send the command again in a minute.")
            running = self._live_twin(job)
            if running is None:
                job, token = self._queue(job)
        if running is not None:
            self._told(before_posting, running, joined=True)
            return running, True
        self._told(before_posting, job, joined=False)
        job = best_effort(f"post the messages of job {job.id}", partial(self._announce, job)) or job
        self._pool.submit(self._run, job, work, token)
        return job, False

    def _queue(self, job: Job) -> tuple[Job, CancelToken]:
        """Store the job as queued (running when a worker is free); under the lock."""
        self._log_dir.mkdir(parents=True, exist_ok=True)
        job = dataclasses.replace(job, log_path=str(self._log_dir / f"{job.id}.log"))
        if self._busy < self._workers:
            # A worker is free: the message says running from the start. That saves an
            # edit, and with it the wait of an edit interval before the final one.
            job = transitions.start(job, self._clock.now())
        self._store.add(job)
        self._busy += 1
        token = CancelToken()
        self._tokens[job.id] = token
        return job, token

    @staticmethod
    def _told(before_posting: Submitted | None, job: Job, *, joined: bool) -> None:
        if before_posting is not None:
            best_effort(f"tell who asked for job {job.id}", partial(before_posting, job, joined))

    def _announce(self, job: Job) -> Job:
        """Post the job's message and thread (outside the lock: a slow Slack must not hold
        up other submits) and keep where they are."""
        top = self._quietly(job, self._notifier.post, job.channel_id, job_message(job))
        first = progress_message(job, None, ())
        thread = (
            self._quietly(job, self._notifier.post, job.channel_id, first, top.ts) if top else None
        )
        with self._lock:
            job = self._store.get(job.id) or job
            job = dataclasses.replace(
                job, message_ts=top.ts if top else "", thread_ts=thread.ts if thread else ""
            )
            self._store.save(job)
        if job.state.finished:
            # Cancelled while its messages were being posted.
            self._quietly(job, self._edit, job)
        return job

    def _live_twin(self, job: Job) -> Job | None:
        """The same job queued or running in this process (one the store still calls active
        but no thread of ours runs is dead, and is never joined)."""
        active = (JobState.QUEUED, JobState.RUNNING)
        for found in self._store.find(job.kind, job.service, job.revision, active):
            if found.version == job.version and found.id in self._tokens:
                return found
        return None

    def active(self, kind: JobKind, service: str, revision: str) -> Job | None:
        """The oldest job of this kind for the service and revision that is queued or
        running here (as /release needs to know before it says a test is missing)."""
        active = (JobState.QUEUED, JobState.RUNNING)
        with self._lock:
            live = [
                found
                for found in self._store.find(kind, service, revision, active)
                if found.id in self._tokens
            ]
        return live[-1] if live else None

    def wait(self, job_id: str, timeout: float) -> Job | None:
        """The job once it has ended, or as the store has it when this runner no longer runs
        it; None when it is still queued or running after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._ended:
            while True:
                job = self._store.get(job_id)
                if job is None or job.state.finished or job_id not in self._tokens:
                    return job
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._ended.wait(remaining)

    def cancel(self, job_id: str, user: str, *, admin: bool = False) -> Job:
        """Cancel a queued or running job for `user`, who started it or is an admin; a
        finished one is returned as it is."""
        job = self._store.get(job_id)
        if job is None:
            raise NotFound(f"There is no job `{job_id}`. `/build list` shows the recent ones.")
        if job.state.finished:
            return job
        if job.user_id != user and not admin:
            raise PermissionDenied(
                f"`{job_id}` was started by <@{job.user_id}>; only they or a member of "
                "`admins` can cancel it."
            )
        token = self._tokens.get(job_id)
        if job.state is JobState.RUNNING and token is not None:
            token.cancel()
            return job
        if token is not None:
            token.cancel()
        with self._lock:
            job = self._store.get(job_id) or job
            if job.state.finished:
                return job
            job = transitions.cancel(job, self._clock.now(), "cancelled before it started")
            self._store.save(job)
        self._quietly(job, self._edit, job)
        return job

    def recover(
        self, recognise: Recognise | None = None, only: Mapping[str, str | None] | None = None
    ) -> list[Job]:
        """Settle the jobs a restart cut short: one that `recognise` finds had happened
        (a release whose push landed) succeeds; the others fail. Their threads say so.
        With `only` (job id -> the process that ran it, bot.core.ownership), just those:
        jobs whose process stopped answering; a known one is named in the thread."""
        settled = []
        for found in self._store.unfinished():
            if found.id in self._tokens or (only is not None and found.id not in only):
                continue
            owner = only.get(found.id) if only is not None else None
            if owner is not None and found.message_ts:
                note = Reply(text=taken_over_note(found.kind.value, owner), public=True)
                self._quietly(found, self._notifier.post, found.channel_id, note, found.message_ts)
            happened, why = self._recognised(found, recognise)
            if happened is not None:
                job = transitions.succeed(found, self._clock.now(), happened.detail,
                                          digest=happened.digest or found.digest)  # fmt: skip
            else:
                reason = "interrupted by a restart of the bot" + why
                job = transitions.fail(found, self._clock.now(), reason)
            self._store.save(job)
            settled.append(job)
            if job.message_ts:
                self._quietly(job, self._edit, job)
                note = interrupted_note(job)
                self._quietly(job, self._notifier.post, job.channel_id, note, job.message_ts)
        return settled

    @staticmethod
    def _recognised(job: Job, recognise: Recognise | None) -> tuple[Outcome | None, str]:
        if recognise is None:
            return None, ""
        try:
            return recognise(job), ""
        except OpsloopError as error:
            log.warning("could not tell whether job %s happened: %s", job.id, error.message)
            return None, f" (whether it happened could not be checked: {error.message})"

    def stop(self, timeout: float | None = None) -> list[str]:
        """Take no more jobs and cancel the running ones, so that each ends at its next safe
        point (its engine work stopped, the job marked cancelled because opsloop stopped),
        waiting up to `timeout` seconds (None: as long as that takes). Queued jobs stay
        queued. A job still running after that is cut short: it stays running in the store
        and the next start marks it interrupted (recover), as it does queued ones.
        Returns the ids of the jobs cut short."""
        deadline = None if timeout is None else self._clock.monotonic() + timeout
        with self._lock:
            self._stopping = True
        for token in list(self._tokens.values()):
            token.cancel()
        if self._pool.drain(timeout, cancel_queued=True):
            with self._lock:
                cut_short = sorted(self._running)
            log.warning("stopped with job(s) still running: %s", ", ".join(cut_short))
            return cut_short
        left = None if deadline is None else max(0.0, deadline - self._clock.monotonic())
        self._finisher.drain(left, cancel_queued=False)
        return []

    def _run(self, job: Job, work: Work, token: CancelToken) -> None:
        with self._lock:
            self._running.add(job.id)
        try:
            best_effort(f"finish job {job.id}", partial(self._run_job, job, work, token))
        finally:
            # Whatever went wrong, the job ends: one left running would be joined forever.
            self._settle(job.id)
            with self._lock:
                self._busy -= 1
                self._running.discard(job.id)
            self._tokens.pop(job.id, None)
            with self._ended:
                self._ended.notify_all()

    def _settle(self, job_id: str) -> None:
        ended = best_effort(f"mark job {job_id} finished", partial(self._end, job_id))
        if ended is not None:
            self._quietly(ended, self._edit, ended)

    def _end(self, job_id: str) -> Job | None:
        current = self._store.get(job_id)
        if current is None or current.state.finished:
            return None
        reason = "failed unexpectedly; the bot's log has why"
        if self._tokens.get(job_id, CancelToken()).cancelled:
            ended = transitions.cancel(current, self._clock.now(), self._cancelled_detail())
        else:
            ended = transitions.fail(current, self._clock.now(), reason)
        self._store.save(ended)
        return ended

    def _run_job(self, job: Job, work: Work, token: CancelToken) -> None:
        current = self._store.get(job.id)
        if current is None or current.state.finished:
            return
        job = current
        if token.cancelled:
            job = transitions.cancel(job, self._clock.now(), "cancelled before it started")
            self._store.save(job)
            self._quietly(job, self._edit, job)
            return
        top = LiveJobMessage(self._notifier, self._top(job), self._clock)
        thread = LiveJobMessage(self._notifier, self._thread(job), self._clock)
        if job.state is JobState.QUEUED:
            job = transitions.start(job, self._clock.now())
            self._store.save(job)
            top.show(job_message(job))
        running = job

        def record(outcome: Outcome) -> None:
            done = transitions.succeed(
                running, self._clock.now(), outcome.detail, digest=outcome.digest,
                size=outcome.size,
            )  # fmt: skip
            self._store.save(done)

        # Line-buffered: the file shows every line (so every step) as it comes, and keeps
        # them when the bot crashes or hangs mid-job.
        with open(job.log_path, "a", encoding="utf-8", errors="replace", buffering=1) as logfile:
            context = JobContext(job, token, thread, logfile, record)
            job = self._outcome(job, work, context)
        self._store.save(job)
        context.job = job
        top.finish(job_message(job))
        shown = FAILED_LINES if job.state is JobState.FAILED else SHOWN_LINES
        final = progress_message(job, context.step, context.tail(shown))
        self._finisher.submit(thread.finish, final)

    def _edit(self, job: Job) -> None:
        if job.message_ts:
            self._notifier.update(self._top(job), job_message(job))

    def _quietly(self, job: Job, call: Callable[..., _T], *args: object) -> _T | None:
        """The Slack call's answer, or None (logged) when Slack refuses it."""
        return best_effort(f"send a message of job {job.id}", partial(call, *args))

    def _outcome(self, job: Job, work: Work, context: JobContext) -> Job:
        now = self._clock.now
        result: Outcome | None
        try:
            result = work(context)
            if context.cancel.cancelled and context.committed is None:
                raise Cancelled()
        except Cancelled:
            result = after_commit(context, "cancelled after it happened")
            if result is None:
                return transitions.cancel(job, now(), self._cancelled_detail())
        except (JobFailed, OpsloopError) as error:
            result = after_commit(context, error.message)
            if result is None:
                return transitions.fail(job, now(), error.message)
        except Exception:
            log.exception("job %s failed unexpectedly", job.id)
            result = after_commit(context, "what followed failed; the bot's log has why")
            if result is None:
                return transitions.fail(job, now(), "failed unexpectedly; the bot's log has why")
        return transitions.succeed(
            job, now(), result.detail, digest=result.digest, size=result.size
        )

    def _cancelled_detail(self) -> str:
        return STOPPED_DETAIL if self._stopping else "cancelled"

    def _top(self, job: Job) -> MessageRef:
        return MessageRef(job.channel_id, job.message_ts)

    def _thread(self, job: Job) -> MessageRef:
        return MessageRef(job.channel_id, job.thread_ts)
