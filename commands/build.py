"""Build: images built from a service's repository on the Docker engine."""

from __future__ import annotations

from bot.core.verbs import Arg, ArgKind, Registry, planned
from commands.services import Services

STAGE = "Build"


def register(registry: Registry, services: Services) -> None:
    """Declare /build, /build list and /build cancel."""
    del services
    registry.add(
        planned(
            "build",
            "Build a service's image from a git ref (default: HEAD).",
            STAGE,
            args=(Arg("service", ArgKind.SERVICE), Arg("ref", ArgKind.REF, optional=True)),
        )
    )
    registry.add(planned("build list", "Recent and running builds, tests and releases.", STAGE))
    registry.add(
        planned("build cancel", "Stop a running job.", STAGE, args=(Arg("id", ArgKind.JOB_ID),))
    )
