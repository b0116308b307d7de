"""Bodies Slack sends to an app: slash commands, event_callbacks, block_actions."""

from __future__ import annotations

import secrets
import time
from typing import Any

from bot.workspace.model import APP_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID, JsonDict

# A sandbox-only value, like the legacy verification token Slack puts in every body.
DEFAULT_VERIFICATION_TOKEN = "opsloop-verification-token"  # noqa: S105


def new_trigger_id() -> str:
    """A trigger_id in Slack's "<digits>.<digits>.<hex>" shape."""
    return f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


def new_event_id() -> str:
    """An event_id in Slack's "Ev..." shape."""
    return "Ev0" + secrets.token_hex(5).upper()


def slash_form(
    *,
    command: str,
    text: str,
    user_id: str,
    user_name: str,
    channel_id: str,
    channel_name: str,
    response_url: str,
    token: str,
    trigger_id: str | None = None,
) -> dict[str, str]:
    """The form fields of a slash command invocation."""
    return {
        "token": token,
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command if command.startswith("/") else "/" + command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }


def event_callback(event: JsonDict, *, token: str, event_id: str | None = None) -> JsonDict:
    """An Events API ``event_callback`` envelope around ``event``."""
    now = int(time.time())
    return {
        "token": token,
        "team_id": TEAM_ID,
        "context_team_id": TEAM_ID,
        "context_enterprise_id": None,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": now,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        # Deprecated by Slack but still required by the published envelope schema.
        "authed_users": [BOT_USER_ID],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_hex(24),
    }


def reaction_event(
    kind: str, *, user_id: str, reaction: str, channel_id: str, ts: str, item_user: str
) -> JsonDict:
    """A ``reaction_added`` / ``reaction_removed`` event on a message."""
    return {
        "type": kind,
        "user": user_id,
        "reaction": reaction.strip(":"),
        "item_user": item_user,
        "item": {"type": "message", "channel": channel_id, "ts": ts},
        "event_ts": f"{time.time():.6f}",
    }


def find_action(blocks: Any, action_id: str) -> tuple[str, JsonDict] | None:
    """(block_id, element) of the interactive element with ``action_id``, if any."""
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            continue
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return str(block.get("block_id", "")), element
    return None


def block_actions(
    *,
    user_id: str,
    user_name: str,
    channel_id: str,
    channel_name: str,
    message: JsonDict | None,
    message_ts: str,
    is_ephemeral: bool,
    action_id: str,
    value: str | None,
    block_id: str | None,
    response_url: str,
    token: str,
) -> JsonDict:
    """A ``block_actions`` interactivity payload for a click on a message element.

    The element's type, text and block_id come from the message's blocks when found
    (a button otherwise). Like Slack, ephemeral messages are not echoed in ``message``.
    """
    found = find_action((message or {}).get("blocks"), action_id)
    element: JsonDict = dict(found[1]) if found else {"type": "button"}
    action: JsonDict = {
        "action_id": action_id,
        "block_id": block_id or (found[0] if found else "actions"),
        "type": element.get("type", "button"),
        "action_ts": f"{time.time():.6f}",
    }
    if "text" in element:
        action["text"] = element["text"]
    if value is not None or "value" in element:
        action["value"] = value if value is not None else element["value"]
    container: JsonDict = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel_id,
        "is_ephemeral": is_ephemeral,
    }
    if message and message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    payload: JsonDict = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_name, "name": user_name, "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": token,
        "container": container,
        "trigger_id": new_trigger_id(),
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": channel_name},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
    if message is not None and not is_ephemeral:
        payload["message"] = message
    return payload
