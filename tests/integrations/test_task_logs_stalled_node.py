"""/logs of tasks on other nodes, read through the engine's per-task endpoint, when a node
stops answering: a local server stands in for the engine (it answers `GET /info` and
relays nothing more than the test says), so the stall is certain. The read ends at its time
limit with what came, its reader threads end, and the connections are let go."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import docker
import pytest

from integrations.docker_engine.log_reading import Bounded, read_all
from integrations.docker_engine.task_logs import task_log_sources
from tests.scenarios.operate.support import poll

DEADLINE = 30.0
_OPTIONS = {"stdout": True, "stderr": True, "timestamps": True, "tail": 100, "follow": False}
_INFO = b'{"Swarm": {"NodeID": "this-node"}}'


@dataclass
class StallingEngine:
    """An engine on 127.0.0.1 whose task `stalls` sends one line and then nothing, and
    whose task `silent` never even sends its reply's headers. `hung_up` holds the paths
    whose connection the client closed."""

    port: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    hung_up: list[str] = field(default_factory=list)

    def serve(self, conn: socket.socket) -> None:
        """Answer one connection's requests (keep-alive) until it is closed."""
        with conn:
            pending = b""
            while True:
                while b"\r\n\r\n" not in pending:
                    data = conn.recv(4096)
                    if not data:
                        return
                    pending += data
                head, _, pending = pending.partition(b"\r\n\r\n")
                path = head.split(b" ")[1].decode()
                if path.endswith("/info"):
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n%s" % (len(_INFO), _INFO))  # fmt: skip
                    continue
                if "/tasks/stalls/logs" in path:
                    line = b"2026-12-01T19:00:00.000000000Z first line\n"
                    frame = struct.pack(">BxxxL", 1, len(line)) + line
                    conn.sendall(b"HTTP/1.1 200 OK\r\n"
                                 b"Content-Type: application/vnd.docker.multiplexed-stream\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n"
                                 b"%x\r\n%s\r\n" % (len(frame), frame))  # fmt: skip
                self._wait_for_hang_up(conn, path)
                return

    def _wait_for_hang_up(self, conn: socket.socket, path: str) -> None:
        # The node stalls: it sends nothing more and waits for the client to let go.
        conn.settimeout(0.2)
        while not self.release.is_set():
            try:
                if conn.recv(4096) == b"":
                    self.hung_up.append(path)
                    return
            except TimeoutError:
                continue
            except OSError:
                self.hung_up.append(path)
                return


@pytest.fixture
def engine() -> Iterator[StallingEngine]:
    fake = StallingEngine()
    listener = socket.create_server(("127.0.0.1", 0))
    fake.port = listener.getsockname()[1]

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return  # closed at the end of the test
            threading.Thread(target=fake.serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield fake
    fake.release.set()
    listener.close()


def _readers() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "opsloop-log-reader"}


def _within_guard(work: Callable[[], Bounded]) -> Bounded:
    """`work` on a thread, so a read that hangs fails the test instead of hanging it."""
    found: list[Bounded] = []
    runner = threading.Thread(target=lambda: found.append(work()), daemon=True)
    runner.start()
    runner.join(timeout=DEADLINE)
    assert not runner.is_alive(), "the read did not end at its time limit"
    return found[0]


def _elsewhere(*tasks: str) -> list[dict[str, object]]:
    """Task dictionaries as the engine lists them, each on another node."""
    return [
        {"ID": task, "NodeID": "another-node", "Status": {"ContainerStatus": {"ContainerID": "c"}}}
        for task in tasks
    ]


def _read(engine: StallingEngine, *tasks: str) -> Bounded:
    """/logs' read of `tasks` with a 0.5 s limit (requests bounded to 1 s); the reader
    threads it started must end and the node's connections be let go."""
    client = docker.DockerClient(base_url=f"tcp://127.0.0.1:{engine.port}", version="1.41")
    before = _readers()

    def read() -> Bounded:
        sources = task_log_sources(client, _elsewhere(*tasks), _OPTIONS, request_seconds=1.0)
        return read_all(sources, max_bytes=10**6, seconds=0.5)

    try:
        found = _within_guard(read)
        poll(lambda: not (_readers() - before), DEADLINE, "the reader threads to end")
        poll(lambda: len(engine.hung_up) == len(tasks), DEADLINE, "the connections to close")
    finally:
        client.close()
    return found


def test_a_node_that_stalls_mid_stream_is_cut_off_at_the_time_limit(
    engine: StallingEngine,
) -> None:
    found = _read(engine, "stalls")
    assert found.capped
    assert [(line.task, line.text) for line in found.lines] == [("stalls", "first line")]


def test_a_node_that_never_starts_its_reply_costs_only_the_time_limit(
    engine: StallingEngine,
) -> None:
    # The request is made on the reader's thread, inside the limit, and gives up after
    # request_seconds: the read neither waits for it before it starts nor leaves it behind.
    found = _read(engine, "silent", "stalls")
    assert found.capped
    assert [(line.task, line.text) for line in found.lines] == [("stalls", "first line")]
