"""Jobs of a process that stopped answering: the lease holder settles only those it is
given (bot.core.ownership), names their process in the thread, and leaves the others."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from bot.core.build.jobs import Job, JobKind, JobState
from bot.core.build.runner import JobRunner
from bot.core.clock import SystemClock
from bot.core.values import MessageRef, Reply
from tests.core.build.test_commit_point import SHA, MemoryJobs


class RecordingSlack:
    """Keeps every post; edits and answers are accepted and dropped."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str | None]] = []

    def post(self, channel_id: str, reply: Reply, thread_ts: str | None = None) -> MessageRef:
        self.posts.append((reply.text, thread_ts))
        return MessageRef(channel_id, "9.9")

    def update(self, ref: MessageRef, reply: Reply) -> None:
        return None

    def respond(self, response_url: str, reply: Reply) -> None:
        return None

    def ephemeral(self, channel_id: str, user_id: str, reply: Reply) -> None:
        return None


def _running(job_id: str, ts: str) -> Job:
    return Job(
        id=job_id, kind=JobKind.BUILD, service="web", ref="main", revision=SHA,
        user_id="U0ALICE", channel_id="C0DEV", created_at=datetime.now(UTC), log_path="",
        state=JobState.RUNNING, message_ts=ts,
    )  # fmt: skip


def test_only_orphaned_jobs_are_settled_and_their_threads_name_the_process_that_stopped(
    tmp_path: Path,
) -> None:
    store, slack = MemoryJobs(), RecordingSlack()
    for job in (_running("build-dead", "1.1"), _running("build-alive", "2.2")):
        store.add(job)
    runner = JobRunner(store, slack, SystemClock(), tmp_path)
    settled = runner.recover(None, {"build-dead": "host-a:41:ab12cd"})
    runner.stop()
    assert [job.id for job in settled] == ["build-dead"]
    assert store.jobs["build-dead"].state is JobState.FAILED
    assert store.jobs["build-alive"].state is JobState.RUNNING  # its process is alive
    notes = [text for text, thread in slack.posts if thread == "1.1"]
    assert any("`host-a:41:ab12cd` that ran this build stopped answering" in note for note in notes)
    assert any("interrupted" in note for note in notes)
    assert not [post for post in slack.posts if post[1] == "2.2"]


def test_without_an_owner_list_every_job_a_restart_cut_short_is_settled(tmp_path: Path) -> None:
    store, slack = MemoryJobs(), RecordingSlack()
    store.add(_running("build-1", "1.1"))
    store.add(dataclasses.replace(_running("build-2", "2.2"), state=JobState.QUEUED))
    runner = JobRunner(store, slack, SystemClock(), tmp_path)
    runner.recover()
    runner.stop()
    assert {job.state for job in store.jobs.values()} == {JobState.FAILED}
    assert not any("stopped answering" in text for text, _thread in slack.posts)
