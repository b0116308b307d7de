"""How workspace objects look on the wire (Web API JSON shapes)."""

from __future__ import annotations

from bot.workspace.model import (
    APP_ID,
    BOT_ID,
    BOT_NAME,
    BOT_USER_ID,
    SEED_EPOCH,
    TEAM_ID,
    Channel,
    JsonDict,
    Message,
    UploadedFile,
    User,
)


def render_user(user: User, updated: int = SEED_EPOCH) -> JsonDict:
    """users.info ``user`` object."""
    first, _, last = user.real_name.partition(" ")
    profile: JsonDict = {
        "real_name": user.real_name,
        "real_name_normalized": user.real_name,
        "display_name": user.name,
        "display_name_normalized": user.name,
        "first_name": first,
        "last_name": last,
        "avatar_hash": "g" + user.id[-6:].lower().rjust(6, "0"),
        "title": user.title,
        "phone": "",
        "skype": "",
        "status_text": "",
        "status_emoji": "",
        "status_expiration": 0,
        "fields": {},
        "email": user.email,
        "image_72": f"https://avatars.example.invalid/{user.id}_72.png",
        "team": TEAM_ID,
    }
    if user.is_bot:
        profile["bot_id"] = user.bot_id or BOT_ID
        profile["api_app_id"] = APP_ID
        profile["always_active"] = True
    return {
        "id": user.id,
        "team_id": TEAM_ID,
        "name": user.name,
        "deleted": user.deleted,
        "color": "9f69e7",
        "real_name": user.real_name,
        "tz": user.tz,
        "tz_label": "Greenwich Mean Time",
        "tz_offset": 0,
        "profile": profile,
        "is_admin": user.is_admin,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": updated,
        "has_2fa": False,
    }


def render_channel(channel: Channel, *, is_member: bool, num_members: bool) -> JsonDict:
    """conversations.info ``channel`` object."""
    out: JsonDict = {
        "id": channel.id,
        "name": channel.name,
        "name_normalized": channel.name,
        "is_channel": not channel.is_private and not channel.im_user,
        "is_group": channel.is_private and not channel.im_user,
        "is_im": bool(channel.im_user),
        "is_mpim": False,
        "is_private": channel.is_private,
        "created": channel.created,
        "creator": channel.members[0] if channel.members else BOT_USER_ID,
        "is_archived": False,
        "is_general": channel.is_general,
        "is_shared": False,
        "is_org_shared": False,
        "is_ext_shared": False,
        "is_pending_ext_shared": False,
        "is_member": is_member,
        "unlinked": 0,
        "topic": {"value": channel.topic, "creator": "", "last_set": 0},
        "purpose": {"value": channel.purpose, "creator": "", "last_set": 0},
        "previous_names": [],
    }
    if num_members:
        out["num_members"] = len(channel.members)
    return out


def bot_profile() -> JsonDict:
    """The ``bot_profile`` Slack attaches to messages the bot posts."""
    icon = "https://avatars.example.invalid/opsloop_{}.png"
    return {
        "id": BOT_ID,
        "app_id": APP_ID,
        "name": BOT_NAME,
        "deleted": False,
        "updated": SEED_EPOCH,
        "team_id": TEAM_ID,
        "icons": {
            "image_36": icon.format(36),
            "image_48": icon.format(48),
            "image_72": icon.format(72),
        },
    }


def render_message(msg: Message, files: list[JsonDict] | None = None) -> JsonDict:
    """The message object of conversations.history / replies / chat.postMessage."""
    out: JsonDict = {"type": "message", "ts": msg.ts, "text": msg.text, "user": msg.user}
    if msg.subtype:
        out["subtype"] = msg.subtype
    if msg.bot_id:
        out["bot_id"] = msg.bot_id
        out["bot_profile"] = bot_profile()
    out["team"] = TEAM_ID
    if msg.blocks is not None:
        out["blocks"] = msg.blocks
    if msg.attachments:
        # Slack numbers attachments and always gives them a fallback.
        out["attachments"] = [
            {"id": i, "fallback": str(a.get("fallback", a.get("text", ""))), **a}
            for i, a in enumerate(msg.attachments, start=1)
        ]
    if files:
        out["files"] = files
        out["upload"] = True
    if msg.thread_ts is not None:
        out["thread_ts"] = msg.thread_ts
    if msg.is_reply:
        out["parent_user_id"] = msg.parent_user or msg.user
    elif msg.replies:
        out["reply_count"] = len(msg.replies)
        out["reply_users"] = list(dict.fromkeys(msg.reply_users))
        out["reply_users_count"] = len(out["reply_users"])
        out["latest_reply"] = msg.replies[-1]
        out["subscribed"] = False
    if msg.reactions:
        out["reactions"] = [
            {"name": name, "users": list(users), "count": len(users)}
            for name, users in msg.reactions.items()
        ]
    return out


def render_file(f: UploadedFile, base_url: str) -> JsonDict:
    """The file object of files.completeUploadExternal and message ``files``."""
    ext = f.filename.rsplit(".", 1)[-1].lower() if "." in f.filename else "text"
    url = f"{base_url}files/{f.id}/{f.filename}"
    return {
        "id": f.id,
        "created": f.created,
        "timestamp": f.created,
        "name": f.filename,
        "title": f.title or f.filename,
        "mimetype": "text/plain" if ext in {"txt", "log", "text"} else "application/octet-stream",
        "filetype": ext,
        "pretty_type": ext.upper(),
        "user": f.user,
        "editable": False,
        "size": len(f.content) if f.content is not None else f.length,
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": bool(f.channels),
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": url,
        "url_private_download": url + "?download=1",
        "permalink": f"{base_url}files/{f.id}",
        "channels": list(f.channels),
        "groups": [],
        "ims": [],
        "comments_count": 0,
    }
