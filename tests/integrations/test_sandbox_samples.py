"""The sandbox's sample services build on the real engine, pass their tests and serve HTTP."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import Path

import docker
import httpx

from bot.sandbox.samples import ensure_samples
from tests.support.images import build_image

DEADLINE = 30.0


def test_samples_are_git_repos_that_build_test_and_serve(
    docker_client: docker.DockerClient, busybox_path: Path, tmp_path: Path
) -> None:
    assert ensure_samples(tmp_path) == ["web", "api"]
    assert ensure_samples(tmp_path) == []  # a second start keeps what is there
    tag = f"opsloop-test/sample-web:{uuid.uuid4().hex[:8]}"
    image = build_image(docker_client, tmp_path / "web", tag)
    container = None
    try:
        output = docker_client.containers.run(tag, ["sh", "/tests/run.sh"], remove=True)
        summary = output.decode().strip().splitlines()[-1]
        assert re.fullmatch(r"2 passed, 0 failed in \d+s", summary), summary
        container = docker_client.containers.run(
            tag, detach=True, ports={"8080/tcp": ("127.0.0.1", None)}
        )
        container.reload()
        port = container.ports["8080/tcp"][0]["HostPort"]
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the sample never answered"
                time.sleep(0.1)
        assert answer.text == "ok\n"
        assert "<h1>web</h1>" in httpx.get(f"http://127.0.0.1:{port}/").text
    finally:
        if container is not None:
            container.remove(force=True)
        docker_client.images.remove(image.id, force=True)
