"""Web API handlers: chat.* and reactions.* (the bot acting as itself)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.workspace.content import Params, flag, message_content, optional, required
from bot.workspace.model import BOT_USER_ID, JsonDict, Message, SlackError
from bot.workspace.render import render_file, render_message
from bot.workspace.sinks import FileStore
from bot.workspace.state import WorkspaceState


@dataclass
class Ctx:
    """What a method handler may touch: the state, the file store, the server's URL and
    ``open_socket`` (a fresh Socket Mode URL; None when the workspace has no app token)."""

    state: WorkspaceState
    files: FileStore
    base_url: str
    open_socket: Callable[[], str] | None = None

    def render(self, msg: Message) -> JsonDict:
        """The message as Slack shows it, with its files expanded."""
        found = [self.files.get(fid) for fid in msg.files]
        files = [render_file(f, self.base_url) for f in found if f is not None]
        return render_message(msg, files)

    def channel_id(self, params: Params, name: str = "channel") -> str:
        """The channel parameter as an id; Slack also accepts "#name" or "name", and a
        user's ID for the app's direct messages with that person."""
        value = required(params, name)
        with self.state.lock:
            if value in self.state.channels:
                return value
            if value in self.state.users:
                return self.state.direct_channel(value).id
            for chan in self.state.channels.values():
                if chan.name == value.removeprefix("#"):
                    return chan.id
        raise SlackError("channel_not_found")


Handler = Callable[[Ctx, Params], JsonDict]


def _thread_ts(ctx: Ctx, channel: str, params: Params) -> str | None:
    thread_ts = optional(params, "thread_ts")
    if thread_ts is not None and ctx.state.message(channel, thread_ts) is None:
        raise SlackError("thread_not_found")
    return thread_ts


def chat_post_message(ctx: Ctx, params: Params) -> JsonDict:
    """chat.postMessage: post as the bot (a thread reply when thread_ts is given)."""
    channel = ctx.channel_id(params)
    content = message_content(params)
    msg = ctx.state.post(
        channel,
        BOT_USER_ID,
        content.text or "",
        bot=True,
        blocks=content.blocks,
        attachments=content.attachments,
        thread_ts=_thread_ts(ctx, channel, params),
        reply_broadcast=flag(params, "reply_broadcast"),
    )
    return {"ok": True, "channel": channel, "ts": msg.ts, "message": ctx.render(msg)}


def chat_update(ctx: Ctx, params: Params) -> JsonDict:
    """chat.update: edit one of the bot's messages in place (blocks/attachments that
    are not sent are kept, as in Slack; an empty array removes them)."""
    channel = ctx.channel_id(params)
    ts = required(params, "ts")
    content = message_content(params)
    msg = ctx.state.update(
        channel, ts, text=content.text, blocks=content.blocks, attachments=content.attachments
    )
    message: JsonDict = {"type": "message", "text": msg.text, "user": msg.user, "ts": msg.ts}
    if msg.bot_id:
        message["bot_id"] = msg.bot_id
    if msg.attachments:
        message["attachments"] = msg.attachments
    # The 200 schema types message.blocks as an object, so the array is left out here;
    # conversations.history shows the updated blocks.
    return {"ok": True, "channel": channel, "ts": msg.ts, "text": msg.text, "message": message}


def chat_post_ephemeral(ctx: Ctx, params: Params) -> JsonDict:
    """chat.postEphemeral: a message only ``user`` sees; never in history."""
    channel = ctx.channel_id(params)
    user = required(params, "user")
    content = message_content(params)
    eph = ctx.state.post_ephemeral(
        channel,
        user,
        content.text or "",
        blocks=content.blocks,
        thread_ts=optional(params, "thread_ts"),
    )
    return {"ok": True, "message_ts": eph.ts}


def chat_delete(ctx: Ctx, params: Params) -> JsonDict:
    """chat.delete: remove one of the bot's messages (cant_delete_message otherwise)."""
    channel = ctx.channel_id(params)
    ts = required(params, "ts")
    ctx.state.delete(channel, ts)
    return {"ok": True, "channel": channel, "ts": ts}


def _reaction_target(ctx: Ctx, params: Params) -> tuple[str, str, str]:
    if optional(params, "channel") is None or optional(params, "timestamp") is None:
        raise SlackError("no_item_specified")
    name = required(params, "name").strip(":")
    if not name or " " in name:
        raise SlackError("invalid_name")
    return ctx.channel_id(params), required(params, "timestamp"), name


def reactions_add(ctx: Ctx, params: Params) -> JsonDict:
    """reactions.add: the bot reacts (already_reacted on a repeat)."""
    channel, ts, name = _reaction_target(ctx, params)
    ctx.state.react(channel, ts, name, BOT_USER_ID)
    return {"ok": True}


def reactions_remove(ctx: Ctx, params: Params) -> JsonDict:
    """reactions.remove: the bot takes its reaction back (no_reaction if none)."""
    channel, ts, name = _reaction_target(ctx, params)
    ctx.state.unreact(channel, ts, name, BOT_USER_ID)
    return {"ok": True}


def reactions_get(ctx: Ctx, params: Params) -> JsonDict:
    """reactions.get: the message with its ``reactions`` (name, users, count)."""
    if optional(params, "channel") is None or optional(params, "timestamp") is None:
        raise SlackError("no_item_specified")
    channel = ctx.channel_id(params)
    msg = ctx.state.message(channel, required(params, "timestamp"))
    if msg is None:
        raise SlackError("message_not_found")
    return {"ok": True, "type": "message", "channel": channel, "message": ctx.render(msg)}


CHAT_METHODS: dict[str, Handler] = {
    "chat.postMessage": chat_post_message,
    "chat.update": chat_update,
    "chat.postEphemeral": chat_post_ephemeral,
    "chat.delete": chat_delete,
    "reactions.add": reactions_add,
    "reactions.remove": reactions_remove,
    "reactions.get": reactions_get,
}
