"""Release: tag a tested image with a version, push it, and post release notes."""

from __future__ import annotations

from bot.core.verbs import Arg, ArgKind, Registry, planned
from commands.services import Services

STAGE = "Release"


def register(registry: Registry, services: Services) -> None:
    """Declare /release."""
    del services
    registry.add(
        planned(
            "release",
            "Tag, push and announce a version.",
            STAGE,
            args=(
                Arg("service", ArgKind.SERVICE),
                Arg("version", ArgKind.VERSION),
                Arg("ref", ArgKind.REF, optional=True),
            ),
        )
    )
