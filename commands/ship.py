"""Continuous: /ship chains build, test, release and deploy into one pipeline."""

from __future__ import annotations

from bot.core.verbs import Arg, ArgKind, Registry, planned
from commands.dependencies import Services

STAGE = "Continuous"


def register(registry: Registry, services: Services) -> None:
    """Declare /ship."""
    del services
    registry.add(
        planned(
            "ship",
            "Build, test, release and deploy in one go.",
            STAGE,
            args=(
                Arg("service", ArgKind.SERVICE),
                Arg("version", ArgKind.VERSION),
                Arg("env", ArgKind.ENVIRONMENT, after="to"),
            ),
        )
    )
