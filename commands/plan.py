"""Plan: the active sprint from Jira, the backlog, and issues created from Slack."""

from __future__ import annotations

from bot.core.verbs import Arg, ArgKind, Option, Registry, planned
from commands.services import Services

STAGE = "Plan"


def register(registry: Registry, services: Services) -> None:
    """Declare the /plan verbs."""
    del services
    registry.add(
        planned(
            "plan",
            "The active sprint, or one issue by key.",
            STAGE,
            args=(Arg("issue", ArgKind.ISSUE_KEY, optional=True, help="a key such as OPS-42"),),
        )
    )
    registry.add(planned("plan next", "The next sprint.", STAGE))
    registry.add(
        planned(
            "plan backlog",
            "The top of the backlog.",
            STAGE,
            args=(Arg("count", ArgKind.COUNT, optional=True),),
        )
    )
    registry.add(planned("plan mine", "Your own items in the active sprint.", STAGE))
    registry.add(
        planned(
            "plan add",
            "Create an issue in the project.",
            STAGE,
            args=(Arg("summary", rest=True),),
            options=(Option("type", value="type", help="issue type, e.g. Bug"), Option("sprint")),
        )
    )
    registry.add(
        planned(
            "plan move",
            "Move an issue to another status.",
            STAGE,
            args=(Arg("issue", ArgKind.ISSUE_KEY), Arg("status", rest=True)),
        )
    )
