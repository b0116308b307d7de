"""The help views, generated from the verbs' own declarations."""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby

from bot.core.blocks import section as _section
from bot.core.values import Block, Reply
from bot.core.verbs import Verb


def overview(verbs: list[Verb], may_run: Callable[[Verb], bool] = lambda _verb: True) -> Reply:
    """`/ops help`: the verbs the caller may run, with their usage, grouped by stage, marking
    what is not built yet; the verbs that need a role the caller lacks are listed at the end."""
    blocks: list[Block] = [
        _section(
            "*opsloop* runs the DevOps loop from Slack. Every verb also works as "
            "`/ops <verb> ...`. `/ops help <verb>` tells more about one."
        )
    ]
    runnable = {verb.name: may_run(verb) for verb in verbs}
    allowed = [verb for verb in verbs if runnable[verb.name]]
    refused = [verb for verb in verbs if not runnable[verb.name]]
    lines_by_stage = groupby(allowed, key=lambda verb: verb.stage)
    for stage, stage_verbs in lines_by_stage:
        lines = [f"*{stage}*"]
        for verb in stage_verbs:
            pending = "  _(not available yet)_" if not verb.available else ""
            lines.append(f"`{verb.usage()}`  {verb.summary}{pending}")
        blocks.append(_section("\n".join(lines)))
    if refused:
        names = ", ".join(f"`{verb.name}`" for verb in refused)
        blocks.append(_section(f"*Needs a role you do not have* (access in opsloop.yml): {names}"))
    text = "opsloop verbs: " + ", ".join(verb.name for verb in allowed)
    return Reply(text=text, blocks=tuple(blocks))


def detail(verb: Verb) -> Reply:
    """`/ops help <verb>`: the usage, what each argument means, and both ways to type it."""
    lines = [f"`{verb.usage()}`", verb.summary]
    if not verb.available:
        lines.append(f"_The {verb.stage} stage is not available yet._")
    described = [a for a in verb.args if a.help] + [o for o in verb.options if o.help]
    for part in described:
        lines.append(f"• `{part.usage()}`: {part.help}")
    lines.append(f"Also: `/ops {verb.name} ...`")
    text = "\n".join(lines)
    return Reply(text=text, blocks=(_section(text),))
