"""Monitor: scheduled checks and the alerts they raise."""

from __future__ import annotations

from bot.core.verbs import Registry, planned
from commands.dependencies import Services

STAGE = "Monitor"


def register(registry: Registry, services: Services) -> None:
    """Declare /monitor and /alerts."""
    del services
    registry.add(planned("monitor", "The scheduled checks and their last results.", STAGE))
    registry.add(planned("alerts", "Open alerts, newest first.", STAGE))
