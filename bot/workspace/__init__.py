"""A local Slack workspace: a Slack-compatible Web API server and a signed client.

``SlackWorkspace`` serves the Web API methods opsloop uses (chat, reactions,
conversations, users, usergroups, file uploads, response_urls) for a seeded team. What its
people do (``People``, ``Actions``) reaches the app through an ``AppLink``: ``SignedClient``
plays Slack towards the bot's /slack/events endpoint; with an app token,
``SlackWorkspace.socket_mode`` (``SocketModeLink``) plays Slack over Socket Mode, whose
WebSocket endpoint (``bot.workspace.socket_mode``, on the ``websockets`` library) is
imported only when an app first opens Socket Mode.
"""

from bot.workspace.client import SentRequest, SignedClient, sign
from bot.workspace.faults import Faults
from bot.workspace.handler import HttpReply, HttpRequest
from bot.workspace.model import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
    Channel,
    Edit,
    Ephemeral,
    Message,
    SlackError,
    UploadedFile,
    User,
    Usergroup,
)
from bot.workspace.people import Act, Actions, AppAck, AppLink, AppUnreachable, People
from bot.workspace.recording import CallRecord
from bot.workspace.socket_link import SocketModeLink
from bot.workspace.specs import SpecValidator
from bot.workspace.webapi import DEFAULT_BOT_TOKEN, SlackWorkspace

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "DEFAULT_BOT_TOKEN",
    "TEAM_DOMAIN",
    "TEAM_ID",
    "TEAM_NAME",
    "Act",
    "Actions",
    "AppAck",
    "AppLink",
    "AppUnreachable",
    "CallRecord",
    "Channel",
    "Edit",
    "Ephemeral",
    "Faults",
    "HttpReply",
    "HttpRequest",
    "Message",
    "People",
    "SentRequest",
    "SignedClient",
    "SlackError",
    "SlackWorkspace",
    "SocketModeLink",
    "SpecValidator",
    "UploadedFile",
    "User",
    "Usergroup",
    "sign",
]
