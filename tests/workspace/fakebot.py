"""A stand-in for the bot's HTTP endpoint: records what arrives, optionally reacts."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier


@dataclass(frozen=True)
class Received:
    """One request as the bot would see it."""

    path: str
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        """The form-encoded body, one value per field."""
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    def json(self) -> Any:
        """The JSON body, or the JSON in the ``payload`` form field (interactivity)."""
        if self.headers.get("content-type", "").startswith("application/json"):
            return json.loads(self.body)
        return json.loads(self.form()["payload"])

    def verified_by(self, secret: str) -> bool:
        """Whether slack_sdk's own verifier accepts the signature."""
        return SignatureVerifier(secret).is_valid_request(self.body, self.headers)


class FakeBot:
    """A loopback HTTP server at ``url`` (".../slack/events") answering 200 to anything.

    ``behaviour`` runs on each request before the answer (e.g. posting to a
    response_url), so its effects are complete once the sender gets its response.
    """

    def __init__(self, behaviour: Callable[[Received], None] | None = None) -> None:
        self.behaviour = behaviour
        self.received: list[Received] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                got = Received(
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                with outer._lock:
                    outer.received.append(got)
                if outer.behaviour is not None:
                    outer.behaviour(got)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{port}/slack/events"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def last(self) -> Received:
        """The most recent request."""
        with self._lock:
            return self.received[-1]

    def stop(self) -> None:
        """Shut the server down."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
