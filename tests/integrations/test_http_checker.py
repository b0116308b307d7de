"""The Monitor stage's HTTP checker against real loopback servers: a hung target costs only
its own timeout (the others' results come first), statuses and refusals are told apart, a
redirect passes unfollowed, the request is httpx's (the monitor's agent, the path and
query as given) and only http(s) is checked, checks of one address share a kept
connection (one the server closed is replaced without a failure), a chunked body is read
to its end, a large one is not read at all, and an answer that is not HTTP or stalls
fails saying so."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.core.monitor.model import Result
from integrations.http_checker import AsyncHttpChecker

DEADLINE = 30.0
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


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
    assert not seen["closed"].passed
    assert "unreachable (ConnectError)" in seen["closed"].detail


def test_the_request_is_httpxs_with_the_monitors_agent_and_only_http_is_checked(
    targets: Targets, checker: AsyncHttpChecker
) -> None:
    heads: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def answer_once() -> None:
            connection, _ = listener.accept()
            with connection:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += connection.recv(65536)
                heads.append(data)
                connection.sendall(OK)

        threading.Thread(target=answer_once, daemon=True).start()
        result = check(checker, f"http://127.0.0.1:{port}/health?deep=1")
    assert result.passed
    lines = heads[0].split(b"\r\n")
    assert lines[0] == b"GET /health?deep=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{port}".encode() in lines
    assert b"User-Agent: opsloop-monitor" in lines
    ftp = check(checker, "ftp://127.0.0.1/health")
    assert not ftp.passed and "cannot be checked: only http and https" in ftp.detail


class Raw:
    """A loopback server answering each request with bytes a test chose: `answers[path]`
    is what is sent (a list: sent piece by piece), then the connection stays open for the
    next request unless `close` names the path. It counts connections and requests."""

    def __init__(
        self,
        answers: dict[str, list[bytes]],
        close: frozenset[str] = frozenset(),
        drop_second: bool = False,
    ):
        self.answers = answers
        self.close = close
        self.drop_second = drop_second
        """The second request on the first connection is read, then the connection closed
        with no answer."""
        self.paths: list[str] = []
        self.connections = 0
        self.ended = threading.Event()
        """Set when the checker closed a connection the server still held open."""
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._release = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}{path}"

    def stop(self) -> None:
        self._release.set()
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            buffer = b""
            while not self._release.is_set():
                while b"\r\n\r\n" not in buffer:
                    try:
                        data = connection.recv(65536)
                    except OSError:
                        data = b""  # reset by the checker
                    if not data:
                        self.ended.set()
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                path = head.split(b" ")[1].decode()
                self.paths.append(path)
                if self.drop_second and len(self.paths) == 2:
                    return
                try:
                    for piece in self.answers[path]:
                        connection.sendall(piece)
                except OSError:
                    self.ended.set()
                    return
                if path in self.close:
                    return


@pytest.fixture
def raw() -> Iterator[Callable[..., Raw]]:
    made: list[Raw] = []

    def make(
        answers: dict[str, list[bytes]], close: frozenset[str] = frozenset(), **options: bool
    ) -> Raw:
        made.append(Raw(answers, close, **options))
        return made[-1]

    yield make
    for server in made:
        server.stop()


def check(checker: AsyncHttpChecker, url: str, timeout: float = 2.0) -> Result:
    """One check, waited for."""
    results = Results()
    checker.submit(url, timeout, results.done_for("one"))
    seen = results.wait(1)
    assert seen, f"no result for {url}"
    return seen[0][1]


def test_a_redirect_passes_and_is_not_followed(
    raw: Callable[..., Raw], checker: AsyncHttpChecker
) -> None:
    moved = b"HTTP/1.1 301 Moved\r\nLocation: /gone\r\nContent-Length: 0\r\n\r\n"
    server = raw({"/moved": [moved]})
    result = check(checker, server.url("/moved"))
    assert result.passed and result.detail.startswith("HTTP 301 from")
    assert server.paths == ["/moved"]


def test_checks_of_one_address_share_one_kept_connection(
    raw: Callable[..., Raw], checker: AsyncHttpChecker
) -> None:
    server = raw({"/health": [OK], "/broken": [b"HTTP/1.1 503 No\r\nContent-Length: 0\r\n\r\n"]})
    for _ in range(20):
        assert check(checker, server.url("/health")).passed
    broken = check(checker, server.url("/broken"))
    assert not broken.passed and "HTTP 503" in broken.detail
    assert len(server.paths) == 21 and server.connections == 1


def test_a_chunked_body_in_pieces_is_read_to_its_end_and_the_connection_kept(
    raw: Callable[..., Raw], checker: AsyncHttpChecker
) -> None:
    chunked = [
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        b"lo\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: yes\r\n",
        b"\r\n",
    ]
    server = raw({"/chunked": chunked})
    for _ in range(3):
        result = check(checker, server.url("/chunked"))
        assert result.passed and "HTTP 200" in result.detail
    assert server.connections == 1 and len(server.paths) == 3


def test_a_large_body_is_not_read_and_its_connection_is_closed(
    raw: Callable[..., Raw], checker: AsyncHttpChecker
) -> None:
    # Bodies far past what a health answer needs, of which only a part ever arrives: the
    # status is the answer, long before the timeout, and the connection is dropped.
    declared = b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n" + b"x" * 1000
    chunks = (
        b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n"
        + (b"4000\r\n" + b"y" * 0x4000 + b"\r\n") * 8
    )
    server = raw({"/declared": [declared], "/chunks": [chunks]})
    long = check(checker, server.url("/declared"), timeout=20.0)
    assert long.passed and "HTTP 200" in long.detail
    assert server.ended.wait(DEADLINE)
    failing = check(checker, server.url("/chunks"), timeout=20.0)
    assert not failing.passed and "HTTP 500" in failing.detail
    assert long.latency_ms is not None and long.latency_ms < 20_000
    assert server.connections == 2


def test_a_body_that_runs_until_the_close_passes(
    raw: Callable[..., Raw], checker: AsyncHttpChecker
) -> None:
    server = raw({"/old": [b"HTTP/1.0 200 OK\r\n\r\nall of it"]}, close=frozenset({"/old"}))
    assert check(checker, server.url("/old")).passed
    assert check(checker, server.url("/old")).passed
    assert server.connections == 2


def test_a_kept_connection_the_server_closed_is_replaced_without_a_failure(
    raw: Callable[..., Raw], checker: AsyncHttpChecker
) -> None:
    # The server says nothing about closing, then closes after each answer (as a server
    # whose keep-alive timeout passed between two checks).
    server = raw({"/health": [OK]}, close=frozenset({"/health"}))
    for _ in range(3):
        assert check(checker, server.url("/health")).passed
    assert server.connections == 3


def test_a_kept_connection_closed_on_the_next_request_is_retried_once_on_a_new_one(
    raw: Callable[..., Raw], checker: AsyncHttpChecker
) -> None:
    # The server reads the second request on the kept connection and closes it without a
    # byte of answer (its keep-alive ran out just as the request came): the check goes
    # again on a new connection and passes.
    server = raw({"/health": [OK]}, drop_second=True)
    assert check(checker, server.url("/health")).passed
    assert check(checker, server.url("/health")).passed
    assert server.paths == ["/health", "/health", "/health"] and server.connections == 2


def test_a_kept_connection_not_used_again_is_closed_after_the_idle_time(
    raw: Callable[..., Raw],
) -> None:
    server = raw({"/health": [OK]})
    checker = AsyncHttpChecker(idle_seconds=0.2)
    checker.start()
    try:
        assert check(checker, server.url("/health")).passed
        assert server.ended.wait(DEADLINE)  # closed by the checker, with no check after it
    finally:
        checker.stop()
    assert server.connections == 1 and server.paths == ["/health"]


def test_an_answer_that_is_not_http_or_stalls_fails_with_what_was_wrong(
    raw: Callable[..., Raw], checker: AsyncHttpChecker
) -> None:
    stalled = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"
    server = raw({"/ssh": [b"SSH-2.0-OpenSSH_9.2\r\n\r\n"], "/stalled": [stalled]})
    ssh = check(checker, server.url("/ssh"))
    assert not ssh.passed and "no valid HTTP answer" in ssh.detail and "status line" in ssh.detail
    slow = check(checker, server.url("/stalled"), timeout=0.5)
    assert not slow.passed and "no answer" in slow.detail and "within 0.5s" in slow.detail
