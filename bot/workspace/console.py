"""The web console of the local workspace: a page where someone with no Slack account sees
the channels, messages, threads, reactions and ephemerals live, and acts as a sample user.

Paths (all on the workspace's own port):

* ``GET /`` - the page (``static/console.html``); ``GET /console/static/<name>`` - its assets.
* ``GET /console/api/state[?since=<version>&wait=<seconds>]`` - the workspace snapshot plus
  its change ``version``; with ``since``, waits up to ``wait`` seconds (at most 30) until
  the version moves past it (long polling).
* ``POST /console/api/command`` ``{user, channel, command, text}`` - run a slash command.
* ``POST /console/api/react`` ``{user, channel, ts, name, remove?}`` - add / remove a reaction.
* ``POST /console/api/click`` ``{user, channel, ts, action_id, value?}`` - click a button.

POST bodies are JSON (so a foreign web page cannot post a form here) and name users and
channels by id ("U0ALICE", "C0OPS") or name ("alice", "#ops"). Answers are JSON: actions
give ``{ok, bot_status, bot_body}`` (the bot's acknowledgement), failures ``{error}`` with
400 for a bad request or a Slack refusal (``already_reacted`` ...), 502 when the bot cannot
be reached and 503 when none is connected. Requests whose Host is not this loopback server
get 403, which keeps other sites (DNS rebinding) out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from bot.workspace.handler import HttpReply, HttpRequest
from bot.workspace.model import JsonDict, SlackError
from bot.workspace.people import AppAck, AppUnreachable
from bot.workspace.webapi import SlackWorkspace

API_PREFIX = "/console/api/"
STATIC_PREFIX = "/console/static/"
PAGE_PATHS = frozenset({"/", "/index.html", "/console", "/console/"})
MAX_WAIT = 30.0
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
ASSETS = {
    "console.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
}


class ConsoleError(Exception):
    """A request the console refuses: HTTP ``status`` and the ``error`` text."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def mount_console(workspace: SlackWorkspace) -> None:
    """Serve the console page, its assets and its JSON API from ``workspace``."""
    console = Console(workspace)
    workspace.mount(STATIC_PREFIX, console.static)
    workspace.mount(API_PREFIX, console.api)
    workspace.mount("/", console.root)


def _json(status: int, data: Any) -> HttpReply:
    return HttpReply.json(status, data, **{"Cache-Control": "no-store"})


class Console:
    """The routes of the console over one workspace."""

    def __init__(self, workspace: SlackWorkspace) -> None:
        self.ws = workspace

    # -- routes --------------------------------------------------------------------------
    def root(self, req: HttpRequest) -> HttpReply:
        """The page at "/" (the workspace's own endpoints and longer mounts win over this
        catch-all, so anything else that gets here is unknown)."""
        if req.path not in PAGE_PATHS:
            return HttpReply.text(404, "not_found")
        return self._guarded(req, lambda: self._asset("console.html"))

    def static(self, req: HttpRequest) -> HttpReply:
        """The page's assets, from the package's ``static`` folder (a fixed list)."""
        return self._guarded(req, lambda: self._asset(req.path.removeprefix(STATIC_PREFIX)))

    def api(self, req: HttpRequest) -> HttpReply:
        """The JSON API under /console/api/."""
        return self._guarded(req, lambda: self._api(req))

    # -- internals -----------------------------------------------------------------------
    def _guarded(self, req: HttpRequest, answer: Callable[[], HttpReply]) -> HttpReply:
        try:
            self._check_origin(req)
            return answer()
        except ConsoleError as err:
            return _json(err.status, {"ok": False, "error": err.error})
        except SlackError as err:
            return _json(400, {"ok": False, "error": err.code})

    def _check_origin(self, req: HttpRequest) -> None:
        host = req.headers.get("host", "")
        try:
            name = urlsplit("//" + host).hostname or ""
        except ValueError:  # a malformed Host such as "[::1"
            name = ""
        allowed = LOOPBACK_NAMES | {urlsplit(self.ws.base_url).hostname or ""}
        if name not in allowed:
            raise ConsoleError(403, f"forbidden_host: {host or '(none)'}")
        origin = req.headers.get("origin")
        if origin is not None and origin != f"http://{host}":
            raise ConsoleError(403, f"forbidden_origin: {origin}")

    def _asset(self, name: str) -> HttpReply:
        kind = ASSETS.get(name)
        if kind is None:
            raise ConsoleError(404, "not_found")
        body = resources.files("bot.workspace").joinpath("static").joinpath(name).read_bytes()
        return HttpReply(200, body, {"Content-Type": kind, **SECURITY_HEADERS})

    def _api(self, req: HttpRequest) -> HttpReply:
        name = req.path.removeprefix(API_PREFIX).strip("/")
        if name == "state":
            if req.method != "GET":
                raise ConsoleError(405, "method_not_allowed: use GET")
            return self._state(req.query)
        actions = {"command": self._command, "react": self._react, "click": self._click}
        action = actions.get(name)
        if action is None:
            raise ConsoleError(404, f"unknown_endpoint: {name}")
        if req.method != "POST":
            raise ConsoleError(405, "method_not_allowed: use POST")
        params = _json_body(req)
        try:
            response = action(params)
        except RuntimeError as err:  # the workspace has no bot connected
            raise ConsoleError(503, f"no_bot_connected: {err}") from None
        except (AppUnreachable, TimeoutError) as err:
            raise ConsoleError(502, f"bot_unreachable: {err}") from None
        body: JsonDict = {"ok": True, "bot_status": None, "bot_body": ""}
        if response is not None:
            body["bot_status"] = response.status_code
            body["bot_body"] = response.text[:2000]
        return _json(200, body)

    def _state(self, query: dict[str, str]) -> HttpReply:
        changes = self.ws.state.changes
        since = query.get("since", "")
        try:
            wait = min(max(float(query.get("wait") or 0), 0.0), MAX_WAIT)
            seen = int(since) if since else None
        except ValueError:
            raise ConsoleError(400, "invalid_arguments: since and wait must be numbers") from None
        if seen is not None and wait > 0:
            changes.wait_past(seen, wait)
        version = changes.version  # read first: a change during the snapshot shows next poll
        return _json(200, {"version": version, **self.ws.snapshot()})

    def _command(self, params: JsonDict) -> AppAck | None:
        user, channel = self._user(params), self._channel(params)
        command = _text(params, "command").strip()
        if not command.startswith("/") or len(command) < 2 or " " in command:
            raise ConsoleError(400, "invalid_command: a command looks like /ops")
        text = str(params.get("text") or "").strip()
        return self.ws.user_command(user, channel, command, text)

    def _react(self, params: JsonDict) -> AppAck | None:
        user, channel = self._user(params), self._channel(params)
        ts, name = _text(params, "ts"), _text(params, "name").strip().strip(":")
        if _truthy(params.get("remove")):
            return self.ws.user_unreact(user, channel, ts, name)
        return self.ws.user_react(user, channel, ts, name)

    def _click(self, params: JsonDict) -> AppAck | None:
        user, channel = self._user(params), self._channel(params)
        value = params.get("value")
        return self.ws.user_click(
            user,
            channel,
            _text(params, "ts"),
            _text(params, "action_id"),
            None if value is None else str(value),
        )

    def _user(self, params: JsonDict) -> str:
        wanted = _text(params, "user").strip().lstrip("@")
        found = self.ws.user(wanted)
        if found is not None:
            return found.id
        with self.ws.state.lock:
            for user in self.ws.state.users.values():
                if user.name == wanted:
                    return user.id
        raise ConsoleError(400, f"user_not_found: {wanted}")

    def _channel(self, params: JsonDict) -> str:
        wanted = _text(params, "channel").strip().lstrip("#")
        found = self.ws.channel(wanted)
        if found is not None:
            return found.id
        with self.ws.state.lock:
            for chan in self.ws.state.channels.values():
                if chan.name == wanted:
                    return chan.id
        raise ConsoleError(400, f"channel_not_found: {wanted}")


def _json_body(req: HttpRequest) -> JsonDict:
    kind = req.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise ConsoleError(415, "unsupported_media_type: send application/json")
    try:
        data = json.loads(req.body or b"{}")
    except ValueError:
        raise ConsoleError(400, "invalid_json") from None
    if not isinstance(data, dict):
        raise ConsoleError(400, "invalid_json: expected an object")
    return data


def _text(params: JsonDict, name: str) -> str:
    value = params.get(name)
    if value is None or value == "" or isinstance(value, dict | list):
        raise ConsoleError(400, f"invalid_arguments: missing {name}")
    return str(value)


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in {"true", "1"}


__all__ = ["API_PREFIX", "STATIC_PREFIX", "Console", "ConsoleError", "mount_console"]
