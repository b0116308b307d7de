"""Where /logs reads each task's lines: the task's container on this engine when it runs
here, else the engine's per-task endpoint (GET /tasks/{id}/logs).

Not the service-wide endpoint (GET /services/{id}/logs, what `docker service logs` calls):
on the engine opsloop is tested on (Docker 20.10, one node) a read of more than about a
thousand lines from a service of several tasks does not end. Some tasks' lines arrive, the
others' never do, and the stream stays open without a socket timeout (docker-py drops it
for streams); see bench/results/operate.md. One read per task ends as soon as the engine
has sent that task's lines.

A read through the per-task endpoint starts on the reader's thread, inside the read's time
limit, and its request is bounded: a node that never answers costs the read its limit, not
the engine's default request timeout per task before the read even starts. A node that
stalls in the middle of a stream is cut off by shutting the stream's socket down
(docker-py's CancellableStream): closing the requests response instead would wait for the
reader stuck in recv, and leave its thread and socket behind.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import docker
from docker.errors import APIError, NotFound
from docker.types.daemon import CancellableStream

from bot.core.operate.model import LogLine
from integrations.docker_engine.log_reading import Source
from integrations.docker_engine.operate_reads import parse_time

LOG_LINE_CHARS = 1000
REQUEST_SECONDS = 10.0
"""The most the engine may take to start answering a task's read through the per-task
endpoint (the node's reply is relayed by this engine)."""


def task_log_sources(
    client: docker.DockerClient,
    tasks: Sequence[Mapping[str, Any]],
    options: Mapping[str, Any],
    *,
    request_seconds: float = REQUEST_SECONDS,
) -> list[Source]:
    """A log source per task that got as far as a container (running or ended, as
    `docker service logs` shows them), labelled with the task's short id. A container
    removed since (Swarm prunes old tasks) is skipped. A task on another node is asked
    for its lines only when its source is first read; the engine has `request_seconds` to
    start answering, and a task it does not know (any more) gives no lines."""
    here = str((client.info().get("Swarm") or {}).get("NodeID") or "")
    sources = []
    for task in tasks:
        status = task.get("Status") or {}
        container = (status.get("ContainerStatus") or {}).get("ContainerID")
        if not container:
            continue  # never started: it has no lines
        label = str(task.get("ID", ""))[:12]
        if task.get("NodeID") == here:
            source = container_log_source(client, str(container), label, options)
        else:
            stream = TaskEndpointStream(client, str(task["ID"]), options, request_seconds)
            source = _labelled(stream, label)
        if source is not None:
            sources.append(source)
    return sources


def container_log_source(
    client: docker.DockerClient, container: str, label: str, options: Mapping[str, Any]
) -> Source | None:
    """The container's log stream on this engine; None when the container is gone."""
    try:
        stream = client.api.logs(container, stream=True, **options)
    except NotFound:
        return None
    return Source(stream, lambda raw: log_line(raw, label), cancel=stream.close)


def _labelled(stream: TaskEndpointStream, label: str) -> Source:
    return Source(stream, lambda raw: log_line(raw, label), cancel=stream.close)


class TaskEndpointStream:
    """The de-multiplexed bytes of GET /tasks/{id}/logs (docker-py has no call for it),
    asked for on the first read; close() cuts it off from any thread, also before or while
    the request is made (the read then ends with no lines)."""

    def __init__(
        self, client: docker.DockerClient, task: str, options: Mapping[str, Any], seconds: float
    ) -> None:
        self._api: Any = client.api  # its request helpers are not in the type stubs
        self._task = task
        self._params = {key: int(value) if isinstance(value, bool) else value
                        for key, value in options.items()}  # fmt: skip
        self._seconds = seconds
        self._lock = threading.Lock()
        self._stream: CancellableStream[bytes] | None = None
        self._closed = False

    def __iter__(self) -> TaskEndpointStream:
        return self

    def __next__(self) -> bytes:
        stream = self._stream or self._open()
        return next(stream)

    def _open(self) -> CancellableStream[bytes]:
        api = self._api
        url = api._url("/tasks/{0}/logs", self._task)
        # The timeout bounds the connection and the wait for the reply's headers; docker-py
        # lifts it for the stream itself, which close() cuts off instead.
        response = api._get(url, params=self._params, stream=True, timeout=self._seconds)
        try:
            api._raise_for_status(response)
        except (NotFound, APIError):
            response.close()
            raise StopIteration from None  # a task the engine no longer knows has no lines
        stream = CancellableStream(api._multiplexed_response_stream_helper(response), response)
        with self._lock:
            if not self._closed:
                self._stream = stream
                return stream
        stream.close()  # cut off while the request was under way
        raise StopIteration

    def close(self) -> None:
        """End the read: shut the stream's socket down, so a read waiting on a node that
        stopped sending returns at once."""
        with self._lock:
            self._closed = True
            stream = self._stream
        if stream is not None:
            stream.close()


def log_line(raw: str, task: str) -> LogLine:
    """A line as the engine sends it with timestamps (`<RFC 3339 time> <text>`), kept to
    its first LOG_LINE_CHARS characters."""
    stamp, _, rest = raw.partition(" ")
    return LogLine(task, parse_time(stamp), rest[:LOG_LINE_CHARS])
