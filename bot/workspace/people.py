"""What a person does in the workspace (runs a slash command, reacts, clicks), in one place.

:class:`People` turns each action into the body Slack sends the app for it (an :class:`Act`);
:class:`Actions` also changes the workspace where Slack would (a reaction is on the message
before the app hears of it) and hands the act to an :class:`AppLink`. Two links deliver
acts: :class:`~bot.workspace.client.SignedClient` over HTTP and
:class:`~bot.workspace.socket_link.SocketModeLink` over Socket Mode; either way the app's
answer comes back as an :class:`AppAck`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.workspace.model import BOT_USER_ID, JsonDict
from bot.workspace.payloads import block_actions, event_callback, reaction_event, slash_form
from bot.workspace.snapshot import interaction_message
from bot.workspace.state import WorkspaceState

# Loopback port 1 refuses connections at once: a safe response_url when no workspace
# is attached (the bot must never reach the real Slack from tests).
UNBOUND_RESPONSE_URL = "http://127.0.0.1:1/response/unbound"

ActKind = Literal["command", "event", "interaction"]
NewResponseUrl = Callable[[str, str, str | None, bool], str]
CheckEvent = Callable[[JsonDict], list[str]]


@dataclass(frozen=True)
class Act:
    """One thing a person did, as Slack sends it: ``kind`` "command" (``body`` is the slash
    command's form fields), "event" (an event_callback envelope, with the redelivery
    ``retry`` number and reason when Slack retries) or "interaction" (a block_actions
    payload)."""

    kind: ActKind
    body: JsonDict
    retry: int | None = None
    retry_reason: str | None = None


@dataclass(frozen=True)
class AppAck:
    """The app's acknowledgement. Over HTTP: its status and body. Over Socket Mode: 200,
    the envelope's id and the ack's payload (``text`` is that payload as JSON, or "")."""

    status_code: int
    text: str
    envelope_id: str | None = None
    payload: JsonDict | None = None


class AppUnreachable(Exception):
    """The app could not be reached to deliver an act (connection refused, timed out)."""


class AppLink(Protocol):
    """How acts reach the app: HTTP (SignedClient) or Socket Mode (SocketModeLink)."""

    @property
    def verification_token(self) -> str:
        """The legacy token Slack puts in every body it sends this app."""
        ...

    def deliver(self, act: Act) -> AppAck:
        """Send ``act`` and return the app's acknowledgement (AppUnreachable, or
        TimeoutError over Socket Mode, when none comes)."""
        ...


class HasPeople(Protocol):
    """A workspace whose people can act (SlackWorkspace)."""

    @property
    def people(self) -> People:
        """The workspace's people."""
        ...


class People:
    """Builds what Slack sends for a person's action. Names, response_urls, clicked
    messages and reacted-to authors come from the workspace's ``state`` when given;
    without one (a client aimed at a bot with no workspace) names are derived from ids
    and response_urls point nowhere."""

    def __init__(
        self,
        state: WorkspaceState | None = None,
        new_response_url: NewResponseUrl | None = None,
        check_event: CheckEvent | None = None,
    ) -> None:
        self.state = state
        self._new_response_url = new_response_url
        self._check_event = check_event

    def command(
        self,
        user_id: str,
        channel_id: str,
        command: str,
        text: str,
        *,
        token: str,
        response_url: str | None = None,
        trigger_id: str | None = None,
    ) -> Act:
        """A slash command; its response_url is a fresh one unless given."""
        form = slash_form(
            command=command,
            text=text,
            user_id=user_id,
            user_name=self.user_name(user_id),
            channel_id=channel_id,
            channel_name=self.channel_name(channel_id),
            response_url=response_url or self._response_url(channel_id, user_id, None, False),
            token=token,
            trigger_id=trigger_id,
        )
        return Act("command", dict(form))

    def reaction(
        self,
        user_id: str,
        channel_id: str,
        ts: str,
        name: str,
        *,
        token: str,
        added: bool = True,
        item_user: str | None = None,
        event_id: str | None = None,
        retry: int | None = None,
        retry_reason: str | None = None,
    ) -> Act:
        """reaction_added (or, with ``added=False``, reaction_removed) on the message at
        ``ts``; ``item_user`` defaults to the message's author, else the bot."""
        if item_user is None:
            found = self.state.message(channel_id, ts) if self.state is not None else None
            item_user = found.user if found is not None and found.user else BOT_USER_ID
        event = reaction_event(
            "reaction_added" if added else "reaction_removed",
            user_id=user_id,
            reaction=name,
            channel_id=channel_id,
            ts=ts,
            item_user=item_user,
        )
        return self.event(
            event, token=token, event_id=event_id, retry=retry, retry_reason=retry_reason
        )

    def event(
        self,
        event: JsonDict,
        *,
        token: str,
        event_id: str | None = None,
        retry: int | None = None,
        retry_reason: str | None = None,
    ) -> Act:
        """Any event in an event_callback envelope, checked against the workspace's specs."""
        envelope = event_callback(event, token=token, event_id=event_id)
        if self._check_event is not None:
            self._check_event(envelope)
        return Act("event", envelope, retry, retry_reason)

    def click(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
        *,
        token: str,
        block_id: str | None = None,
        response_url: str | None = None,
    ) -> Act:
        """A block_actions click. The clicked message (channel or ephemeral) supplies the
        element, its block_id and ``message``; the response_url acts on that message."""
        found = (
            interaction_message(self.state, channel_id, message_ts)
            if self.state is not None
            else None
        )
        message, ephemeral = found if found is not None else (None, False)
        payload = block_actions(
            user_id=user_id,
            user_name=self.user_name(user_id),
            channel_id=channel_id,
            channel_name=self.channel_name(channel_id),
            message=message,
            message_ts=message_ts,
            is_ephemeral=ephemeral,
            action_id=action_id,
            value=value,
            block_id=block_id,
            response_url=response_url
            or self._response_url(channel_id, user_id, message_ts, ephemeral),
            token=token,
        )
        return Act("interaction", payload)

    def user_name(self, user_id: str) -> str:
        """The person's handle ("alice"), derived from the id when unknown."""
        user = None
        if self.state is not None:
            with self.state.lock:
                user = self.state.users.get(user_id)
        return user.name if user is not None else user_id.removeprefix("U0").lower()

    def channel_name(self, channel_id: str) -> str:
        """The channel's name ("dev"), derived from the id when unknown."""
        chan = None
        if self.state is not None:
            with self.state.lock:
                chan = self.state.channels.get(channel_id)
        return chan.name if chan is not None else channel_id.removeprefix("C0").lower()

    def _response_url(
        self, channel_id: str, user_id: str, message_ts: str | None, ephemeral: bool
    ) -> str:
        if self._new_response_url is None:
            return UNBOUND_RESPONSE_URL
        return self._new_response_url(channel_id, user_id, message_ts, ephemeral)


class Actions:
    """People acting in the workspace, delivered to the app through ``link``."""

    def __init__(self, people: People, link: AppLink) -> None:
        self.people = people
        self.link = link

    def command(self, user_id: str, channel_id: str, command: str, text: str = "") -> AppAck:
        """A person runs a slash command; the app gets it with a fresh response_url."""
        token = self.link.verification_token
        return self.link.deliver(
            self.people.command(user_id, channel_id, command, text, token=token)
        )

    def react(
        self,
        user_id: str,
        channel_id: str,
        ts: str,
        name: str,
        *,
        added: bool = True,
        event_id: str | None = None,
    ) -> AppAck:
        """A person adds (``added=False``: removes) a reaction, then the app hears of it.
        SlackError (already_reacted, no_reaction, message_not_found ...) where Slack
        would refuse, and then nothing changes and nothing is sent."""
        author = change_reaction(self.people, user_id, channel_id, ts, name, added=added)
        token = self.link.verification_token
        act = self.people.reaction(
            user_id,
            channel_id,
            ts,
            name,
            token=token,
            added=added,
            item_user=author,
            event_id=event_id,
        )
        return self.link.deliver(act)

    def event(
        self,
        event: JsonDict,
        *,
        event_id: str | None = None,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
    ) -> AppAck:
        """Any event, as Slack would deliver (or redeliver, with ``retry_attempt``) it."""
        token = self.link.verification_token
        act = self.people.event(
            event, token=token, event_id=event_id, retry=retry_attempt, retry_reason=retry_reason
        )
        return self.link.deliver(act)

    def click(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
    ) -> AppAck:
        """A person clicks an element of a message; the app gets block_actions."""
        token = self.link.verification_token
        return self.link.deliver(
            self.people.click(user_id, channel_id, message_ts, action_id, value, token=token)
        )


def change_reaction(
    people: People, user_id: str, channel_id: str, ts: str, name: str, *, added: bool
) -> str:
    """Put ``user_id``'s reaction on the message (or take it off) as Slack would, and
    return the message's author. SlackError where Slack refuses."""
    state = people.state
    if state is None:
        raise RuntimeError("reactions need a workspace")
    state.user(user_id)
    change = state.react if added else state.unreact
    return change(channel_id, ts, name.strip(":"), user_id).user or BOT_USER_ID
