"""`/ops`: help for every verb, and the audit log."""

from __future__ import annotations

from bot.core import help as help_view
from bot.core.blocks import section
from bot.core.errors import NotFound
from bot.core.values import AuditEntry, Invocation, Reply
from bot.core.verbs import Arg, ArgKind, Registry, Verb
from commands.dependencies import Services

STAGE = "Ops"
DEFAULT_AUDIT_COUNT = 10
AUDIT_LINE_LIMIT = 30


def register(registry: Registry, services: Services) -> None:
    """Declare `/ops help [verb]` and `/ops audit [N]`."""

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

    def show_audit(invocation: Invocation) -> Reply:
        count = int(invocation.opt("count") or DEFAULT_AUDIT_COUNT)
        return audit_view(services.audit.latest(min(count, AUDIT_LINE_LIMIT)), count)

    registry.add(
        Verb(
            name="help",
            summary="List every verb with its usage, or explain one.",
            stage=STAGE,
            handler=show_help,
            args=(Arg("verb", optional=True, help="a verb such as deploy"),),
            direct=False,
        )
    )
    registry.add(
        Verb(
            name="audit",
            summary="Show the latest commands: who ran what, where, and how it ended.",
            stage=STAGE,
            handler=show_audit,
            args=(Arg("count", ArgKind.COUNT, optional=True, help="how many (default 10)"),),
            direct=False,
        )
    )


def audit_view(entries: list[AuditEntry], asked: int) -> Reply:
    """The audit entries as one message, newest first, within Slack's text limit."""
    if not entries:
        return Reply(text="The audit log is empty.")
    lines = [
        f"`{entry.at:%Y-%m-%d %H:%M:%S}` <@{entry.user_id}> in <#{entry.channel_id}>: "
        f"`{entry.verb}`{_clip(entry.arguments)} → *{entry.outcome}*"
        for entry in entries
    ]
    header = f"*Latest {len(entries)} commands*"
    if asked > len(entries) and len(entries) == AUDIT_LINE_LIMIT:
        header += f" (at most {AUDIT_LINE_LIMIT} at a time)"
    text = header + "\n" + "\n".join(lines)
    return Reply(text=header, blocks=(section(text),))


def _clip(arguments: str) -> str:
    shown = arguments if len(arguments) <= 60 else arguments[:57] + "..."
    return " `" + shown.replace("`", "'") + "`" if shown else ""
