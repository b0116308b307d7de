"""Release: tag a tested image with a version, push it, and post release notes.

Decisions a user of /release meets:
- Only tested images are released: the revision (default HEAD) needs a succeeded /test job,
  and the image that test ran must still be on the engine. /release never builds or tests
  on its own; it says which /build and /test to run. When a build or test of the revision
  is queued or running, /release says so, waits for it (bot.core.build.gate), then goes on
  or says why not.
- A version already in the registry (with or without a leading `v`) is refused, both when
  asked and again just before the push; versions are stored without the `v`.
- The previous release is the newest semver tag in the registry older than the new version;
  the commits since it start at the org.opencontainers.image.revision label of that image
  (read from the registry's config blob). Without such a tag the notes say "first release".
- A push the registry refuses (an errorDetail line inside the engine's 200 answer) fails
  the job and removes the local version tag again.
"""

from __future__ import annotations

import dataclasses

from bot.core.background import answer_slowly
from bot.core.build.gate import ReleaseRequest, image_to_release
from bot.core.build.jobs import JobKind
from bot.core.build.stages import releasing
from bot.core.errors import Conflict
from bot.core.values import Invocation, Reply
from bot.core.verbs import Arg, ArgKind, Registry, Verb
from commands.build import checkout, preparing, service_config, start_job, wired
from commands.dependencies import Services

STAGE = "Release"


def register(registry: Registry, services: Services) -> None:
    """Declare /release."""

    def release(invocation: Invocation) -> Reply:
        stages = wired(services)
        name = invocation.arg("service")
        service = service_config(services, name)
        version = invocation.arg("version").removeprefix("v")
        ref = invocation.opt("ref") or "HEAD"

        def work() -> Reply:
            tags = stages.deps.registry.tags(service.image)
            if version in tags or f"v{version}" in tags:
                raise Conflict(
                    f"`{name}` {version} is already in the registry; releases are never "
                    "overwritten. Pick a new version."
                )
            repo = checkout(services, service)
            revision = repo.resolve(ref)
            # A release is always an image that passed /test: the newest succeeded test job
            # of this revision, whose image is still on the engine (waiting for a build or
            # test of it that is under way).
            stages.deps.engine.check()
            request = ReleaseRequest(name, revision, ref, version, service.test_timeout)

            def say(text: str) -> None:
                services.notifier.respond(invocation.response_url, Reply(text=text))

            info = image_to_release(request, stages.store, stages.runner, stages.deps.engine, say)
            image = f"{service.image}:{version}"
            job = stages.new_job(JobKind.RELEASE, invocation, ref, revision, image)
            job = dataclasses.replace(job, version=version)
            steps = releasing(stages.deps, repo, service.image, info.id, services.issues)
            return start_job(services, invocation, job, steps)

        patience = preparing(f"`{name}` {version}", patient=True)
        return answer_slowly(services.background, invocation, work, patience)

    registry.add(
        Verb(
            "release",
            "Tag, push and announce a version.",
            STAGE,
            release,
            args=(
                Arg("service", ArgKind.SERVICE),
                Arg("version", ArgKind.VERSION),
                Arg("ref", ArgKind.REF, optional=True),
            ),
        )
    )
