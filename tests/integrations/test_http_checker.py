"""The Monitor stage's HTTP checker against real loopback servers: a hung target costs only
its own timeout (the others' results come first), statuses and refusals are told apart, and
many checks share the pooled client."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.core.monitor.model import Result
from integrations.http_checker import AsyncHttpChecker

DEADLINE = 30.0


class Targets(ThreadingHTTPServer):
    """/ok answers 200, /missing 404, /hang never answers until the server is closed."""

    daemon_threads = True
    # socketserver's listen backlog is 5: with 64 checks connecting at once, dropped SYNs
    # are retried a second later, which is the test server's delay, not the checker's.
    request_queue_size = 256

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.release = threading.Event()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: Targets

    def do_GET(self) -> None:
        if self.path == "/hang":
            self.server.release.wait(DEADLINE)
            return
        status = 200 if self.path == "/ok" else 404
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def targets() -> Iterator[Targets]:
    server = Targets()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def checker() -> Iterator[AsyncHttpChecker]:
    running = AsyncHttpChecker()
    running.start()
    yield running
    running.stop()


class Results:
    """What came back, in the order it came."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Result]] = []
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)

    def done_for(self, name: str) -> Callable[[Result], None]:
        def done(result: Result) -> None:
            with self.changed:
                self.seen.append((name, result))
                self.changed.notify_all()

        return done

    def wait(self, count: int) -> list[tuple[str, Result]]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.seen) >= count, timeout=DEADLINE)
            return list(self.seen)


def test_a_hung_target_costs_its_own_timeout_and_never_holds_the_others(
    targets: Targets, checker: AsyncHttpChecker
) -> None:
    results = Results()
    checker.submit(targets.url("/hang"), 2.0, results.done_for("hang"))
    for n in range(200):
        checker.submit(targets.url("/ok"), 2.0, results.done_for(f"ok{n}"))
    seen = results.wait(201)
    assert len(seen) == 201
    names = [name for name, _ in seen]
    assert names[-1] == "hang"  # every other result came before its timeout
    assert all(result.passed for name, result in seen if name != "hang")
    hung = seen[-1][1]
    assert not hung.passed and "no answer" in hung.detail and "within 2s" in hung.detail


def test_a_status_of_400_or_more_and_a_refused_connection_fail_with_what_was_seen(
    targets: Targets, checker: AsyncHttpChecker
) -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        closed = spare.getsockname()[1]
    results = Results()
    checker.submit(targets.url("/missing"), 2.0, results.done_for("missing"))
    checker.submit(f"http://127.0.0.1:{closed}/ok", 2.0, results.done_for("closed"))
    seen = dict(results.wait(2))
    assert not seen["missing"].passed and "HTTP 404" in seen["missing"].detail
    assert not seen["closed"].passed and "unreachable" in seen["closed"].detail
