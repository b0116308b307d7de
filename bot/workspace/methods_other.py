"""Web API handlers: auth, conversations, users, usergroups and file uploads."""

from __future__ import annotations

import base64
import json
from decimal import Decimal, InvalidOperation

from bot.workspace.content import Params, flag, number, optional, required
from bot.workspace.methods_chat import Ctx, Handler
from bot.workspace.model import (
    BOT_ID,
    BOT_NAME,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    JsonDict,
    Message,
    SlackError,
)
from bot.workspace.render import render_channel, render_file, render_user


def auth_test(ctx: Ctx, params: Params) -> JsonDict:
    """auth.test: who the bot token belongs to (Bolt reads bot_id / user_id here)."""
    return {
        "ok": True,
        "url": f"https://{TEAM_DOMAIN}.slack.com/",
        "team": TEAM_NAME,
        "user": BOT_NAME,
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def conversations_info(ctx: Ctx, params: Params) -> JsonDict:
    """conversations.info: the channel object."""
    chan = ctx.state.channel(ctx.channel_id(params))
    rendered = render_channel(
        chan,
        is_member=BOT_USER_ID in chan.members,
        num_members=flag(params, "include_num_members"),
    )
    return {"ok": True, "channel": rendered}


def _ts(value: str | None, error: str) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise SlackError(error) from None


def _window(params: Params, msgs: list[Message]) -> list[Message]:
    latest = _ts(optional(params, "latest"), "invalid_ts_latest")
    oldest = _ts(optional(params, "oldest"), "invalid_ts_oldest")
    inclusive = flag(params, "inclusive")

    def inside(msg: Message) -> bool:
        ts = Decimal(msg.ts)
        if latest is not None and (ts > latest or (ts == latest and not inclusive)):
            return False
        return not (oldest is not None and (ts < oldest or (ts == oldest and not inclusive)))

    return [m for m in msgs if inside(m)]


def _page(
    ctx: Ctx, params: Params, msgs: list[Message], default_limit: int, out: JsonDict
) -> JsonDict:
    """Cut ``msgs`` at the cursor/limit; the cursor names the next message's ts."""
    limit = max(1, min(number(params, "limit", default_limit), 999))
    start = 0
    cursor = optional(params, "cursor")
    if cursor is not None:
        try:
            next_ts = base64.b64decode(cursor).decode().removeprefix("next_ts:")
        except ValueError:
            raise SlackError("invalid_cursor") from None
        start = next((i for i, m in enumerate(msgs) if m.ts == next_ts), len(msgs))
    page = msgs[start : start + limit]
    has_more = start + limit < len(msgs)
    out = {"ok": True, "messages": [ctx.render(m) for m in page], "has_more": has_more, **out}
    if has_more:
        token = base64.b64encode(f"next_ts:{msgs[start + limit].ts}".encode()).decode()
        out["response_metadata"] = {"next_cursor": token}
    return out


def conversations_history(ctx: Ctx, params: Params) -> JsonDict:
    """conversations.history: top-level messages (and broadcast replies), newest first."""
    channel = ctx.channel_id(params)
    msgs = _window(params, ctx.state.timeline(channel))[::-1]
    extra: JsonDict = {"pin_count": 0, "channel_actions_ts": None, "channel_actions_count": 0}
    return _page(ctx, params, msgs, 100, extra)


def conversations_replies(ctx: Ctx, params: Params) -> JsonDict:
    """conversations.replies: the parent then its replies, oldest first."""
    channel = ctx.channel_id(params)
    ts = required(params, "ts")
    if ctx.state.message(channel, ts) is None:
        raise SlackError("thread_not_found")
    thread = ctx.state.thread(channel, ts)
    parent = thread[0]
    out = _page(ctx, params, _window(params, thread), 1000, {})
    first = out["messages"][0] if out["messages"] else None
    # The spec's thread parent always carries thread_ts / reply_count / subscribed.
    if first is not None and first["ts"] == parent.ts:
        first.setdefault("reply_count", 0)
        first.setdefault("subscribed", False)
        first["thread_ts"] = parent.ts
    return out


def users_info(ctx: Ctx, params: Params) -> JsonDict:
    """users.info: the user object, with ``profile.email``."""
    user_id = optional(params, "user")
    if user_id is None:
        raise SlackError("user_not_found")
    return {"ok": True, "user": render_user(ctx.state.user(user_id))}


def usergroups_users_list(ctx: Ctx, params: Params) -> JsonDict:
    """usergroups.users.list: member ids of the group (no_such_subteam if unknown)."""
    group_id = required(params, "usergroup")
    with ctx.state.lock:
        group = ctx.state.usergroups.get(group_id)
        if group is None:
            raise SlackError("no_such_subteam")
        return {"ok": True, "users": list(group.users)}


def files_get_upload_url_external(ctx: Ctx, params: Params) -> JsonDict:
    """files.getUploadURLExternal: a file id and the local URL to POST the bytes to."""
    filename = required(params, "filename")
    length = number(params, "length", -1)
    if length < 0:
        raise SlackError("invalid_arguments", ["[ERROR] missing required field: length"])
    reserved = ctx.files.reserve(filename, length, BOT_USER_ID)
    return {"ok": True, "upload_url": f"{ctx.base_url}upload/{reserved.id}", "file_id": reserved.id}


def files_complete_upload_external(ctx: Ctx, params: Params) -> JsonDict:
    """files.completeUploadExternal: finish uploads and share them (one bot message
    per channel carrying the files, text = initial_comment)."""
    raw = required(params, "files")
    try:
        entries = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError:
        raise SlackError("invalid_arguments", ["[ERROR] files is not valid JSON"]) from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "id" in e for e in entries):
        raise SlackError("invalid_arguments", ["[ERROR] files must be [{id, title}]"])
    channels = [c for c in (optional(params, "channels") or "").split(",") if c]
    if optional(params, "channel_id"):
        channels.insert(0, ctx.channel_id(params, "channel_id"))
    for chan in channels:
        ctx.state.channel(chan)
    done = [ctx.files.complete(str(e["id"]), e.get("title"), channels) for e in entries]
    thread_ts = optional(params, "thread_ts")
    for chan in channels:
        ctx.state.post(
            chan,
            BOT_USER_ID,
            optional(params, "initial_comment") or "",
            bot=True,
            thread_ts=thread_ts,
            files=[f.id for f in done],
            source="files.completeUploadExternal",
        )
    return {"ok": True, "files": [render_file(f, ctx.base_url) for f in done]}


def apps_connections_open(ctx: Ctx, params: Params) -> JsonDict:
    """apps.connections.open (app-level token): a single-use Socket Mode WebSocket URL."""
    if ctx.open_socket is None:
        raise SlackError("invalid_auth")
    return {"ok": True, "url": ctx.open_socket()}


# Methods authorised by the app-level (xapp-) token rather than the bot token.
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})

OTHER_METHODS: dict[str, Handler] = {
    "apps.connections.open": apps_connections_open,
    "auth.test": auth_test,
    "conversations.info": conversations_info,
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
    "users.info": users_info,
    "usergroups.users.list": usergroups_users_list,
    "files.getUploadURLExternal": files_get_upload_url_external,
    "files.completeUploadExternal": files_complete_upload_external,
}
