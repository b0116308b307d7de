"""What /release needs before it tags anything: an image of the revision that passed /test
and is still on the engine. When the build or test that would give it is queued or running,
/release says so, waits for it, then goes on, or says why not (the test failed, the build
succeeded but nobody tested it, it took too long)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.core.build.jobs import Job, JobKind, JobState, JobStore
from bot.core.build.model import ImageEngine, ImageInfo
from bot.core.build.runner import JobRunner
from bot.core.errors import Conflict

# A response_url answers for 30 minutes; the release's own answer must still fit in them.
MAX_WAIT = 25 * 60.0
# Waiting for a test: its time limit, and this much for the image's build and the engine.
TEST_MARGIN = 120.0


@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    """Which revision of which service is to be released, as the user asked for it."""

    service: str
    revision: str
    ref: str
    version: str
    test_timeout: int


def image_to_release(
    request: ReleaseRequest,
    store: JobStore,
    runner: JobRunner,
    engine: ImageEngine,
    say: Callable[[str], None],
) -> ImageInfo:
    """The image that passed /test for the revision, waiting (and saying so through `say`)
    for a queued or running build or test of it first. Conflict says why there is none."""
    waited: list[Job] = []
    # At most a build, then the test started after it; then decide.
    for _round in range(3):
        info = _passed(request, store, engine)
        if info is not None:
            return info
        pending = runner.active(JobKind.TEST, request.service, request.revision)
        pending = pending or runner.active(JobKind.BUILD, request.service, request.revision)
        if pending is None or any(job.id == pending.id for job in waited):
            break
        say(_waiting(request, pending))
        patience = MAX_WAIT
        if pending.kind is JobKind.TEST:
            patience = min(request.test_timeout + TEST_MARGIN, MAX_WAIT)
        ended = runner.wait(pending.id, patience)
        if ended is None:
            raise Conflict(
                f"`{pending.id}` is still running after {patience / 60:.0f} minutes, "
                f"so `{request.service}` {request.version} was not released. Run the "
                "/release again once it has finished."
            )
        if ended.state is not JobState.SUCCEEDED:
            raise Conflict(
                f"`{ended.id}` {ended.state.value}"
                + (f": {ended.detail}" if ended.detail else ".")
                + f" `{request.service}` {request.version} was not released."
            )
        waited.append(ended)
    raise Conflict(_missing(request, waited))


def _passed(request: ReleaseRequest, store: JobStore, engine: ImageEngine) -> ImageInfo | None:
    tested = store.find(JobKind.TEST, request.service, request.revision, (JobState.SUCCEEDED,))
    return engine.inspect(tested[0].image) if tested else None


def _waiting(request: ReleaseRequest, job: Job) -> str:
    what = "test" if job.kind is JobKind.TEST else "build"
    goes_on = (
        "releases it when the test passes"
        if job.kind is JobKind.TEST
        else "goes on if a passing /test follows it"
    )
    return (
        f":hourglass_flowing_sand: The {what} of `{request.service}` at "
        f"`{request.revision[:12]}` is {job.state.value} (`{job.id}`): /release "
        f"{request.version} waits for it and {goes_on}."
    )


def _missing(request: ReleaseRequest, waited: list[Job]) -> str:
    name, ref, short = request.service, request.ref, request.revision[:12]
    built = [job for job in waited if job.kind is JobKind.BUILD]
    if built:
        return (
            f"`{built[-1].id}` built `{name}` at `{short}`, but it has no passing test yet, "
            f"so {request.version} was not released. Run `/test {name} {ref}`, then /release."
        )
    return (
        f"`{name}` at `{short}` has no passing test on this engine. "
        f"Run `/build {name} {ref}` and `/test {name} {ref}` first."
    )
