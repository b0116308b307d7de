"""Build: images built from a service's repository on the Docker engine.

/build, /test and /release fetch git, ask the engine and the registry before a job starts,
and all of that can be slow: it runs on the Background threads, never on the router's. The
user hears at once that it is under way, then that the job started, or exactly why not
(nothing is left behind then). A job's whole log is kept for operators in the bot's state
folder, jobs/<job id>.log; Slack shows the job id, not the path.
"""

from __future__ import annotations

import dataclasses
from typing import cast

from bot.config import ServiceConfig
from bot.core.background import Patience, answer_slowly
from bot.core.build.job_context import Work
from bot.core.build.jobs import Job, JobKind, JobState
from bot.core.build.model import Checkout
from bot.core.build.stages import BuildStages, building
from bot.core.build.views import jobs_listing, started
from bot.core.errors import NotAvailableYet
from bot.core.listing import Filters, Listing, ListVerb, Vocabulary
from bot.core.values import Invocation, Reply
from bot.core.verbs import Arg, ArgKind, Registry, Verb
from commands.dependencies import Services

STAGE = "Build"
LISTED = 1000
"""Jobs a list reads back, newest first (the pages show them 40 at a time)."""
# Past this, the user is told the job is still being prepared (a first clone of a large
# repository can take minutes) and not to ask again; the answer follows when it comes.
DEADLINE = 10.0


def register(registry: Registry, services: Services) -> None:
    """Declare /build, /build list and /build cancel."""

    def build(invocation: Invocation) -> Reply:
        stages = wired(services)
        name = invocation.arg("service")
        service = service_config(services, name)
        ref = invocation.opt("ref") or "HEAD"

        def work() -> Reply:
            repo = checkout(services, service)
            revision = repo.resolve(ref)
            stages.deps.engine.check()
            image = f"{service.image}:{revision[:12]}"
            job = stages.new_job(JobKind.BUILD, invocation, ref, revision, image)
            steps = building(stages.deps, repo, service.repo, service.dockerfile, name)
            return start_job(services, invocation, job, steps)

        return answer_slowly(
            services.background, invocation, work, preparing(f"`{name}` at `{ref}`")
        )

    def jobs(user: str, filters: Filters) -> Listing:
        stages = wired(services)
        return jobs_listing(stages.store.recent(LISTED), services.clock.now(), filters, user)

    def vocabulary() -> Vocabulary:
        states = [state.value for state in JobState] + [kind.value for kind in JobKind]
        return Vocabulary(services=tuple(services.config.services), states=states, mine=True)

    listing = ListVerb("build list", vocabulary, jobs)

    def build_list(invocation: Invocation) -> Reply:
        return listing.reply(invocation.user_id, invocation.words("filters"))

    def build_cancel(invocation: Invocation) -> Reply:
        user = invocation.user_id
        admin = services.access.is_admin(user)
        job = wired(services).runner.cancel(invocation.arg("id"), user, admin=admin)
        if job.state is JobState.RUNNING:
            return Reply(text=f":no_entry_sign: Cancelling `{job.id}`; its message will say when.")
        return Reply(text=f"`{job.id}` is {job.state.value}.")

    registry.add(
        Verb(
            "build",
            "Build a service's image from a git ref (default: HEAD).",
            STAGE,
            build,
            args=(Arg("service", ArgKind.SERVICE), Arg("ref", ArgKind.REF, optional=True)),
        )
    )
    registry.add_list(
        Verb("build list", "Recent and running builds, tests and releases.", STAGE, build_list,
             args=(Arg("filters", optional=True, rest=True,
                       help="a service or prefix*, a state or kind, mine, page N"),)),
        listing,
    )  # fmt: skip
    registry.add(
        Verb(
            "build cancel",
            "Stop a running job.",
            STAGE,
            build_cancel,
            args=(Arg("id", ArgKind.JOB_ID),),
        )
    )


def preparing(what: str, *, patient: bool = False) -> Patience:
    """How a job command's preparation is answered: it starts a job, so a late one is still
    going; `patient` work may wait minutes for other jobs (a /release waiting for its test)."""
    return Patience(
        deadline=DEADLINE,
        waiting=f"Preparing {what}: fetching the repository and asking the engine…",
        late=f"Still preparing {what} after {DEADLINE:g} seconds (git or the engine is slow). "
        "Do not run it again: the answer follows here.",
        writes=True,
        patient=patient,
    )


def start_job(services: Services, invocation: Invocation, job: Job, steps: Work) -> Reply:
    """Queue the job (or join its twin). The requester's private note that it started is
    sent before the job's message is posted, so it sits above that message, whose last
    edit is the result, rather than below the result."""

    def tell(submitted: Job, joined: bool) -> None:
        services.notifier.respond(invocation.response_url, started(submitted, joined))

    submitted, joined = wired(services).runner.submit(job, steps, before_posting=tell)
    return dataclasses.replace(started(submitted, joined), said=True)


def wired(services: Services) -> BuildStages:
    """The build stages, or NotAvailableYet when this bot runs without them."""
    if services.builds is None:
        raise NotAvailableYet("Builds are not set up on this bot (no Docker engine wired).")
    return services.builds


def service_config(services: Services, name: str) -> ServiceConfig:
    """The service's config (the router has already checked that it exists)."""
    service = services.config.service(name)
    assert service is not None, name
    return service


def checkout(services: Services, service: ServiceConfig) -> Checkout:
    """The service's repository, which the git adapter can also export."""
    # Services types repositories as SourceRepository (what /changes needs); the git
    # adapter behind it also exports, which is what builds need.
    return cast(Checkout, services.repository(service.repo))
