"""Smoke tests of the Docker set-up the other tests rely on.

Builds a FROM-scratch busybox image through the Docker API, serves HTTP from it on an
ephemeral loopback port, and pushes it to the local registry.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from docker import DockerClient
from docker.errors import NotFound
from docker.models.containers import Container
from docker.models.images import Image

from tests.support.images import HTTPD_DOCKERFILE_TAIL, build_image, write_busybox_context

pytestmark = pytest.mark.docker

PUSH_REPOSITORY = "opsloop-test/smoke-push"
WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class BuiltImage:
    image: Image
    tag: str
    body: str


@pytest.fixture(scope="module")
def http_image(
    docker_client: DockerClient, busybox_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BuiltImage]:
    body = f"opsloop smoke {uuid.uuid4().hex}\n"
    context = write_busybox_context(
        tmp_path_factory.mktemp("smoke-http"),
        busybox_path,
        {"www/index.html": body},
        HTTPD_DOCKERFILE_TAIL,
    )
    tag = f"opsloop-test/smoke-http:{uuid.uuid4().hex[:12]}"
    image = build_image(docker_client, context, tag)
    try:
        yield BuiltImage(image=image, tag=tag, body=body)
    finally:
        with contextlib.suppress(NotFound):
            docker_client.images.remove(image.id or tag, force=True)


def test_built_image_serves_http_on_published_port(
    docker_client: DockerClient, http_image: BuiltImage
) -> None:
    # Host port None: Docker picks a free one (the type stubs only know int).
    ports: dict[str, Any] = {"8080/tcp": ("127.0.0.1", None)}
    container = docker_client.containers.run(http_image.tag, detach=True, ports=ports)
    try:
        port = _published_port(container, "8080/tcp")
        status, text = _wait_for_http(container, f"http://127.0.0.1:{port}/")
        assert status == 200, text
        assert text == http_image.body
    finally:
        container.remove(force=True)


def test_image_pushes_to_registry(
    docker_client: DockerClient, registry_addr: str, http_image: BuiltImage
) -> None:
    repository = f"{registry_addr}/{PUSH_REPOSITORY}"
    tag = f"t{uuid.uuid4().hex[:12]}"
    assert http_image.image.tag(repository, tag)
    try:
        errors = [
            line
            for line in docker_client.images.push(repository, tag=tag, stream=True, decode=True)
            if "errorDetail" in line or "error" in line
        ]
        assert errors == [], f"push of {repository}:{tag} failed: {errors}"

        response = httpx.get(
            f"http://{registry_addr}/v2/{PUSH_REPOSITORY}/tags/list", timeout=10, trust_env=False
        )
        assert response.status_code == 200, response.text
        assert tag in response.json()["tags"]
    finally:
        docker_client.images.remove(f"{repository}:{tag}")
        _delete_manifest(registry_addr, PUSH_REPOSITORY, tag)


def _published_port(container: Container, port: str) -> int:
    """The host port Docker picked for ``port``, polled until the binding shows up."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        container.reload()
        bindings = (container.attrs["NetworkSettings"]["Ports"] or {}).get(port)
        if bindings:
            return int(bindings[0]["HostPort"])
        if container.status == "exited" or time.monotonic() > deadline:
            logs = container.logs().decode(errors="replace")
            pytest.fail(f"no host port published for {port} ({container.status}); logs:\n{logs}")
        time.sleep(0.1)


def _wait_for_http(container: Container, url: str) -> tuple[int, str]:
    """Poll ``url`` until it answers, the container stops, or the deadline passes."""
    deadline = time.monotonic() + WAIT_SECONDS
    last_error = "no attempt"
    with httpx.Client(timeout=2, trust_env=False) as http:
        while time.monotonic() < deadline:
            try:
                response = http.get(url)
                return response.status_code, response.text
            except httpx.TransportError as exc:
                last_error = repr(exc)
            container.reload()
            if container.status != "running":
                break
            time.sleep(0.1)
    logs = container.logs().decode(errors="replace")
    pytest.fail(f"{url} did not answer ({container.status}, {last_error}); logs:\n{logs}")


def _delete_manifest(registry_addr: str, repository: str, tag: str) -> None:
    """Best-effort removal of a pushed tag's manifest (the registry has delete enabled)."""
    base = f"http://{registry_addr}/v2/{repository}/manifests"
    accept = "application/vnd.docker.distribution.manifest.v2+json"
    with httpx.Client(timeout=10, trust_env=False) as http:
        digest = http.head(f"{base}/{tag}", headers={"Accept": accept}).headers.get(
            "Docker-Content-Digest"
        )
        if digest:
            http.delete(f"{base}/{digest}")
