"""A JSON-ready picture of the whole workspace (for the web console and debugging)."""

from __future__ import annotations

from bot.workspace.model import (
    APP_ID,
    BOT_ID,
    BOT_NAME,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    Ephemeral,
    JsonDict,
    Message,
)
from bot.workspace.render import render_file, render_message
from bot.workspace.sinks import FileStore
from bot.workspace.state import WorkspaceState


def _message(msg: Message, files: FileStore, base_url: str) -> JsonDict:
    found = [files.get(fid) for fid in msg.files]
    view = render_message(msg, [render_file(f, base_url) for f in found if f is not None])
    view.update({"is_bot": msg.is_bot, "edit_count": msg.edit_count, "source": msg.source})
    return view


def _ephemeral(eph: Ephemeral) -> JsonDict:
    return {
        "ts": eph.ts,
        "text": eph.text,
        "blocks": eph.blocks,
        "thread_ts": eph.thread_ts,
        "source": eph.source,
        "edit_count": eph.edit_count,
    }


def build_snapshot(state: WorkspaceState, files: FileStore, base_url: str) -> JsonDict:
    """Team, bot, users, usergroups, files and channels. Each channel has its top-level
    ``messages`` (oldest first; each with ``replies``, ``reactions``, ``edit_count``)
    and ``ephemerals`` keyed by the user who sees them."""
    with state.lock:
        channels = []
        for chan in state.channels.values():
            all_msgs = state.timeline(chan.id, include_replies=True)
            by_ts = {m.ts: m for m in all_msgs}
            top = []
            for msg in all_msgs:
                if msg.is_reply:
                    continue
                view = _message(msg, files, base_url)
                view["replies"] = [
                    _message(by_ts[r], files, base_url) for r in msg.replies if r in by_ts
                ]
                top.append(view)
            ephemerals: dict[str, list[JsonDict]] = {}
            for eph in state.ephemerals(chan.id):
                ephemerals.setdefault(eph.user, []).append(_ephemeral(eph))
            channels.append(
                {
                    "id": chan.id,
                    "name": chan.name,
                    "is_private": chan.is_private,
                    "im_user": chan.im_user,
                    "members": list(chan.members),
                    "messages": top,
                    "ephemerals": ephemerals,
                }
            )
        return {
            "team": {"id": TEAM_ID, "name": TEAM_NAME, "domain": TEAM_DOMAIN},
            "bot": {"user_id": BOT_USER_ID, "bot_id": BOT_ID, "app_id": APP_ID, "name": BOT_NAME},
            "users": [
                {
                    "id": u.id,
                    "name": u.name,
                    "real_name": u.real_name,
                    "email": u.email,
                    "is_bot": u.is_bot,
                    "is_admin": u.is_admin,
                }
                for u in state.users.values()
            ],
            "usergroups": [
                {"id": g.id, "handle": g.handle, "name": g.name, "users": list(g.users)}
                for g in state.usergroups.values()
            ],
            "channels": channels,
            "files": [
                {
                    "id": f.id,
                    "filename": f.filename,
                    "title": f.title,
                    "size": len(f.content or b""),
                    "channels": list(f.channels),
                }
                for f in files.all()
            ],
        }


def interaction_message(
    state: WorkspaceState, channel_id: str, ts: str
) -> tuple[JsonDict, bool] | None:
    """(message JSON, is_ephemeral) of the channel or ephemeral message at ``ts``."""
    msg = state.message(channel_id, ts)
    if msg is not None:
        return render_message(msg), False
    for eph in state.ephemerals(channel_id):
        if eph.ts == ts:
            body: JsonDict = {"type": "message", "ts": eph.ts, "text": eph.text}
            if eph.blocks is not None:
                body["blocks"] = eph.blocks
            return body, True
    return None
