"""SlackWorkspace: a local, Slack-compatible Web API server with a seeded team."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bot.workspace.faults import Faults
from bot.workspace.handler import ApiServer, Route, WorkspaceHTTPServer
from bot.workspace.model import (
    BOT_USER_ID,
    Channel,
    Ephemeral,
    JsonDict,
    Message,
    UploadedFile,
    User,
    Usergroup,
)
from bot.workspace.people import Actions, AppAck, AppLink, People, change_reaction
from bot.workspace.recording import CallLog, CallRecord
from bot.workspace.seed import seed_default
from bot.workspace.snapshot import build_snapshot, interaction_message
from bot.workspace.socket_link import SocketModeLink
from bot.workspace.specs import SpecValidator
from bot.workspace.state import WorkspaceState

T = TypeVar("T")
# Only ever accepted by this local server.
DEFAULT_BOT_TOKEN = "xoxb-opsloop-sandbox"  # noqa: S105


class SlackWorkspace:
    """A running local Slack workspace (team T0OPSLOOP) serving the Web API.

    ``WebClient(token=bot_token, base_url=workspace.api_url)`` talks to it. With
    ``specs_dir`` every request/response is checked against Slack's spec
    (see :mod:`bot.workspace.specs`); problems collect in :attr:`spec_violations`.
    What its people do (:attr:`people`) reaches the app connected with
    :meth:`connect_bot` (HTTP); with ``app_token`` (xapp-...) apps.connections.open opens
    Socket Mode and :attr:`socket_mode` acts on the connected app. Use as a context
    manager, or call :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        bot_token: str = DEFAULT_BOT_TOKEN,
        specs_dir: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        seed: bool = True,
        app_token: str | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.state = WorkspaceState()
        if seed:
            seed_default(self.state)
        self.faults = Faults()
        self.specs = SpecValidator(specs_dir) if specs_dir is not None else None
        self._calls = CallLog(self.state.changes)
        self.people = People(self.state, self.new_response_url, self.check_event)
        self.socket_mode = SocketModeLink(self.people, self.state.changes, host)
        self._api = ApiServer(
            self.state,
            self.faults,
            self._calls,
            self.specs,
            bot_token,
            app_token=app_token,
            open_socket=self.socket_mode.new_url,
        )
        self._host, self._port = host, port
        self._server: WorkspaceHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._bot: AppLink | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Bind (port 0 = any free port) and serve on a background thread."""
        if self._server is not None:
            return
        self._server = WorkspaceHTTPServer(self._host, self._port, self._api)
        host, port = self._server.server_address[:2]
        self._api.base_url = f"http://{host!s}:{port}/"
        # A short poll keeps stop() quick; shutdown() waits for the loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="slack-workspace",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port (safe to call twice)."""
        self.socket_mode.stop()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SlackWorkspace:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """ "http://127.0.0.1:PORT/" (RuntimeError before start())."""
        if not self._api.base_url:
            raise RuntimeError("SlackWorkspace is not started")
        return self._api.base_url

    @property
    def api_url(self) -> str:
        """The Web API base, "http://127.0.0.1:PORT/api/" (for WebClient(base_url=...))."""
        return self.base_url + "api/"

    def mount(self, prefix: str, route: Route) -> None:
        """Serve paths starting with ``prefix`` with ``route(HttpRequest) -> HttpReply``.

        Built-in endpoints (/api/, POST /response/, POST /upload/, GET /files/) always
        win; among mounts the longest prefix wins, so "/" works as a catch-all page.
        """
        self._api.mount(prefix, route)

    # -- recording and validation ------------------------------------------------------
    @property
    def calls(self) -> list[CallRecord]:
        """Every served call, oldest first (Web API, "response_url", "upload")."""
        return self._calls.all()

    def calls_to(self, method: str) -> list[CallRecord]:
        """The served calls of one method, oldest first."""
        return [c for c in self._calls.all() if c.method == method]

    def clear_calls(self) -> None:
        """Forget recorded calls (state is kept)."""
        self._calls.clear()

    @property
    def spec_violations(self) -> list[str]:
        """Readable spec violations found so far (empty without specs_dir)."""
        return self._api.found_violations()

    @property
    def internal_errors(self) -> list[str]:
        """Crashes inside this fake (answered as fatal_error); should stay empty."""
        return self._api.found_internal_errors()

    @property
    def peers_gone(self) -> int:
        """Connections closed by their client before the answer was written (a console
        tab closed mid long poll); these are normal and never printed."""
        server = self._server
        return server.peers_gone if server is not None else 0

    def check_event(self, envelope: JsonDict) -> list[str]:
        """Validate an Events API body; violations are also added to spec_violations."""
        found = self.specs.check_event(envelope) if self.specs is not None else []
        self._api.add_violations(found)
        return found

    def assert_no_spec_violations(self) -> None:
        """AssertionError listing every spec violation and internal error, if any."""
        problems = self.spec_violations + self.internal_errors
        if problems:
            raise AssertionError("Slack spec violations:\n  " + "\n  ".join(problems))

    def wait_for(
        self, predicate: Callable[[], T], timeout: float = 5.0, description: str = ""
    ) -> T:
        """Re-check ``predicate`` on every workspace change until it returns something
        truthy, and return that. TimeoutError after ``timeout`` seconds."""
        return self.state.changes.wait_until(predicate, timeout, description)

    # -- state queries -----------------------------------------------------------------
    def messages(self, channel_id: str, include_replies: bool = False) -> list[Message]:
        """Copies of the channel's messages, oldest first (top level unless asked)."""
        return self.state.timeline(channel_id, include_replies=include_replies)

    def message(self, channel_id: str, ts: str) -> Message | None:
        """A copy of one message (``.edits``, ``.edit_count``, ``.reactions`` ...)."""
        return self.state.message(channel_id, ts)

    def thread(self, channel_id: str, ts: str) -> list[Message]:
        """The thread's parent followed by its replies, oldest first."""
        return self.state.thread(channel_id, ts)

    def ephemerals(
        self, channel_id: str | None = None, user_id: str | None = None
    ) -> list[Ephemeral]:
        """Visible ephemeral messages, oldest first, optionally per channel / user."""
        return self.state.ephemerals(channel_id, user_id)

    @property
    def deleted_messages(self) -> list[Message]:
        """Copies of deleted messages as they were before deletion."""
        with self.state.lock:
            return list(self.state.deleted)

    def files(self) -> list[UploadedFile]:
        """Uploaded files (with their bytes in ``content``)."""
        return self._api.files.all()

    def user(self, user_id: str) -> User | None:
        """A copy of the user, or None."""
        with self.state.lock:
            return copy.deepcopy(self.state.users.get(user_id))

    def channel(self, channel_id: str) -> Channel | None:
        """A copy of the channel (with ``members``), or None."""
        with self.state.lock:
            return copy.deepcopy(self.state.channels.get(channel_id))

    def interaction_message(self, channel_id: str, ts: str) -> tuple[JsonDict, bool] | None:
        """(message JSON, is_ephemeral) for the message at ``ts``, for click payloads."""
        return interaction_message(self.state, channel_id, ts)

    def snapshot(self) -> JsonDict:
        """Everything as JSON-ready data (see :func:`bot.workspace.snapshot.build_snapshot`)."""
        return build_snapshot(self.state, self._api.files, self._api.base_url)

    # -- directory -----------------------------------------------------------------------
    def add_user(
        self,
        user_id: str,
        name: str,
        real_name: str | None = None,
        email: str | None = None,
        *,
        is_admin: bool = False,
        join_channels: bool = True,
    ) -> User:
        """Add a person; by default they join every existing channel."""
        user = self.state.add_user(
            User(user_id, name, real_name or name.title(), email, is_admin=is_admin)
        )
        if join_channels:
            with self.state.lock:
                for chan in self.state.channels.values():
                    if user_id not in chan.members:
                        chan.members.append(user_id)
        return user

    def add_channel(
        self, channel_id: str, name: str, members: list[str] | None = None, is_private: bool = False
    ) -> Channel:
        """Add a channel; members default to every user (the bot included)."""
        with self.state.lock:
            everyone = list(self.state.users) if members is None else list(members)
            return self.state.add_channel(Channel(channel_id, name, everyone, is_private))

    def add_usergroup(
        self, group_id: str, handle: str, members: list[str], name: str | None = None
    ) -> Usergroup:
        """Add (or replace) a usergroup."""
        return self.state.add_usergroup(Usergroup(group_id, handle, name or handle, list(members)))

    # -- people acting in the workspace ------------------------------------------------
    def connect_bot(self, link: AppLink) -> None:
        """Deliver what people do (reactions, commands, clicks) to the bot via ``link``
        (a SignedClient for HTTP)."""
        self._bot = link

    def disconnect_bot(self) -> None:
        """Stop delivering user actions; state still changes."""
        self._bot = None

    def new_response_url(
        self,
        channel_id: str,
        user_id: str,
        message_ts: str | None = None,
        ephemeral: bool = False,
    ) -> str:
        """A fresh response_url, "http://127.0.0.1:PORT/response/<id>", for a command or
        click by ``user_id`` in ``channel_id`` (``message_ts``: the clicked message)."""
        target = self._api.responses.new(channel_id, user_id, message_ts, ephemeral)
        return f"{self.base_url}response/{target}"

    def user_post(
        self, user_id: str, channel_id: str, text: str, thread_ts: str | None = None
    ) -> Message:
        """A person posts a message (no event is sent to the bot)."""
        self.state.user(user_id)
        return self.state.post(channel_id, user_id, text, thread_ts=thread_ts, source="user")

    def user_react(self, user_id: str, channel_id: str, ts: str, name: str) -> AppAck | None:
        """A person adds a reaction; reaction_added goes to the connected bot.
        SlackError (already_reacted, message_not_found ...) if Slack would refuse."""
        return self._react(user_id, channel_id, ts, name, added=True)

    def user_unreact(self, user_id: str, channel_id: str, ts: str, name: str) -> AppAck | None:
        """A person removes a reaction; reaction_removed goes to the connected bot."""
        return self._react(user_id, channel_id, ts, name, added=False)

    def user_command(self, user_id: str, channel_id: str, command: str, text: str = "") -> AppAck:
        """A person runs a slash command; the bot gets it with a fresh response_url."""
        return self._acting().command(user_id, channel_id, command, text)

    def user_click(
        self,
        user_id: str,
        channel_id: str,
        message_ts: str,
        action_id: str,
        value: str | None = None,
    ) -> AppAck:
        """A person clicks an element of a message; the bot gets block_actions."""
        return self._acting().click(user_id, channel_id, message_ts, action_id, value)

    def _react(
        self, user_id: str, channel_id: str, ts: str, name: str, *, added: bool
    ) -> AppAck | None:
        bot = self._bot
        if bot is None:
            change_reaction(self.people, user_id, channel_id, ts, name, added=added)
            return None
        return Actions(self.people, bot).react(user_id, channel_id, ts, name, added=added)

    def _acting(self) -> Actions:
        bot = self._bot
        if bot is None:
            raise RuntimeError("no bot connected: call connect_bot(SignedClient(...)) first")
        return Actions(self.people, bot)

    def __repr__(self) -> str:
        where = self._api.base_url or "not started"
        return f"<SlackWorkspace {where} bot={BOT_USER_ID}>"
