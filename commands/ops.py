"""`/ops`: help for every verb, the audit log, and the processes sharing the store."""

from __future__ import annotations

from bot.core import help as help_view
from bot.core.errors import NotFound
from bot.core.listing import Filters, Listing, ListVerb, Vocabulary
from bot.core.process_status import processes_reply
from bot.core.values import AuditEntry, Invocation, Outcome, Reply
from bot.core.verbs import Arg, Registry, Verb
from commands.dependencies import Services

STAGE = "Ops"
AUDIT_READ = 1000
"""Audit entries a list reads back, newest first (the pages show them 40 at a time)."""
FAILURES = frozenset({Outcome.ERROR.value, Outcome.FAILED.value, Outcome.INTEGRATION_ERROR.value})


def register(registry: Registry, services: Services) -> None:
    """Declare `/ops help [verb]`, `/ops audit [N]` and `/ops processes`."""

    def show_help(invocation: Invocation) -> Reply:
        topic = invocation.opt("verb")
        if topic is None:
            user = invocation.user_id
            return help_view.overview(
                registry.verbs(), lambda verb: services.access.may_run(user, verb.name)
            )
        verbs = [v for v in registry.verbs() if v.name.split(" ")[0] == topic.lower()]
        if not verbs:
            raise NotFound(f"There is no verb `{topic[:40]}`.", hint="`/ops help` lists them all.")
        details = [help_view.detail(verb) for verb in verbs]
        return Reply(
            text="\n\n".join(d.text for d in details),
            blocks=tuple(block for d in details for block in d.blocks),
        )

    def audit_entries(user: str, filters: Filters) -> Listing:
        return audit_listing(services.audit.latest(AUDIT_READ), filters, user)

    def vocabulary() -> Vocabulary:
        outcomes = [outcome.value for outcome in Outcome if outcome is not Outcome.PENDING]
        return Vocabulary(states=(*outcomes, Outcome.PENDING.value), mine=True)

    audit = ListVerb("audit", vocabulary, audit_entries)

    def show_audit(invocation: Invocation) -> Reply:
        return audit.reply(invocation.user_id, invocation.words("filters"))

    def show_processes(_invocation: Invocation) -> Reply:
        keeper = services.keeper
        if keeper is None:
            return Reply(text="This bot runs without a lease keeper: no process status to show.")
        return processes_reply(keeper.status(), keeper.process_id, keeper.ttl)

    registry.add(
        Verb(
            name="help",
            summary="List every verb with its usage, or explain one.",
            stage=STAGE,
            handler=show_help,
            args=(Arg("verb", optional=True, help="a verb such as deploy"),),
            direct=False,
            needs_store=False,
        )
    )
    registry.add_list(
        Verb(
            name="audit",
            summary="The latest commands: who ran what, where, and how it ended.",
            stage=STAGE,
            handler=show_audit,
            args=(Arg("filters", optional=True, rest=True, help="an outcome (denied, ...), mine"),),
            direct=False,
        ),
        audit,
    )
    registry.add(
        Verb(
            name="processes",
            summary="The opsloop processes alive on this store, and which holds which lease.",
            stage=STAGE,
            handler=show_processes,
            direct=False,
        )
    )


def audit_listing(entries: list[AuditEntry], filters: Filters, user: str) -> Listing:
    """The audit entries newest first, by outcome and `mine`."""
    kept = [
        entry
        for entry in entries
        if filters.state(entry.outcome) and (not filters.mine or entry.user_id == user)
    ]
    denied = sum(entry.outcome == Outcome.DENIED.value for entry in kept)
    failed = sum(entry.outcome in FAILURES for entry in kept)
    rows = tuple(
        f"`{entry.at:%Y-%m-%d %H:%M:%S}` <@{entry.user_id}> in <#{entry.channel_id}>: "
        f"`{entry.verb}`{_clip(entry.arguments)} → *{entry.outcome}*"
        for entry in kept
    )
    return Listing(
        title="Audit log",
        summary=f"{len(kept)} commands (the latest {AUDIT_READ} read): {denied} denied, "
        f"{failed} failed",
        rows=rows,
        columns=("at", "user", "channel", "verb", "arguments", "outcome", "detail"),
        records=tuple(_record(entry) for entry in kept),
        empty="No command matches." if entries else "The audit log is empty.",
    )


def _record(entry: AuditEntry) -> tuple[str, ...]:
    return (entry.at.isoformat(), entry.user_id, entry.channel_id, entry.verb, entry.arguments,
            entry.outcome, entry.detail)  # fmt: skip


def _clip(arguments: str) -> str:
    shown = arguments if len(arguments) <= 60 else arguments[:57] + "..."
    return " `" + shown.replace("`", "'") + "`" if shown else ""
