"""The router: the only place that acknowledges Slack, and the one place errors become replies.

    ack first ▸ parse ▸ authorise ▸ check arguments ▸ call the stage ▸ reply ▸ audit

Everything after the acknowledgement runs on the worker pool, so no handler can hold up
Slack's three-second deadline.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from bot.core.access import OPEN, Access
from bot.core.clock import Clock
from bot.core.errors import NotAvailableYet, OpsloopError, UsageError
from bot.core.parsing import Catalog, bind, command_words, without_prefix
from bot.core.ports import AuditLog, EventLedger, Notifier
from bot.core.replies import answer, best_effort
from bot.core.values import (
    AuditEntry,
    Click,
    Invocation,
    Outcome,
    Reaction,
    Reply,
    Settle,
    SlashCommand,
)
from bot.core.verbs import Registry, Verb
from bot.metrics import Metrics

log = logging.getLogger(__name__)

STORE_DOWN = Reply(
    text=":warning: opsloop cannot reach its store right now, so nothing was done. "
    "Try again in a minute."
)

REPLAY_DETAIL = "refused: a replay of a command already handled (same trigger_id)"
# The ledger keeps keys of up to 64 characters; Slack's trigger ids are about 40.
_KEY_ROOM = 64

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
    access: Access = OPEN
    command_prefix: str = ""


class Router:
    """Turns Slack requests into handler calls and handler results into Slack replies."""

    def __init__(self, deps: RouterDeps) -> None:
        self._d = deps

    def on_command(self, command: SlashCommand, ack: Ack) -> None:
        """Acknowledge at once, then handle the command on the worker pool."""
        ack()
        self._d.workers.submit(
            best_effort, "handle a command", partial(self.handle_command, command)
        )

    def on_reaction(self, reaction: Reaction, ack: Ack) -> None:
        """Acknowledge, then pass the reaction to the stages once per event id."""
        ack()
        self._d.workers.submit(
            best_effort, "handle a reaction", partial(self.handle_reaction, reaction)
        )

    def on_click(self, click: Click, ack: Ack) -> None:
        """Acknowledge, then pass the click to the stage that owns the button."""
        ack()
        self._d.workers.submit(best_effort, "handle a click", partial(self.handle_click, click))

    def handle_command(self, command: SlashCommand) -> None:
        """Parse, authorise, run and answer one command, and audit it, whatever happens.
        A command whose answer follows later is audited as pending and settled by the
        stage that sends that answer. A replayed command is audited as denied, not run."""
        known = {*self._d.registry.commands(), "/ops"}
        command = without_prefix(command, self._d.command_prefix, known)
        record = _AuditRecord(self, command)
        first = best_effort(
            "check the command's trigger_id", partial(self._first_delivery, command)
        )
        if first is None and not self._answers_without_store(command):
            # The store did not answer: nothing can be decided or recorded, but the user
            # must hear that, not silence.
            self._d.notifier.respond(command.response_url, STORE_DOWN)
            return
        if first is False:
            log.warning("refused a replayed %s (its trigger_id was handled before)", record.verb)
            record.settle(Outcome.DENIED, REPLAY_DETAIL)
            return

        def run() -> Reply:
            verb, rest = self._match(command)
            record.verb, record.arguments = verb.name, " ".join(rest)
            if not verb.available:
                raise NotAvailableYet(
                    f"`{verb.command}` is not available yet: the {verb.stage} stage is still "
                    "being built. `/ops help` lists what works today."
                )
            self._d.access.check(command.user_id, verb.name, _typed(command, verb))
            args, options = bind(verb, rest, self._d.catalog)
            return verb.handler(_invocation(command, verb.name, args, options, record.settle))

        answered = answer(run, f"`{command.command}`")
        if answered.reply.follows:
            record.pending()
        else:
            record.settle(answered.outcome, answered.detail)
        if not answered.reply.said:
            self._d.notifier.respond(command.response_url, answered.reply)

    def _answers_without_store(self, command: SlashCommand) -> bool:
        """Whether the command's verb answers from memory alone (/ops help), so it is
        answered while the store is down (its audit entry is then lost, and said in the log)."""
        try:
            verb, _rest = self._match(command)
        except OpsloopError:
            return False
        return not verb.needs_store

    def _first_delivery(self, command: SlashCommand) -> bool:
        """Whether this command's trigger_id is claimed here for the first time. Slack never
        sends a slash command twice, so a repeat is someone replaying a signed request; the
        claim is in the store, so it holds across restarts and processes."""
        if not command.trigger_id:
            return True  # nothing to tell deliveries apart by
        key = "trigger:" + command.trigger_id
        if len(key) > _KEY_ROOM:
            key = "trigger#" + hashlib.sha256(command.trigger_id.encode()).hexdigest()[:48]
        return self._d.events.claim(key)

    def handle_reaction(self, reaction: Reaction) -> None:
        """Give a reaction to every stage that listens, unless this event was seen before."""
        if not self._d.events.claim(reaction.event_id):
            log.info("event %s already handled; ignoring the repeat", reaction.event_id)
            return
        for handler in self._d.registry.reaction_handlers():
            # One stage's failure must not keep the reaction from the others.
            name = getattr(handler, "__qualname__", "a stage")
            best_effort(f"handle the reaction in {name}", partial(handler, reaction))

    def handle_click(self, click: Click) -> None:
        """Run the handler of the clicked button and answer the clicker if it has something
        to say. Errors become an ephemeral answer, like for commands."""
        handler = self._d.registry.click_handler(click.action_id)
        if handler is None:
            log.warning("no handler for action %s", click.action_id)
            return
        answered = answer(partial(_click_reply, handler, click), "That button")
        if not answered.reply.said and (answered.reply.text or answered.reply.blocks):
            self._d.notifier.respond(click.response_url, answered.reply)

    def _match(self, command: SlashCommand) -> tuple[Verb, list[str]]:
        words = command_words(command) or ["help"]
        matched = self._d.registry.match(words)
        if matched is None:
            raise UsageError(
                f"I don't know the verb `{words[0][:40]}`.",
                hint="`/ops help` lists every verb with its usage.",
            )
        return matched

    def count(self, verb: str, outcome: Outcome) -> None:
        """Count one command's outcome in /metrics."""
        self._d.metrics.commands.labels(verb=verb, outcome=outcome.value).inc()

    def audit(self, entry: AuditEntry) -> int | None:
        """Append an audit entry (never raises); its id, or None when the store refused."""
        return best_effort(
            f"write the audit entry for {entry.verb}", partial(self._d.audit.append, entry)
        )

    def settle_audit(self, entry_id: int, outcome: Outcome, detail: str) -> None:
        """Settle a pending audit entry (never raises)."""
        best_effort(
            f"settle audit entry {entry_id}",
            partial(self._d.audit.settle, entry_id, outcome.value, detail[:1000]),
        )

    @property
    def now(self) -> datetime:
        """The router's clock."""
        return self._d.clock.now()


class _AuditRecord:
    """One command's audit entry. Written once the handler has answered: with the outcome,
    or as pending when the answer follows later; a settle that comes before the pending
    entry is written is folded into it, so every command gets exactly one entry."""

    def __init__(self, router: Router, command: SlashCommand) -> None:
        self._router, self._command = router, command
        self.verb, self.arguments = command.command.lstrip("/"), command.text
        self._lock = threading.Lock()
        self._entry_id: int | None = None
        self._written = False
        self._settled: tuple[Outcome, str] | None = None

    def pending(self) -> None:
        """The answer follows: write the entry as pending, unless it was settled already."""
        with self._lock:
            if self._written:
                return
            self._written = True
            self._entry_id = self._router.audit(self._entry(Outcome.PENDING, ""))

    def settle(self, outcome: Outcome, detail: str) -> None:
        """Record how the command ended (once; later calls are ignored)."""
        with self._lock:
            if self._settled is not None:
                return
            self._settled = (outcome, detail)
            self._router.count(self.verb, outcome)
            if not self._written:
                self._written = True
                self._router.audit(self._entry(outcome, detail))
            elif self._entry_id is not None:
                self._router.settle_audit(self._entry_id, outcome, detail)

    def _entry(self, outcome: Outcome, detail: str) -> AuditEntry:
        return AuditEntry(
            at=self._router.now,
            user_id=self._command.user_id,
            channel_id=self._command.channel_id,
            verb=self.verb,
            arguments=self.arguments[:4000],
            outcome=outcome.value,
            detail=detail[:1000],
        )


def _typed(command: SlashCommand, verb: Verb) -> str:
    """The verb as the user typed it: `/deploy` or `/ops deploy`."""
    return f"/ops {verb.name}" if command.command.lstrip("/") == "ops" else f"/{verb.name}"


def _click_reply(handler: Callable[[Click], Reply | None], click: Click) -> Reply:
    return handler(click) or Reply(text="")


def _invocation(
    command: SlashCommand,
    verb: str,
    args: dict[str, str],
    options: dict[str, str | bool],
    settle: Settle,
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
        settle=settle,
    )
