"""The buttons under every list: Previous and Next edit the list in place, Export shares the
whole list as a CSV file in the channel. The lists themselves are declared by their stages
(`registry.add_list`). Rebuilding a list can be slow (the engine, health checks, Jira), so
it runs on the Background threads, like the command that first showed it (`show_list`).
A list with a quick first build (ListVerb.first) answers with it, and its full build
(health checked) edits the same message when it is ready."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from bot.core.background import Background
from bot.core.errors import NotAvailableYet, NotFound
from bot.core.listing import FilterWords, ListAction, ListQuery, ListVerb
from bot.core.values import AuditEntry, Click, Invocation, Outcome, Reply
from bot.core.verbs import Registry
from commands.dependencies import Services

DEADLINE = 30.0


def register(registry: Registry, services: Services) -> None:
    """Declare the list buttons' handlers."""

    def listed(query: ListQuery, user: str) -> ListVerb:
        found = registry.list_verb(query.verb)
        if found is None:
            raise NotFound(f"There is no list `{query.verb[:40]}`.")
        services.access.check(user, query.verb, f"/{query.verb}")
        return found

    def turn(click: Click) -> Reply:
        query = ListQuery.decode(click.value)
        listing = listed(query, click.user_id)
        words = [*query.words, "page", str(query.page)]
        background = services.background

        def work() -> Reply:
            asked = listing.parse(words)
            reply, rest = listing.page(click.user_id, asked, quick=background is not None)
            reply = replace(reply, replace=True)
            if rest is None or background is None:
                return reply
            return _quick_then_full(background, services, click.response_url, reply, rest)

        return in_background(click, query, work, f"page {query.page}")

    def export(click: Click) -> Reply:
        query = ListQuery.decode(click.value)
        listing = listed(query, click.user_id)

        def work() -> Reply:
            name, content, count = listing.export(click.user_id, query.words)
            asked = " ".join((query.verb, *query.words))
            services.notifier.upload(
                click.channel_id, name, content,
                f"<@{click.user_id}> exported `/{asked}`: {count} items.",
            )  # fmt: skip
            services.audit.append(
                AuditEntry(services.clock.now(), click.user_id, click.channel_id,
                           f"{query.verb} export", " ".join(query.words), Outcome.OK.value,
                           f"{count} items shared as {name}")
            )  # fmt: skip
            return Reply(text=f":page_facing_up: `{name}` ({count} items) is in the channel.")

        return in_background(click, query, work, "the export")

    def in_background(
        click: Click, query: ListQuery, work: Callable[[], Reply], what: str
    ) -> Reply:
        background = services.background
        if background is None:
            return work()
        return background.answer(
            _as_invocation(click, query),
            work,
            deadline=DEADLINE,
            waiting=f"Preparing {what} of `/{query.verb}`…",
            late=f"Preparing {what} took more than {DEADLINE:g} seconds; try again later.",
        )

    registry.on_click(ListAction.PREVIOUS.value, turn)
    registry.on_click(ListAction.NEXT.value, turn)
    registry.on_click(ListAction.EXPORT.value, export)


def _as_invocation(click: Click, query: ListQuery) -> Invocation:
    """The click as the Background threads answer it: through the click's response_url."""
    return Invocation(
        verb=query.verb, args={}, options={}, user_id=click.user_id, channel_id=click.channel_id,
        team_id="", response_url=click.response_url, text=" ".join(query.words), command="",
    )  # fmt: skip


def show_list(
    services: Services, invocation: Invocation, listing: ListVerb, asked: FilterWords
) -> Reply:
    """`/<verb> [filters]`, the filters parsed already (`listing.parse`, before any slow
    read): the page on the Background threads (within DEADLINE), the quick build first when
    the list has one, the full build edited in after it."""
    background = services.background
    if background is None:
        raise NotAvailableYet(f"`/{listing.verb}` is not wired in this bot.")
    url = invocation.response_url

    def work() -> Reply:
        reply, rest = listing.page(invocation.user_id, asked, quick=True)
        if rest is None:
            return reply
        return _quick_then_full(background, services, url, reply, rest)

    return background.answer(
        invocation, work, deadline=DEADLINE, waiting=f"Preparing `/{listing.verb}`…",
        late=f"Preparing `/{listing.verb}` took more than {DEADLINE:g} seconds; try again later.",
    )  # fmt: skip


def _quick_then_full(
    background: Background, services: Services, url: str, quick: Reply, rest: Callable[[], Reply]
) -> Reply:
    """Send the quick page now, then build the full one (what is slow: health checks) and
    edit it in; the returned reply is marked said. The quick page is sent here, before the
    full build starts, because both replace the message through the response_url: a full
    build that came back first would otherwise be overwritten by the quick page."""
    services.notifier.respond(url, quick)
    background.run(lambda: services.notifier.respond(url, replace(rest(), replace=True)))
    return replace(quick, said=True)
