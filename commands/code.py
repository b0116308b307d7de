"""Code: the service catalogue and what is merged but not yet deployed."""

from __future__ import annotations

from bot.core.verbs import Arg, ArgKind, Registry, planned
from commands.services import Services

STAGE = "Code"


def register(registry: Registry, services: Services) -> None:
    """Declare /services and /changes."""
    del services
    registry.add(planned("services", "Every service, its repository and what runs where.", STAGE))
    registry.add(
        planned(
            "changes",
            "What is merged but not yet deployed to an environment.",
            STAGE,
            args=(Arg("service", ArgKind.SERVICE), Arg("env", ArgKind.ENVIRONMENT, optional=True)),
        )
    )
