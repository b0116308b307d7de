"""HTTP plumbing of the local workspace: routing, auth, faults, recording, validation."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.workspace.content import Params
from bot.workspace.faults import Faults
from bot.workspace.methods_chat import CHAT_METHODS, Ctx, Handler
from bot.workspace.methods_other import APP_TOKEN_METHODS, OTHER_METHODS
from bot.workspace.model import JsonDict, SlackError
from bot.workspace.recording import CallLog, CallRecord
from bot.workspace.sinks import FileStore, ResponseUrls
from bot.workspace.specs import SpecValidator
from bot.workspace.state import WorkspaceState

log = logging.getLogger(__name__)

METHODS: dict[str, Handler] = {**CHAT_METHODS, **OTHER_METHODS}


@dataclass
class HttpRequest:
    """An incoming request; ``headers`` keys are lower-case."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpReply:
    """What to send back."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, **headers: str) -> HttpReply:
        """A JSON reply (UTF-8)."""
        hdrs = {"Content-Type": "application/json; charset=utf-8", **headers}
        return cls(status, json.dumps(data).encode(), hdrs)

    @classmethod
    def text(cls, status: int, text: str) -> HttpReply:
        """A plain-text reply."""
        return cls(status, text.encode(), {"Content-Type": "text/plain; charset=utf-8"})


Route = Callable[[HttpRequest], HttpReply]


def parse_params(req: HttpRequest) -> JsonDict:
    """Query string merged with a form or JSON body (the body wins).

    SlackError("invalid_json" / "json_not_object") for a bad JSON body.
    """
    params: JsonDict = dict(req.query)
    kind = req.headers.get("content-type", "").split(";")[0].strip().lower()
    if not req.body:
        return params
    if kind == "application/json":
        try:
            data = json.loads(req.body)
        except ValueError:
            raise SlackError("invalid_json") from None
        if not isinstance(data, dict):
            raise SlackError("json_not_object")
        params.update(data)
    elif kind in ("", "application/x-www-form-urlencoded"):
        params.update(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
    return params


class ApiServer:
    """Routes requests: /api/<method>, /response/<id>, /upload/<file id>, /files/<id>/...
    and any prefix added with :meth:`mount`."""

    def __init__(
        self,
        state: WorkspaceState,
        faults: Faults,
        calls: CallLog,
        specs: SpecValidator | None,
        bot_token: str,
        *,
        app_token: str | None = None,
        open_socket: Callable[[], str] | None = None,
    ) -> None:
        self.state = state
        self.files = FileStore(state)
        self.responses = ResponseUrls(state)
        self.faults = faults
        self.calls = calls
        self.specs = specs
        self.bot_token = bot_token
        self.app_token = app_token
        self.open_socket = open_socket
        self.base_url = ""
        self.violations: list[str] = []
        self.internal_errors: list[str] = []
        self._lock = threading.Lock()
        self._mounts: dict[str, Route] = {}

    def mount(self, prefix: str, route: Route) -> None:
        """Serve paths starting with ``prefix`` (e.g. "/console/") with ``route``.

        The built-in endpoints (/api/, POST /response/, POST /upload/, GET /files/)
        always win; among mounts the longest prefix wins, so "/" can be a catch-all.
        """
        self._mounts[prefix] = route

    def add_violations(self, found: list[str]) -> None:
        """Append spec violations (thread-safe)."""
        if found:
            with self._lock:
                self.violations.extend(found)

    def found_violations(self) -> list[str]:
        """A copy of the spec violations so far."""
        with self._lock:
            return list(self.violations)

    def found_internal_errors(self) -> list[str]:
        """A copy of the internal errors so far."""
        with self._lock:
            return list(self.internal_errors)

    def handle(self, req: HttpRequest) -> HttpReply:
        """Answer one request: the built-in endpoints first, then the mount with the
        longest matching prefix, else 404."""
        builtin = self._builtin(req)
        if builtin is not None:
            return builtin
        for prefix in sorted(self._mounts, key=len, reverse=True):
            if req.path.startswith(prefix):
                return self._mounts[prefix](req)
        return HttpReply.text(404, "not_found")

    def _builtin(self, req: HttpRequest) -> HttpReply | None:
        head, _, rest = req.path.lstrip("/").partition("/")
        if head == "api" and rest:
            return self._api(rest, req)
        if head == "response" and req.method == "POST":
            return self._response(rest, req)
        if head == "upload" and req.method == "POST":
            ok = self.files.receive(rest, req.body)
            reply = HttpReply.text(200, f"OK - {len(req.body)}") if ok else HttpReply.text(404, "")
            self._record("upload", {"file_id": rest, "length": len(req.body)}, reply, req)
            return reply
        if head == "files" and req.method == "GET":
            found = self.files.get(rest.split("/")[0])
            if found is not None and found.content is not None:
                return HttpReply(200, found.content, {"Content-Type": "application/octet-stream"})
            return HttpReply.text(404, "file_not_found")
        return None

    def _record(self, method: str, params: JsonDict, reply: HttpReply, req: HttpRequest) -> None:
        try:
            response: Any = json.loads(reply.body)
        except ValueError:
            response = reply.body.decode("utf-8", "replace")
        # Call logs get printed and compared in tests; a token sent as a form field must not leak.
        if "token" in params:
            params = {**params, "token": "[redacted]"}
        self.calls.add(CallRecord(method, params, response, reply.status, time.time(), req.method))

    def _response(self, target_id: str, req: HttpRequest) -> HttpReply:
        try:
            payload: Any = json.loads(req.body or b"{}")
        except ValueError:
            payload = None
        status, text = self.responses.post(target_id, payload)
        reply = HttpReply.text(status, text)
        params = (
            payload if isinstance(payload, dict) else {"raw": req.body.decode("utf-8", "replace")}
        )
        self._record("response_url", {"response_url_id": target_id, **params}, reply, req)
        return reply

    def _api(self, method: str, req: HttpRequest) -> HttpReply:
        try:
            params = parse_params(req)
        except SlackError as err:
            reply = HttpReply.json(200, {"ok": False, "error": err.code})
            self._record(method, {}, reply, req)
            return reply
        reply = self._serve(method, params, req)
        self._record(method, params, reply, req)
        return reply

    def _serve(self, method: str, params: JsonDict, req: HttpRequest) -> HttpReply:
        handler = METHODS.get(method)
        if handler is None:
            return HttpReply.json(
                200, {"ok": False, "error": "unknown_method", "req_method": method}
            )
        for fault in self.faults.take(method, params.get("channel")):
            if fault.kind == "slow":
                time.sleep(fault.seconds)
            elif fault.kind == "ratelimit":
                body = {"ok": False, "error": "ratelimited"}
                return HttpReply.json(429, body, **{"Retry-After": str(fault.retry_after)})
            else:
                return HttpReply.json(fault.status, {"ok": False, "error": "fatal_error"})
        bearer = req.headers.get("authorization", "")
        has_bearer = bearer.lower().startswith("bearer ")
        if self.specs is not None:
            self.add_violations(
                self.specs.check_request(method, params, has_auth_header=has_bearer)
            )
        body = self._call(handler, method, params, bearer[7:].strip() if has_bearer else None)
        if self.specs is not None:
            self.add_violations(self.specs.check_response(method, body))
        return HttpReply.json(200, body)

    def _call(self, handler: Handler, method: str, params: Params, bearer: str | None) -> JsonDict:
        token = bearer or params.get("token")
        if not token:
            return {"ok": False, "error": "not_authed"}
        # App-level (xapp-) tokens only open Socket Mode; bot tokens do everything else.
        app_method = method in APP_TOKEN_METHODS
        expected = self.app_token if app_method else self.bot_token
        other = self.bot_token if app_method else self.app_token
        if token != expected:
            error = "not_allowed_token_type" if token == other else "invalid_auth"
            return {"ok": False, "error": error}
        try:
            return handler(Ctx(self.state, self.files, self.base_url, self.open_socket), params)
        except SlackError as err:
            body: JsonDict = {"ok": False, "error": err.code}
            if err.messages:
                body["response_metadata"] = {"messages": err.messages}
            return body
        except Exception as exc:  # a bug in this fake must surface, not hang the bot
            log.exception("local Slack workspace failed in %s", method)
            with self._lock:
                self.internal_errors.append(f"{method}: {exc!r}")
            return {"ok": False, "error": "fatal_error"}


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: WorkspaceHTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s - %s", self.address_string(), format % args)

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        req = HttpRequest(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        reply = self.server.api.handle(req)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)


class WorkspaceHTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer answering every request with an :class:`ApiServer`.

    A client that goes away before its answer (a console tab closed or reloaded during
    a long poll) is normal: it is counted in :attr:`peers_gone`, never printed.
    """

    daemon_threads = True

    def __init__(self, host: str, port: int, api: ApiServer) -> None:
        self.api = api
        self._gone_lock = threading.Lock()
        self._peers_gone = 0
        super().__init__((host, port), _RequestHandler)

    @property
    def peers_gone(self) -> int:
        """How many connections the other side closed before their answer was written."""
        with self._gone_lock:
            return self._peers_gone

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A closed stream is logged quietly; anything else keeps the usual traceback."""
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):
            super().handle_error(request, client_address)
            return
        log.debug("%s went away before its answer: %r", client_address, error)
        with self._gone_lock:
            self._peers_gone += 1
