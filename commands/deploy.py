"""Deploy: approved deploys, environment locks, and rollback."""

from __future__ import annotations

from bot.core.verbs import Arg, ArgKind, Option, Registry, planned
from commands.services import Services

STAGE = "Deploy"

_SERVICE = Arg("service", ArgKind.SERVICE)
_ENV = Arg("env", ArgKind.ENVIRONMENT)


def register(registry: Registry, services: Services) -> None:
    """Declare /deploy, /rollback, /lock and /unlock."""
    del services
    registry.add(
        planned(
            "deploy",
            "Deploy a version to an environment, with approval where it needs one.",
            STAGE,
            args=(
                _SERVICE,
                Arg("version", ArgKind.VERSION),
                Arg("env", ArgKind.ENVIRONMENT, after="to"),
            ),
            options=(Option("dry-run", help="show the plan and change nothing"),),
        )
    )
    registry.add(
        planned(
            "deploy list",
            "Recent and running deploys.",
            STAGE,
            args=(Arg("env", ArgKind.ENVIRONMENT, optional=True),),
        )
    )
    registry.add(
        planned(
            "rollback",
            "Redeploy the previous (or the given) version.",
            STAGE,
            args=(_SERVICE, _ENV, Arg("version", ArgKind.VERSION, optional=True)),
        )
    )
    registry.add(planned("lock list", "Every environment lock.", "Deploy"))
    registry.add(
        planned(
            "lock",
            "Lock an environment so that only you can deploy to it.",
            STAGE,
            args=(_ENV, Arg("reason", optional=True, rest=True)),
            options=(Option("for", value="duration", kind=ArgKind.DURATION, help="e.g. 2h"),),
        )
    )
    registry.add(planned("unlock", "Release your lock on an environment.", STAGE, args=(_ENV,)))
