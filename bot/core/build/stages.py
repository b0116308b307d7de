"""The work of each stage, run by the JobRunner: check out and build an image, run the
tests in it, tag and push a release and announce it."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.core import naming
from bot.core.build.job_context import JobContext, Outcome, Work
from bot.core.build.jobs import Job, JobKind, JobStore, new_job_id
from bot.core.build.model import Checkout, ImageEngine, JobFailed, ReleaseRegistry, previous_release
from bot.core.build.reports import failing_names, summarise
from bot.core.build.runner import JobRunner, Recognise
from bot.core.build.views import format_size, release_notes
from bot.core.changes import IssueLookup, IssueSummary, jira_keys
from bot.core.clock import Clock
from bot.core.errors import IntegrationError, OpsloopError
from bot.core.outbox import Outbox
from bot.core.redact import public_source
from bot.core.values import Invocation, Reply

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StageDeps:
    """What the stage work needs around it."""

    engine: ImageEngine
    registry: ReleaseRegistry
    outbox: Outbox
    clock: Clock
    work_dir: Path
    ops_channel: str
    team_channel: str | None = None
    """Where release notes also go, for the wider team (slack.team_channel)."""


@dataclass(frozen=True, slots=True)
class BuildStages:
    """Everything /build, /test and /release use: the jobs and the stage work's needs."""

    store: JobStore
    runner: JobRunner
    deps: StageDeps

    def new_job(
        self, kind: JobKind, invocation: Invocation, ref: str, revision: str, image: str
    ) -> Job:
        """A queued job for the invoking user, reporting in the invoking channel."""
        return Job(
            id=new_job_id(kind),
            kind=kind,
            service=invocation.arg("service"),
            ref=ref,
            revision=revision,
            user_id=invocation.user_id,
            channel_id=invocation.channel_id,
            created_at=self.deps.clock.now(),
            log_path="",
            image=image,
        )


def building(deps: StageDeps, repo: Checkout, source: str, dockerfile: str, service: str) -> Work:
    """Export the job's revision into a clean folder, build it with the OCI labels, and
    tag it <image>:<short sha>."""

    def work(context: JobContext) -> Outcome:
        job = context.job
        folder = deps.work_dir / job.id
        shutil.rmtree(folder, ignore_errors=True)
        try:
            context.line(f"Checking out {job.revision} ({job.ref})")
            repo.export(job.revision, folder)
            context.cancel.check()
            labels = {
                naming.OCI_REVISION: job.revision,
                naming.OCI_SOURCE: public_source(source),
                naming.OCI_CREATED: deps.clock.now().isoformat(timespec="seconds"),
                naming.LABEL_BUILD_ID: job.id,
                naming.LABEL_SERVICE: service,
            }
            image_id = deps.engine.build(folder, dockerfile, labels, context.line, context.cancel)
            context.cancel.check()
            deps.engine.tag(image_id, job.image)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        info = deps.engine.inspect(job.image)
        size = info.size if info else 0
        detail = f"Built `{job.image}` ({format_size(size)})."
        return Outcome(detail=detail, digest=image_id, size=size)

    return work


def testing(
    deps: StageDeps, command: tuple[str, ...], timeout: int, report_path: str | None
) -> Work:
    """Run the test command in a fresh container of the job's image and read the result."""

    def work(context: JobContext) -> Outcome:
        job = context.job
        context.line(f"Running {' '.join(command)} in {job.image} (limit {timeout}s)")
        labels = {naming.LABEL_SERVICE: job.service, naming.LABEL_BUILD_ID: job.id}
        run = deps.engine.run_tests(
            job.image, command, timeout=timeout, report_path=report_path, labels=labels,
            on_line=context.line, cancel=context.cancel,
        )  # fmt: skip
        context.cancel.check()
        summary = summarise(context.output(), run.report, command)
        said = f" {summary.line()}." if summary else ""
        if summary and summary.failures:
            context.line(f"Failing tests ({summary.source}):")
            for failure in summary.failures:
                context.line(f"  {failure.line()}")
            said += f" Failing: {failing_names(summary.failures, summary.failed + summary.errors)}."
        if run.timed_out:
            raise JobFailed(f"Tests did not finish within {timeout}s.{said}")
        if run.exit_code != 0:
            raise JobFailed(f"Tests failed (exit code {run.exit_code}).{said}")
        passed = summary.failed + summary.errors == 0 if summary else True
        if not passed:
            raise JobFailed(f"Tests exited 0 but the report has failures.{said}")
        return Outcome(detail=f"Tests passed.{said}")

    return work


def releasing(
    deps: StageDeps, repo: Checkout, image: str, tested: str, issues: IssueLookup | None
) -> Work:
    """Tag the tested image with the version, push it, and announce it with the commits
    since the previous release. A refused push removes the version tag again. Once pushed
    the release has happened (the job's commit point, stored at once): the announcement
    goes through the outbox (the job does not wait on Slack for it), and notes that cannot
    be written are said in the job's thread while the job still succeeds."""

    def work(context: JobContext) -> Outcome:
        job = context.job
        tags = deps.registry.tags(image)
        if job.version in tags or f"v{job.version}" in tags:
            raise JobFailed(f"{image}:{job.version} was released meanwhile; pick a new version.")
        previous = previous_release(tags, job.version)
        deps.engine.tag(tested, job.image)
        try:
            context.line(f"Pushing {job.image}")
            digest = deps.engine.push(job.image, context.line, context.cancel)
        except BaseException:
            deps.engine.untag(job.image)
            raise
        context.line(f"Pushed {job.image} ({digest})")
        # The commit point: the version is in the registry, so the release has happened,
        # whatever becomes of the notes and the announcement (or of the bot) from here.
        context.commit(Outcome(detail=f"Pushed `{job.image}`.", digest=digest))
        try:
            notes = _notes(
                deps, issues, repo=repo, image=image, previous=previous, job=job,
                digest=digest, say=context.line,
            )  # fmt: skip
            deps.outbox.post(deps.ops_channel, notes, key=f"release-{job.id}")
        except Exception as error:
            # The push happened and cannot be taken back: the release stands, unannounced.
            why = error.message if isinstance(error, OpsloopError) else type(error).__name__
            log.warning("release %s pushed but not announced: %s", job.id, why, exc_info=True)
            context.line(f"Pushed, but the announcement could not be prepared: {why}")
            return Outcome(detail=f"Pushed `{job.image}`; not announced.", digest=digest)
        context.line("The announcement is queued for the ops channel")
        if deps.team_channel and deps.team_channel != deps.ops_channel:
            # The wider team gets the same notes; a failure to queue them is said, not raised.
            try:
                deps.outbox.post(deps.team_channel, notes, key=f"release-{job.id}-team")
            except Exception as error:
                why = error.message if isinstance(error, OpsloopError) else type(error).__name__
                log.warning("release %s not queued for the team: %s", job.id, why, exc_info=True)
                context.line(f"The release notes for the team channel could not be queued: {why}")
            else:
                context.line("The release notes are queued for the team channel")
        return Outcome(detail=f"Pushed `{job.image}`.", digest=digest)

    return work


def pushed_release(registry: ReleaseRegistry) -> Recognise:
    """For JobRunner.recover: a release job cut short by a restart happened when the
    registry holds its version with its revision label (its push landed before the bot
    could record it). RegistryUnavailable when the registry cannot tell."""

    def recognise(job: Job) -> Outcome | None:
        if job.kind is not JobKind.RELEASE or not job.version:
            return None
        image = job.image.rpartition(":")[0]
        if job.version not in registry.tags(image):
            return None
        if registry.revision(image, job.version) != job.revision:
            return None
        return Outcome(
            detail=f"Pushed `{job.image}` (found in the registry after a restart; "
            "the release notes were not posted)."
        )

    return recognise


def _notes(
    deps: StageDeps,
    issues: IssueLookup | None,
    *,
    repo: Checkout,
    image: str,
    previous: str | None,
    job: Job,
    digest: str,
    say: Callable[[str], None],
) -> Reply:
    since = deps.registry.revision(image, previous) if previous else None
    try:
        commits = repo.log(since, job.revision)
    except IntegrationError as error:
        say(f"Could not list the commits since {previous}: {error.message}")
        commits = repo.log(None, job.revision, limit=20)
    found: dict[str, IssueSummary] | None = None
    if issues is not None and jira_keys(commits):
        try:
            found = issues.summaries(jira_keys(commits))
        except IntegrationError as error:
            say(f"Jira did not answer, so the notes show plain keys: {error.message}")
    return release_notes(dataclasses.replace(job, digest=digest), previous, commits, found)
