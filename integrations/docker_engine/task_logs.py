"""Where /logs reads each task's lines: the task's container on this engine when it runs
here, else the engine's per-task endpoint (GET /tasks/{id}/logs).

Not the service-wide endpoint (GET /services/{id}/logs, what `docker service logs` calls):
on the engine opsloop is tested on (Docker 20.10, one node) a read of more than about a
thousand lines from a service of several tasks does not end. Some tasks' lines arrive, the
others' never do, and the stream stays open without a socket timeout (docker-py drops it
for streams); see bench/results/operate.md. One read per task ends as soon as the engine
has sent that task's lines.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import docker
from docker.errors import APIError, NotFound

from bot.core.operate.model import LogLine
from integrations.docker_engine.log_reading import Source
from integrations.docker_engine.operate_reads import parse_time

LOG_LINE_CHARS = 1000


def task_log_sources(
    client: docker.DockerClient, tasks: Sequence[Mapping[str, Any]], options: Mapping[str, Any]
) -> list[Source]:
    """A log source per task that got as far as a container (running or ended, as
    `docker service logs` shows them), labelled with the task's short id. A container
    removed since (Swarm prunes old tasks) is skipped."""
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
            source = _task_endpoint_source(client, str(task["ID"]), label, options)
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


def _task_endpoint_source(
    client: docker.DockerClient, task: str, label: str, options: Mapping[str, Any]
) -> Source | None:
    # docker-py has no call for GET /tasks/{id}/logs; its own request helpers are used, so
    # the stream is de-multiplexed (stdout and stderr frames) as for a container's logs.
    api: Any = client.api  # its request helpers are not in the type stubs
    params = {key: int(value) if isinstance(value, bool) else value
              for key, value in options.items()}  # fmt: skip
    response = api._get(api._url("/tasks/{0}/logs", task), params=params, stream=True)
    try:
        api._raise_for_status(response)
    except (NotFound, APIError):
        response.close()
        return None
    stream: Iterator[bytes] = api._multiplexed_response_stream_helper(response)
    return Source(stream, lambda raw: log_line(raw, label), cancel=response.close)


def log_line(raw: str, task: str) -> LogLine:
    """A line as the engine sends it with timestamps (`<RFC 3339 time> <text>`), kept to
    its first LOG_LINE_CHARS characters."""
    stamp, _, rest = raw.partition(" ")
    return LogLine(task, parse_time(stamp), rest[:LOG_LINE_CHARS])
