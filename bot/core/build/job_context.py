"""What a running job's work is handed (JobContext) and gives back (Outcome), and the
live Slack messages that show its progress without ever raising into it."""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import IO

from bot.core.build.jobs import Job
from bot.core.build.model import CancelToken, Step, parse_step
from bot.core.build.views import progress_message
from bot.core.clock import Clock
from bot.core.ports import Notifier
from bot.core.progress import LiveMessage
from bot.core.replies import best_effort
from bot.core.values import MessageRef, Reply

log = logging.getLogger(__name__)

# A little over Slack's one edit a second, so that network jitter never brings two edits
# of one message closer than a second as Slack receives them.
EDIT_INTERVAL = 1.1
SHOWN_LINES = 10
KEPT_LINES = 5000


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a job that succeeded reports."""

    detail: str = ""
    digest: str = ""
    size: int = 0


class JobContext:
    """Handed to a job's work: where its output goes, whether it was cancelled, and how it
    records the point after which it has happened (commit)."""

    def __init__(
        self,
        job: Job,
        token: CancelToken,
        live: LiveJobMessage,
        logfile: IO[str],
        record: Callable[[Outcome], None] = lambda _outcome: None,
    ) -> None:
        self.job = job
        self.cancel = token
        self.step: Step | None = None
        self.lines: deque[str] = deque(maxlen=KEPT_LINES)
        self.committed: Outcome | None = None
        self._live = live
        self._logfile = logfile
        self._record = record

    def commit(self, outcome: Outcome) -> None:
        """The job has happened (a release was pushed): store it as succeeded now, so that
        neither what follows (notes, announcements) nor a crash can make it fail or vanish."""
        self.committed = outcome
        self._record(outcome)

    def line(self, text: str) -> None:
        """One line of output: into the log file, and into the thread soon."""
        text = text.rstrip("\r\n")
        self._logfile.write(text + "\n")
        self.lines.append(text)
        step = parse_step(text)
        if step is not None:
            self.step = step
        self._live.show(progress_message(self.job, self.step, self.tail(SHOWN_LINES)))

    def tail(self, count: int) -> list[str]:
        """The last `count` lines of output."""
        return list(self.lines)[-count:]

    def output(self) -> str:
        """The output kept in memory (the last 5000 lines)."""
        return "\n".join(self.lines)


Work = Callable[[JobContext], Outcome]


def after_commit(context: JobContext, what: str) -> Outcome | None:
    """How a job that failed or was cancelled (`what`) after its commit point ended: it
    still succeeded. None when it had not reached its commit point."""
    if context.committed is None:
        return None
    log.warning("job %s: after it happened: %s", context.job.id, what)
    done = context.committed
    return dataclasses.replace(done, detail=f"{done.detail} Afterwards: {what}"[:2000])


class LiveJobMessage:
    """A LiveMessage that never raises into the job: a message that was never posted is
    not edited, and an edit Slack refuses is logged and dropped."""

    def __init__(self, notifier: Notifier, ref: MessageRef, clock: Clock) -> None:
        self.ref = ref
        self._live = LiveMessage(notifier, ref, clock, EDIT_INTERVAL) if ref.ts else None

    def show(self, reply: Reply) -> None:
        """Show this content soon."""
        if self._live is not None:
            best_effort(f"edit {self.ref}", partial(self._live.show, reply))

    def finish(self, reply: Reply) -> None:
        """Write the final content."""
        if self._live is not None:
            best_effort(f"edit {self.ref}", partial(self._live.finish, reply))
