"""Test: a service's tests, run inside its built image."""

from __future__ import annotations

import re

from bot.core import naming
from bot.core.background import answer_slowly
from bot.core.build.jobs import JobKind
from bot.core.build.model import release_version
from bot.core.build.stages import testing
from bot.core.errors import Conflict, UsageError
from bot.core.values import Invocation, Reply
from bot.core.verbs import Arg, ArgKind, Registry, Verb
from commands.build import checkout, preparing, service_config, start_job, wired
from commands.dependencies import Services

STAGE = "Test"
_TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def register(registry: Registry, services: Services) -> None:
    """Declare /test."""

    def test(invocation: Invocation) -> Reply:
        stages = wired(services)
        name = invocation.arg("service")
        service = service_config(services, name)
        if not service.test:
            raise UsageError(
                f"`{name}` has no test command: set services.{name}.test in opsloop.yml, "
                'e.g. test: ["pytest", "-q"].'
            )
        given = invocation.opt("ref")

        def work() -> Reply:
            engine = stages.deps.engine
            engine.check()
            image, revision, ref = "", "", given or "HEAD"
            for tag in _tags(given):
                # The word may be one of the service's image tags (a version or a short sha).
                info = engine.inspect(f"{service.image}:{tag}")
                if info is not None and info.labels.get(naming.OCI_REVISION):
                    image, revision = f"{service.image}:{tag}", info.labels[naming.OCI_REVISION]
                    ref = tag
                    break
            if not image:
                revision = checkout(services, service).resolve(given or "HEAD")
                image = f"{service.image}:{revision[:12]}"
                if engine.inspect(image) is None:
                    raise Conflict(
                        f"There is no image of `{name}` at `{revision[:12]}` yet. "
                        f"Run `/build {name} {given or revision[:12]}` first."
                    )
            job = stages.new_job(JobKind.TEST, invocation, ref, revision, image)
            steps = testing(stages.deps, service.test, service.test_timeout, service.test_report)
            return start_job(services, invocation, job, steps)

        patience = preparing(f"the tests of `{name}`")
        return answer_slowly(services.background, invocation, work, patience)

    registry.add(
        Verb(
            "test",
            "Run a service's tests in a fresh container of its image.",
            STAGE,
            test,
            args=(
                Arg("service", ArgKind.SERVICE),
                Arg("ref", ArgKind.REF, optional=True, help="a git ref or an image tag"),
            ),
        )
    )


def _tags(given: str | None) -> list[str]:
    """The image tags the word may name: itself, and a version without its `v` (releases
    are tagged without it, as /release says)."""
    if not given or not _TAG_RE.match(given):
        return []
    bare = given.removeprefix("v")
    return [given, bare] if bare != given and release_version(bare) is not None else [given]
