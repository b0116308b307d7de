"""Operate: what runs where, scaling and logs."""

from __future__ import annotations

from bot.core.verbs import Arg, ArgKind, Registry, planned
from commands.dependencies import Services

STAGE = "Operate"


def register(registry: Registry, services: Services) -> None:
    """Declare /status, /scale and /logs."""
    del services
    registry.add(
        planned(
            "status",
            "What runs where, and whether it is healthy.",
            STAGE,
            args=(
                Arg("service", ArgKind.SERVICE, optional=True),
                Arg("env", ArgKind.ENVIRONMENT, optional=True),
            ),
        )
    )
    registry.add(
        planned(
            "scale",
            "Set the number of replicas.",
            STAGE,
            args=(
                Arg("service", ArgKind.SERVICE),
                Arg("env", ArgKind.ENVIRONMENT),
                Arg("replicas", ArgKind.COUNT),
            ),
        )
    )
    registry.add(
        planned(
            "logs",
            "The last lines of a service's log.",
            STAGE,
            args=(
                Arg("service", ArgKind.SERVICE),
                Arg("env", ArgKind.ENVIRONMENT),
                Arg("lines", ArgKind.COUNT, optional=True),
            ),
        )
    )
