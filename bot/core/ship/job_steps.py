"""Build, test and release steps: each submits the stage's own job (the same work /build,
/test and /release run, with its own message in the pipeline's channel) and waits for it.
After a restart a step waits for the job it started, as the job runner settled it (the job's
id is stored with the step before the job is submitted, so a restart in between submits it
once, then)."""

from __future__ import annotations

from collections.abc import Callable

from bot.core.build.job_context import Work
from bot.core.build.jobs import Job, JobKind, JobState, new_job_id
from bot.core.build.stages import building, releasing, testing
from bot.core.errors import Conflict
from bot.core.ship.model import PipelineState, StepState
from bot.core.ship.run import PipelineRun, StepEnd, message_link


def build_step(run: PipelineRun, index: int) -> StepEnd:
    """Build the pipeline's revision."""
    service, p = run.service, run.p
    image = f"{service.image}:{p.revision[:12]}"

    def work() -> Work:
        repo = run.deps.repository(service.repo)
        return building(run.deps.builds.deps, repo, service.repo, service.dockerfile, p.service)

    return _job_step(run, index, kind=JobKind.BUILD, image=image, version="", work=work)


def test_step(run: PipelineRun, index: int) -> StepEnd:
    """Run the tests in the built image (skipped when the service has no test command)."""
    service, p = run.service, run.p
    if not service.test:
        return StepEnd(StepState.SKIPPED, "no test command (services.<name>.test)")
    image = f"{service.image}:{p.revision[:12]}"

    def work() -> Work:
        deps = run.deps.builds.deps
        return testing(deps, service.test, service.test_timeout, service.test_report)

    ended = _job_step(run, index, kind=JobKind.TEST, image=image, version="", work=work)
    if ended.state is StepState.FAILED:
        return StepEnd(ended.state, f"{ended.detail} Nothing was pushed.", ended.stop)
    return ended


def release_step(run: PipelineRun, index: int) -> StepEnd:
    """Tag the tested image with the version and push it, with the release notes."""
    service, p = run.service, run.p
    tested = f"{service.image}:{p.revision[:12]}"

    def work() -> Work:
        deps = run.deps.builds.deps
        info = deps.engine.inspect(tested)
        if info is None:
            raise Conflict(f"The tested image `{tested}` is gone from the engine.")
        repo = run.deps.repository(service.repo)
        return releasing(deps, repo, service.image, info.id, run.deps.issues)

    image = f"{service.image}:{p.version}"
    return _job_step(run, index, kind=JobKind.RELEASE, image=image, version=p.version, work=work)


def _job_step(
    run: PipelineRun,
    index: int,
    *,
    kind: JobKind,
    image: str,
    version: str,
    work: Callable[[], Work],
) -> StepEnd:
    builds = run.deps.builds
    job_id = run.p.steps[index].link
    if not job_id or builds.store.get(job_id) is None:
        # The job's id is stored before the job is submitted: a restart in between finds
        # no job of that id and submits it then, and one after finds it and waits for it
        # (never a second job).
        if not job_id:
            job_id = new_job_id(kind)
            run.link(index, job_id)
        p = run.p
        job = Job(
            id=job_id, kind=kind, service=p.service, ref=p.ref, revision=p.revision,
            user_id=p.requester, channel_id=p.channel_id, created_at=run.deps.clock.now(),
            log_path="", image=image, version=version,
        )  # fmt: skip
        job, _joined = builds.runner.submit(job, work())
        if job.id != job_id:  # joined the same job, queued or running here
            job_id = job.id
            run.link(index, job_id)
        where = (
            f" ({message_link(job.channel_id, job.message_ts, 'its message')})"
            if job.message_ts else ""
        )  # fmt: skip
        run.say(f"{kind.value.capitalize()} `{job_id}` started{where}.")
    ended = _wait_job(run, job_id)
    if ended.state is JobState.SUCCEEDED:
        return StepEnd(StepState.PASSED, ended.detail)
    said = ended.detail or ended.state.value
    return StepEnd(StepState.FAILED, f"`{job_id}` {ended.state.value}: {said}",
                   PipelineState.FAILED)  # fmt: skip


def _wait_job(run: PipelineRun, job_id: str) -> Job:
    builds = run.deps.builds
    while True:
        run.check_stopping()
        job = builds.runner.wait(job_id, run.deps.poll)
        if job is None:
            continue
        if job.state.finished:
            return job
        # Not this runner's (a restart cut it short): the runner's recovery settles it.
        run.pause(run.deps.poll * 10)
