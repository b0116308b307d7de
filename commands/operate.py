"""Operate: what runs where, scaling, restarts and logs.

    /status [filters]                             every deployment, a page at a time
    /status web [prod]                             what runs, its tasks, CPU and memory
    /scale web prod 4 [reason]                     through approvals like a deploy
    /scale web prod auto off|on                    pause or resume the autoscaler
    /restart web prod [reason]                     rolling restart, same rules
    /logs web prod [--since 15m] [--tail 200] [--grep TEXT]

Every engine call runs on Background's threads, never on the router's workers: a quick
answer comes back as the reply, a slow one follows through the response_url.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import partial

from bot.core.background import Background
from bot.core.code.catalogue import Deployment
from bot.core.deploy.model import DeployState
from bot.core.errors import EngineUnavailable, NotAvailableYet, UsageError
from bot.core.listing import (
    Filters,
    Listing,
    ListVerb,
    Vocabulary,
)
from bot.core.operate.desk import Asker, OperateDesk
from bot.core.operate.logs import DEFAULT_TAIL, MAX_TAIL, LogQuery
from bot.core.operate.model import Placement
from bot.core.operate.overview import EstateContext, StatusState, alerts_by_key, status_listing
from bot.core.operate.views import USAGE_PENDING, with_open_alerts
from bot.core.parsing import duration_seconds
from bot.core.values import Invocation, Reply
from bot.core.verbs import Arg, ArgKind, Option, Registry, Verb
from commands.dependencies import Services
from commands.lists import show_list

STAGE = "Operate"
STATUS_DEADLINE = 2.5
ALERTS_READ = 1000
"""Open alerts read for /status (the newest; more than any estate keeps open)."""
CHANGE_DEADLINE = 10.0
LOGS_DEADLINE = 20.0
READING = "Reading the engine…"
ENGINE_SLOW = (
    "The Docker engine did not answer within 3 seconds: it may be down or overloaded. "
    "Try again in a moment."
)

STATUS_FILTERS = (
    "a service [env] for its tasks; or filters: an environment, a prefix*, a state "
    "(unhealthy, alerting, ...), mine, page N"
)
_SERVICE = Arg("service", ArgKind.SERVICE)
_ENV = Arg("env", ArgKind.ENVIRONMENT)


def register(registry: Registry, services: Services) -> None:
    """Declare /status, /scale, /restart and /logs."""
    stage = _OperateStage(services)
    verbs = (
        Verb("scale", "Set the replicas of a Swarm service (`auto off|on`: the autoscaler).",
             STAGE, stage.scale,
             args=(_SERVICE, _ENV, Arg("replicas", help="a number, or auto"),
                   Arg("reason", optional=True, rest=True))),
        Verb("restart", "Restart a service, one task at a time.", STAGE, stage.restart,
             args=(_SERVICE, _ENV, Arg("reason", optional=True, rest=True))),
        Verb("logs", "The latest lines of every task of a service.", STAGE, stage.logs,
             args=(_SERVICE, _ENV),
             options=(Option("since", value="duration", kind=ArgKind.DURATION, help="e.g. 15m"),
                      Option("tail", value="lines", kind=ArgKind.COUNT, help="per task, 200"),
                      Option("grep", value="text", help="lines containing this text"))),
    )  # fmt: skip
    listing = ListVerb("status", stage.vocabulary, stage.listing, service_first=True)
    registry.add_list(
        Verb("status", "What runs where and whether it is healthy: every deployment a page "
             "at a time, or one service's tasks.", STAGE, partial(stage.status, listing),
             args=(Arg("filters", optional=True, rest=True, help=STATUS_FILTERS),)),
        listing,
    )  # fmt: skip
    for verb in verbs:
        registry.add(verb)


class _OperateStage:
    def __init__(self, services: Services) -> None:
        self._services = services

    @property
    def desk(self) -> OperateDesk:
        desk = self._services.operate
        if desk is None:
            raise NotAvailableYet("Operate is not wired in this bot.")
        return desk

    @property
    def background(self) -> Background:
        background = self._services.background
        if background is None:
            raise NotAvailableYet("Operate is not wired in this bot.")
        return background

    def status(self, listing: ListVerb, invocation: Invocation) -> Reply:
        """`/status web [prod]`: one service's tasks. Otherwise the list of every deployment
        under the filters."""
        words = invocation.words("filters")
        one = self._one_service(words)
        if one is not None:
            return self._service_status(invocation, *one)
        asked = listing.parse(words)  # a bad word is answered before the engine is read
        return show_list(self._services, invocation, listing, asked)

    def _one_service(self, words: list[str]) -> tuple[str, str | None] | None:
        """(service, env) when the words are a service, maybe with one of its environments
        (any other word after it is the list's to judge)."""
        config = self._services.config
        if not words or len(words) > 2 or words[0] not in config.services:
            return None
        if len(words) == 1:
            return words[0], None
        return (words[0], words[1]) if words[1] in config.environments else None

    def _service_status(self, invocation: Invocation, service: str, env: str | None) -> Reply:
        """What it knows within the deadline, with open alerts; CPU and memory edited in
        when read."""
        desk, background = self.desk, self.background
        placements = desk.placements(service, env)
        url = invocation.response_url

        def view(with_usage: bool) -> Reply:
            reply = desk.status(placements, with_usage=with_usage)
            if self._services.monitor is None:
                return reply
            alerts = self._services.monitor.open_alerts(ALERTS_READ)
            return with_open_alerts(reply, alerts, {(p.service, p.env) for p in placements})

        reply = background.answer(
            invocation, lambda: view(False),
            deadline=STATUS_DEADLINE, waiting=READING, late=ENGINE_SLOW,
        )  # fmt: skip
        if USAGE_PENDING in str(reply.blocks):

            def with_usage() -> None:
                self._services.notifier.respond(url, replace(view(True), replace=True))

            background.run(with_usage)
        return reply

    def vocabulary(self) -> Vocabulary:
        """/status filters on environments, services, prefixes, states and `mine`."""
        config = self._services.config
        return Vocabulary(
            envs=tuple(config.environments), services=tuple(config.services),
            states=tuple(state.value for state in StatusState), mine=True,
        )  # fmt: skip

    def listing(self, user: str, filters: Filters) -> Listing:
        """Every deployment under the filters, from one engine listing and one read of the
        store's deploys, locks and open alerts."""
        services = self._services
        placements = sorted(self.desk.fleet.placements.values(), key=lambda p: (p.service, p.env))
        running, note = self._running()
        deploys = services.deploys
        context = EstateContext(
            deploying=frozenset(
                (r.service, r.env)
                for r in deploys.store.in_states([DeployState.APPROVED, DeployState.RUNNING])
            ) if deploys else frozenset(),
            locked=frozenset(lock.env for lock in deploys.locks.in_force())
            if deploys else frozenset(),
            last_deploys=deploys.store.latest_succeeded() if deploys else {},
            alerts=alerts_by_key(services.monitor.open_alerts(ALERTS_READ))
            if services.monitor else {},
            note=note,
        )  # fmt: skip
        return status_listing(placements, running, context, filters, user=user,
                              now=services.clock.now())  # fmt: skip

    def _running(self) -> tuple[Mapping[tuple[str, str], Deployment], str | None]:
        inventory = self._services.inventory
        if inventory is None:
            return {}, "No Docker engine is configured."
        try:
            return inventory.deployments(), None
        except EngineUnavailable as error:
            return {}, error.message

    def scale(self, invocation: Invocation) -> Reply:
        """`/scale web prod 4 [reason]`, or `/scale web prod auto off|on`."""
        placement = self._placement(invocation)
        word = invocation.arg("replicas")
        reason = " ".join(invocation.args.get("reason", "").split())[:300]
        if word.lower() == "auto":
            if reason.lower() not in ("on", "off"):
                raise UsageError(
                    "Say `auto on` or `auto off`.",
                    hint=f"Usage: `/scale {placement.service} {placement.env} auto off|on`",
                )
            return self.desk.autoscale(placement, reason.lower() == "on", invocation.user_id)
        replicas = _replicas(word)
        asker = _asker(invocation)
        desk = self.desk
        return self.background.answer(
            invocation, lambda: desk.scale(placement, replicas, reason, asker),
            deadline=CHANGE_DEADLINE, waiting=READING, late=_still_going("scale"), writes=True,
        )  # fmt: skip

    def restart(self, invocation: Invocation) -> Reply:
        """`/restart web prod [reason]`."""
        placement = self._placement(invocation)
        reason = " ".join(invocation.args.get("reason", "").split())[:300]
        asker = _asker(invocation)
        desk = self.desk
        return self.background.answer(
            invocation, lambda: desk.restart(placement, reason, asker),
            deadline=CHANGE_DEADLINE, waiting=READING, late=_still_going("restart"), writes=True,
        )  # fmt: skip

    def logs(self, invocation: Invocation) -> Reply:
        """`/logs web prod [--since 15m] [--tail 200] [--grep TEXT]`."""
        self._placement(invocation)
        since = invocation.opt("since")
        tail = int(invocation.opt("tail") or DEFAULT_TAIL)
        if tail > MAX_TAIL:
            raise UsageError(f"`--tail` takes at most {MAX_TAIL} lines per task.")
        query = LogQuery(
            service=invocation.arg("service"), env=invocation.arg("env"),
            since_seconds=duration_seconds(since) if since else None, tail=tail,
            grep=invocation.opt("grep"),
        )  # fmt: skip
        desk, asker = self.desk, _asker(invocation)
        return self.background.answer(
            invocation, lambda: desk.logs(query, asker),
            deadline=LOGS_DEADLINE, waiting=READING, late=ENGINE_SLOW,
        )  # fmt: skip

    def _placement(self, invocation: Invocation) -> Placement:
        return self.desk.fleet.placement(invocation.arg("service"), invocation.arg("env"))


def _replicas(word: str) -> int:
    if not word.isdecimal():
        shown = word[:20].replace("`", "'")
        raise UsageError(
            f"`{shown}` is not a number of replicas: give a whole number "
            "from 1 up, or `auto off|on`."
        )
    replicas = int(word)
    if replicas < 1:
        raise UsageError("Scale to at least 1 replica (opsloop does not stop services).")
    return replicas


def _asker(invocation: Invocation) -> Asker:
    return Asker(
        invocation.user_id, invocation.channel_id, invocation.response_url, invocation.settle
    )


def _still_going(what: str) -> str:
    return (
        f"The engine is slow to answer; the {what} request may still be filed. Wait for its "
        f"message before asking again."
    )
