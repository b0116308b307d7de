"""Operate: what runs where, scaling, restarts and logs.

    /status [service] [env]                       what runs, its tasks, CPU and memory
    /scale web prod 4 [reason]                     through approvals like a deploy
    /scale web prod auto off|on                    pause or resume the autoscaler
    /restart web prod [reason]                     rolling restart, same rules
    /logs web prod [--since 15m] [--tail 200] [--grep TEXT]

Every engine call runs on Background's threads, never on the router's workers: a quick
answer comes back as the reply, a slow one follows through the response_url.
"""

from __future__ import annotations

from dataclasses import replace

from bot.core.background import Background
from bot.core.errors import NotAvailableYet, UsageError
from bot.core.operate.desk import Asker, OperateDesk
from bot.core.operate.logs import DEFAULT_TAIL, MAX_TAIL, LogQuery
from bot.core.operate.model import Placement
from bot.core.operate.views import USAGE_PENDING
from bot.core.parsing import duration_seconds
from bot.core.values import Invocation, Reply
from bot.core.verbs import Arg, ArgKind, Option, Registry, Verb
from commands.dependencies import Services

STAGE = "Operate"
STATUS_DEADLINE = 2.5
CHANGE_DEADLINE = 10.0
LOGS_DEADLINE = 20.0
READING = "Reading the engine…"
ENGINE_SLOW = (
    "The Docker engine did not answer within 3 seconds: it may be down or overloaded. "
    "Try again in a moment."
)

_SERVICE = Arg("service", ArgKind.SERVICE)
_ENV = Arg("env", ArgKind.ENVIRONMENT)


def register(registry: Registry, services: Services) -> None:
    """Declare /status, /scale, /restart and /logs."""
    stage = _OperateStage(services)
    verbs = (
        Verb("status", "What runs where, and whether it is healthy.", STAGE, stage.status,
             args=(Arg("service", ArgKind.SERVICE, optional=True),
                   Arg("env", ArgKind.ENVIRONMENT, optional=True))),
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

    def status(self, invocation: Invocation) -> Reply:
        """What it knows within the deadline; CPU and memory edited in when read."""
        desk, background = self.desk, self.background
        placements = desk.placements(invocation.opt("service"), invocation.opt("env"))
        url = invocation.response_url
        reply = background.answer(
            invocation, lambda: desk.status(placements, with_usage=False),
            deadline=STATUS_DEADLINE, waiting=READING, late=ENGINE_SLOW,
        )  # fmt: skip
        if USAGE_PENDING in str(reply.blocks):

            def with_usage() -> None:
                full = desk.status(placements, with_usage=True)
                self._services.notifier.respond(url, replace(full, replace=True))

            background.run(with_usage)
        return reply

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
