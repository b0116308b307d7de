"""The router: the only place that acknowledges Slack, and the one place errors become replies.

    ack first ▸ parse ▸ check arguments ▸ call the stage ▸ reply ▸ audit

Everything after the acknowledgement runs on the worker pool, so no handler can hold up
Slack's three-second deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from bot.core.clock import Clock
from bot.core.errors import NotAvailableYet, OpsloopError, UsageError
from bot.core.parsing import Catalog, bind, command_words
from bot.core.ports import AuditLog, EventLedger, Notifier
from bot.core.replies import error_reply, unexpected_reply
from bot.core.values import AuditEntry, Click, Invocation, Outcome, Reaction, SlashCommand
from bot.core.verbs import Registry, Verb
from bot.metrics import Metrics

log = logging.getLogger(__name__)

Ack = Callable[[], object]


@dataclass(frozen=True, slots=True)
class RouterDeps:
    """What the router needs around it."""

    registry: Registry
    catalog: Catalog
    audit: AuditLog
    events: EventLedger
    notifier: Notifier
    metrics: Metrics
    clock: Clock
    workers: Executor


class Router:
    """Turns Slack requests into handler calls and handler results into Slack replies."""

    def __init__(self, deps: RouterDeps) -> None:
        self._d = deps

    def on_command(self, command: SlashCommand, ack: Ack) -> None:
        """Acknowledge at once, then handle the command on the worker pool."""
        ack()
        self._d.workers.submit(self._guarded, self.handle_command, command)

    def on_reaction(self, reaction: Reaction, ack: Ack) -> None:
        """Acknowledge, then pass the reaction to the stages once per event id."""
        ack()
        self._d.workers.submit(self._guarded, self.handle_reaction, reaction)

    def on_click(self, click: Click, ack: Ack) -> None:
        """Acknowledge, then pass the click to the stage that owns the button."""
        ack()
        self._d.workers.submit(self._guarded, self.handle_click, click)

    def handle_command(self, command: SlashCommand) -> None:
        """Parse, run and answer one command, and audit it, whatever happens."""
        verb_name = command.command.lstrip("/")
        outcome, detail = Outcome.OK, ""
        try:
            verb, invocation = self._parse(command)
            verb_name = verb.name
            if not verb.available:
                raise NotAvailableYet(
                    f"`{verb.command}` is not available yet: the {verb.stage} stage is still "
                    "being built. `/ops help` lists what works today."
                )
            reply = verb.handler(invocation)
        except OpsloopError as error:
            outcome, detail = Outcome(error.outcome), error.message
            reply = error_reply(error)
        except Exception:
            reply, detail = unexpected_reply(f"`{command.command}`")
            outcome = Outcome.ERROR
        self._d.metrics.commands.labels(verb=verb_name, outcome=outcome.value).inc()
        self._audit(command, verb_name, outcome, detail)
        self._d.notifier.respond(command.response_url, reply)

    def handle_reaction(self, reaction: Reaction) -> None:
        """Give a reaction to every stage that listens, unless this event was seen before."""
        if not self._d.events.claim(reaction.event_id):
            log.info("event %s already handled; ignoring the repeat", reaction.event_id)
            return
        for handler in self._d.registry.reaction_handlers():
            try:
                handler(reaction)
            except Exception:
                # One stage's failure must not keep the reaction from the others.
                log.exception("reaction handler %s failed", getattr(handler, "__name__", handler))

    def handle_click(self, click: Click) -> None:
        """Run the handler of the clicked button and answer the clicker if it has something
        to say. Errors become an ephemeral answer, like for commands."""
        handler = self._d.registry.click_handler(click.action_id)
        if handler is None:
            log.warning("no handler for action %s", click.action_id)
            return
        try:
            reply = handler(click)
        except OpsloopError as error:
            reply = error_reply(error)
        except Exception:
            reply, _detail = unexpected_reply("That button")
        if reply is not None:
            self._d.notifier.respond(click.response_url, reply)

    def _parse(self, command: SlashCommand) -> tuple[Verb, Invocation]:
        words = command_words(command) or ["help"]
        registry = self._d.registry
        matched = registry.match(words)
        if matched is None:
            raise UsageError(
                f"I don't know the verb `{words[0][:40]}`.",
                hint="`/ops help` lists every verb with its usage.",
            )
        verb, rest = matched
        args, options = bind(verb, rest, self._d.catalog)
        return verb, _invocation(command, verb.name, args, options)

    def _audit(self, command: SlashCommand, verb: str, outcome: Outcome, detail: str) -> None:
        try:
            self._d.audit.append(
                AuditEntry(
                    at=self._d.clock.now(),
                    user_id=command.user_id,
                    channel_id=command.channel_id,
                    verb=verb,
                    arguments=command.text[:4000],
                    outcome=outcome.value,
                    detail=detail[:1000],
                )
            )
        except Exception:
            log.exception("could not write the audit entry for %s", verb)

    @staticmethod
    def _guarded(work: Callable[..., None], *args: object) -> None:
        try:
            work(*args)
        except Exception:
            log.exception("background work %s failed", getattr(work, "__name__", work))


def _invocation(
    command: SlashCommand, verb: str, args: dict[str, str], options: dict[str, str | bool]
) -> Invocation:
    return Invocation(
        verb=verb,
        args=args,
        options=options,
        user_id=command.user_id,
        channel_id=command.channel_id,
        team_id=command.team_id,
        response_url=command.response_url,
        text=command.text,
        command=command.command,
    )
