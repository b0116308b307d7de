"""Test: a service's tests, run inside its built image."""

from __future__ import annotations

from bot.core.verbs import Arg, ArgKind, Registry, planned
from commands.services import Services

STAGE = "Test"


def register(registry: Registry, services: Services) -> None:
    """Declare /test."""
    del services
    registry.add(
        planned(
            "test",
            "Run a service's tests in a fresh container of its image.",
            STAGE,
            args=(
                Arg("service", ArgKind.SERVICE),
                Arg("ref", ArgKind.REF, optional=True, help="a git ref or an image tag"),
            ),
        )
    )
