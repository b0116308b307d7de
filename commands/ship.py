"""Continuous: /ship takes a commit to production through the stages' own runs.

/ship web 1.2.0 [ref] [to prod]    build, test, release, then per environment of the
                                   pipeline: approval, deploy, watch (rolls back on a
                                   failed watch)
/ship list [filters]               running and recent pipelines
/ship cancel <id>                  stop after the running step
"""

from __future__ import annotations

from functools import partial

from bot.core.background import answer_slowly
from bot.core.errors import NotAvailableYet, UsageError
from bot.core.listing import Filters, Listing, ListVerb, Vocabulary
from bot.core.ship.desk import ShipAsk, ShipDesk
from bot.core.ship.model import PipelineState
from bot.core.ship.views import pipelines_listing, title
from bot.core.values import Invocation, Reply
from bot.core.verbs import Arg, ArgKind, Registry, Verb
from commands.build import preparing
from commands.dependencies import Services

STAGE = "Continuous"
LISTED = 1000
"""Pipelines a list reads back, newest first (the pages show them 40 at a time)."""


def register(registry: Registry, services: Services) -> None:
    """Declare /ship, /ship list and /ship cancel."""
    stage = _ShipStage(services)
    registry.add(
        Verb(
            "ship",
            "Build, test, release and deploy through the pipeline, watching each deploy.",
            STAGE,
            stage.ship,
            args=(
                Arg("service", ArgKind.SERVICE),
                Arg("version", ArgKind.VERSION),
                Arg("ref", ArgKind.REF, optional=True),
                Arg("env", ArgKind.ENVIRONMENT, optional=True, after="to"),
            ),
        )
    )
    listing = ListVerb("ship list", stage.vocabulary, stage.listing)
    registry.add_list(
        Verb(
            "ship list",
            "Running and recent pipelines, a page at a time.",
            STAGE,
            partial(_list, listing),
            args=(
                Arg(
                    "filters",
                    optional=True,
                    rest=True,
                    help="an environment, a service or prefix*, a state, mine, page N",
                ),
            ),
        ),
        listing,
    )
    registry.add(
        Verb(
            "ship cancel",
            "Stop a pipeline after its running step.",
            STAGE,
            stage.cancel,
            args=(Arg("id", help="the pipeline's number, as /ship list shows it"),),
        )
    )


class _ShipStage:
    def __init__(self, services: Services) -> None:
        self._services = services

    @property
    def desk(self) -> ShipDesk:
        desk = self._services.ships
        if desk is None:
            raise NotAvailableYet("/ship is not wired in this bot (no engine or deploy desk).")
        return desk

    def ship(self, invocation: Invocation) -> Reply:
        """Check the /ship off the router's workers; the pipeline's message follows."""
        desk = self.desk
        ask = ShipAsk(
            service=invocation.arg("service"), version=invocation.arg("version"),
            ref=invocation.opt("ref") or "HEAD", stop_at=invocation.opt("env"),
            user=invocation.user_id, channel=invocation.channel_id,
        )  # fmt: skip

        def work() -> Reply:
            pipeline = desk.ship(ask)
            return Reply(text=f":rocket: {title(pipeline)} started; its checklist is in this "
                         f"channel. `/ship cancel {pipeline.id}` stops it.")  # fmt: skip

        patience = preparing(f"`{ask.service}` {ask.version}")
        return answer_slowly(self._services.background, invocation, work, patience)

    def cancel(self, invocation: Invocation) -> Reply:
        """Ask a pipeline to stop after its running step."""
        word = invocation.arg("id").removeprefix("#")
        if not word.isdecimal():
            raise UsageError(f"`{word[:20]}` is not a pipeline number; `/ship list` shows them.")
        user = invocation.user_id
        admin = self._services.access.is_admin(user)
        pipeline = self.desk.cancel(int(word), user, admin=admin)
        if pipeline.state is not PipelineState.RUNNING:
            shown = pipeline.state.value.replace("_", " ")
            return Reply(text=f"Pipeline #{pipeline.id} is {shown}; nothing to cancel.")
        return Reply(
            text=f":no_entry_sign: Pipeline #{pipeline.id} stops after its running step; "
            "its message will say when.",
        )

    def vocabulary(self) -> Vocabulary:
        """/ship list filters."""
        config = self._services.config
        return Vocabulary(
            envs=tuple(config.environments), services=tuple(config.services),
            states=tuple(state.value for state in PipelineState), mine=True,
        )  # fmt: skip

    def listing(self, user: str, filters: Filters) -> Listing:
        """Recent pipelines under the filters."""
        return pipelines_listing(self.desk.recent(LISTED), filters, user)


def _list(listing: ListVerb, invocation: Invocation) -> Reply:
    return listing.reply(invocation.user_id, invocation.words("filters"))
