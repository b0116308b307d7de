"""The HTTP edge: POST /slack/events into Bolt, GET /healthz and GET /metrics, and the other
POST routes the composition root adds (POST /alertmanager).

A threaded stdlib server: every request gets its own thread, and the router hands the
real work to the worker pool, so a slow stage never delays an acknowledgement.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from slack_bolt import App

from bot.metrics import CONTENT_TYPE, Metrics
from bot.slack.inbound import Refused, bolt_request

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
MAX_BODY = 1_000_000
REQUEST_TIMEOUT = 10

PostRoute = Callable[[Mapping[str, str], bytes], tuple[int, str]]
"""Another POST path: (headers with lowercase names, body) -> (status, JSON-safe message).
Bodies longer than MAX_BODY get 400 before it is called."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The stdlib default backlog of 5 drops connections under a burst of slash commands.
    request_queue_size = 256
    allow_reuse_address = True


class SlackHttpServer:
    """Serves one Bolt app on host:port (port 0 picks a free one) in a background thread."""

    def __init__(
        self,
        app: App,
        metrics: Metrics,
        health: Callable[[], dict[str, Any]],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        routes: Mapping[str, PostRoute] | None = None,
        signing_secret: str,
    ) -> None:
        handler = _handler_class(app, metrics, health, dict(routes or {}), signing_secret)
        self._server = _Server((host, port), handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:3001."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def events_url(self) -> str:
        """Where Slack sends commands, events and interactivity."""
        return self.url + EVENTS_PATH

    def start(self) -> None:
        """Serve in a daemon thread and return at once."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="opsloop-http", daemon=True
        )
        self._thread.start()

    def serve_forever(self) -> None:
        """Serve in this thread until stop() is called from another."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _handler_class(
    app: App,
    metrics: Metrics,
    health: Callable[[], dict[str, Any]],
    routes: dict[str, PostRoute],
    signing_secret: str,
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # A client that stops sending must not hold a thread for ever.
        timeout = REQUEST_TIMEOUT

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                self._send(200, json.dumps(health()).encode(), "application/json")
            elif path == "/metrics":
                self._send(200, metrics.render(), CONTENT_TYPE)
            else:
                self._send(404, b'{"error": "not found"}', "application/json")

        def do_POST(self) -> None:
            started = time.perf_counter()
            route = routes.get(self.path.split("?", 1)[0])
            if route is not None:
                self._route(route)
                return
            if self.path.split("?", 1)[0] != EVENTS_PATH:
                self._send(404, b'{"error": "not found"}', "application/json")
                return
            length = _content_length(self.headers.get("Content-Length"))
            if length is None:
                self._send(400, b'{"error": "bad Content-Length"}', "application/json")
                return
            if length > MAX_BODY:
                self._send(413, b"", "text/plain")
                return
            body = self.rfile.read(length).decode("utf-8", errors="replace")
            headers: dict[str, str | Sequence[str]] = {
                key.lower(): [value] for key, value in self.headers.items()
            }
            try:
                request = bolt_request(body, headers, signing_secret)
            except Refused as refused:
                log.warning("refused a request to %s: %s", EVENTS_PATH, refused.reason)
                error = json.dumps({"error": refused.reason}).encode()
                self._send(refused.status, error, "application/json")
                return
            response = app.dispatch(request)
            content_type = (response.headers.get("content-type") or ["text/plain"])[0]
            self._send(response.status, response.body.encode(), content_type)
            metrics.ack_seconds.observe(time.perf_counter() - started)

        def _route(self, route: PostRoute) -> None:
            length = _content_length(self.headers.get("Content-Length"))
            if length is None or length > MAX_BODY:
                # Not read: the connection closes instead of carrying an unread body.
                self.close_connection = True
                self._send(400, b'{"error": "bad or too large body"}', "application/json")
                return
            body = self.rfile.read(length)
            headers = {key.lower(): value for key, value in self.headers.items()}
            try:
                status, message = route(headers, body)
            except Exception:
                log.exception("POST %s failed", self.path)
                status, message = 500, "internal error"
            self._send(status, json.dumps({"message": message}).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http: " + format, *args)

    return Handler


def _content_length(header: str | None) -> int | None:
    """The body length the client announced; None when it is not a whole number >= 0."""
    if header is None:
        return 0
    stripped = header.strip()
    return int(stripped) if stripped.isdecimal() else None
