"""Bolt, reduced to translation: Slack payloads in, typed values to the router.

Bolt verifies every request's signature and timestamp (401 otherwise), answers
url_verification, and drops the bot's own events. The listeners below only translate and
hand over; the router acknowledges before any stage code runs. process_before_response is
on because our listeners return as soon as they have handed the work over, which saves
Bolt's extra thread hop before the acknowledgement.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.core.values import Click, Reaction, SlashCommand
from bot.router import Router

log = logging.getLogger(__name__)

_ANY = re.compile(".*")


def build_bolt_app(
    router: Router, client: WebClient, signing_secret: str, *, verify_token: bool = True
) -> App:
    """A Bolt app whose every command, reaction and button goes to `router`."""
    app = App(
        client=client,
        signing_secret=signing_secret,
        process_before_response=True,
        token_verification_enabled=verify_token,
        logger=log,
    )

    @app.command(_ANY)
    def on_command(ack: Ack, body: dict[str, Any]) -> None:
        router.on_command(slash_command(body), ack)

    @app.event("reaction_added")
    def on_reaction_added(ack: Ack, body: dict[str, Any]) -> None:
        _on_reaction(router, ack, body, added=True)

    @app.event("reaction_removed")
    def on_reaction_removed(ack: Ack, body: dict[str, Any]) -> None:
        _on_reaction(router, ack, body, added=False)

    @app.action(_ANY)
    def on_click(ack: Ack, body: dict[str, Any]) -> None:
        router.on_click(click(body), ack)

    return app


def _on_reaction(router: Router, ack: Ack, body: dict[str, Any], *, added: bool) -> None:
    converted = reaction(body, added=added)
    if converted is None:
        ack()
        return
    router.on_reaction(converted, ack)


def slash_command(body: dict[str, Any]) -> SlashCommand:
    """A slash command payload as a SlashCommand."""
    return SlashCommand(
        command=str(body.get("command", "")),
        text=str(body.get("text", "")),
        user_id=str(body.get("user_id", "")),
        channel_id=str(body.get("channel_id", "")),
        team_id=str(body.get("team_id", "")),
        response_url=str(body.get("response_url", "")),
        trigger_id=str(body.get("trigger_id", "")),
    )


def reaction(body: dict[str, Any], *, added: bool) -> Reaction | None:
    """A reaction event on a message as a Reaction; None for reactions on files."""
    event = body.get("event", {})
    item = event.get("item", {})
    if item.get("type") != "message":
        return None
    return Reaction(
        event_id=str(body.get("event_id", "")),
        user_id=str(event.get("user", "")),
        name=str(event.get("reaction", "")),
        channel_id=str(item.get("channel", "")),
        message_ts=str(item.get("ts", "")),
        added=added,
        event_ts=str(event.get("event_ts", "")),
    )


def click(body: dict[str, Any]) -> Click:
    """A block_actions payload's first action as a Click."""
    action = (body.get("actions") or [{}])[0]
    container = body.get("container", {})
    message = body.get("message", {})
    return Click(
        action_id=str(action.get("action_id", "")),
        value=str(action.get("value", "")),
        user_id=str(body.get("user", {}).get("id", "")),
        channel_id=str(body.get("channel", {}).get("id", container.get("channel_id", ""))),
        message_ts=str(container.get("message_ts", message.get("ts", ""))),
        response_url=str(body.get("response_url", "")),
    )
