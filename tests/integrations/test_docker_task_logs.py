"""Each task's lines from the real engine: from its container when it runs on this engine,
through the per-task endpoint when it runs on another node (here: a task treated as if it
ran elsewhere), both ending once the engine has sent them."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker.errors import APIError, NotFound
from docker.types import ServiceMode

from integrations.docker_engine.log_reading import read_all
from integrations.docker_engine.task_logs import task_log_sources
from tests.scenarios.deploy.support import swarm
from tests.scenarios.operate.support import poll
from tests.support.images import build_image, write_busybox_context

__all__ = ["swarm"]
pytestmark = pytest.mark.docker

LINES = 300
_COUNT = (
    f'CMD ["/bin/sh", "-c", "i=0; while [ $i -lt {LINES} ]; do i=$((i+1)); echo n $i; done; '
    'exec /bin/busybox sleep 100000"]\n'
)
_OPTIONS = {"stdout": True, "stderr": True, "timestamps": True, "tail": 1000, "follow": False}


@pytest.fixture
def counting(
    swarm: docker.DockerClient, registry_addr: str, busybox_path: Path, tmp_path: Path
) -> Iterator[list[dict[str, object]]]:
    """Three running tasks that each wrote n 1 .. n 300; their task dictionaries."""
    ref = f"{registry_addr}/opsloop-tasklogs-{uuid.uuid4().hex[:8]}:1"
    build_image(swarm, write_busybox_context(tmp_path / "c", busybox_path, {}, _COUNT), ref)
    swarm.images.push(ref.rpartition(":")[0], tag="1")
    service = swarm.services.create(ref, name=f"opsloop-tasklogs-{uuid.uuid4().hex[:6]}",
                                    mode=ServiceMode("replicated", 3))  # fmt: skip

    def written() -> list[dict[str, object]] | None:
        tasks = service.tasks(filters={"desired-state": "running"})
        ids = [(t["Status"].get("ContainerStatus") or {}).get("ContainerID") for t in tasks]
        if len(tasks) < 3 or not all(ids):
            return None
        done = all(swarm.api.logs(i, tail=LINES).count(b"\n") >= LINES for i in ids)
        return tasks if done else None

    try:
        yield poll(written, 120, "three tasks with their lines")
    finally:
        service.remove()
        with contextlib.suppress(NotFound, APIError):
            swarm.images.remove(ref, force=True)


def _numbers(found: list[str]) -> list[int]:
    return sorted(int(text.split()[-1]) for text in found)


def test_tasks_on_this_engine_are_read_from_their_containers(
    swarm: docker.DockerClient, counting: list[dict[str, object]]
) -> None:
    found = read_all(task_log_sources(swarm, counting, _OPTIONS), max_bytes=10**7, seconds=30)
    assert not found.capped
    for task in counting:
        mine = [line.text for line in found.lines if line.task == str(task["ID"])[:12]]
        assert _numbers(mine) == list(range(1, LINES + 1))
        assert all(line.at is not None for line in found.lines)


def test_tasks_on_another_node_are_read_through_the_task_endpoint(
    swarm: docker.DockerClient, counting: list[dict[str, object]]
) -> None:
    elsewhere = [{**task, "NodeID": "another-node"} for task in counting]
    sources = task_log_sources(swarm, elsewhere, {**_OPTIONS, "tail": 100})
    found = read_all(sources, max_bytes=10**7, seconds=30)
    assert not found.capped
    for task in counting:
        mine = [line.text for line in found.lines if line.task == str(task["ID"])[:12]]
        assert _numbers(mine) == list(range(LINES - 99, LINES + 1))
