"""The buttons under every list: Previous and Next edit the list in place, Export shares the
whole list as a CSV file in the channel. The lists themselves are declared by their stages
(`registry.add_list`)."""

from __future__ import annotations

from bot.core.errors import NotFound
from bot.core.listing import ListAction, ListQuery, ListVerb
from bot.core.values import Click, Reply
from bot.core.verbs import Registry
from commands.dependencies import Services


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
        page = listed(query, click.user_id).reply(
            click.user_id, [*query.words, "page", str(query.page)]
        )
        return Reply(text=page.text, blocks=page.blocks, replace=True)

    def export(click: Click) -> Reply:
        query = ListQuery.decode(click.value)
        name, content, count = listed(query, click.user_id).export(click.user_id, query.words)
        asked = " ".join((query.verb, *query.words))
        services.notifier.upload(
            click.channel_id,
            name,
            content,
            f"<@{click.user_id}> exported `/{asked}`: {count} items.",
        )
        return Reply(text=f":page_facing_up: `{name}` ({count} items) is in the channel.")

    registry.on_click(ListAction.PREVIOUS.value, turn)
    registry.on_click(ListAction.NEXT.value, turn)
    registry.on_click(ListAction.EXPORT.value, export)
