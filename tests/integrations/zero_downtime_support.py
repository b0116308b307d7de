"""What the zero-downtime tests of both targets share (issue 12): the test images, the
engine adapter, and how to deploy, where the load goes and what the proxy forwards to.
Import the fixtures into a test module to use them."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker.errors import NotFound

from bot.core.clock import SystemClock
from bot.core.deploy.model import HealthTimings, Target
from bot.core.naming import proxy_name
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.deployments import DockerDeployments
from integrations.docker_engine.proxy import CONFIG_FILE
from integrations.docker_engine.proxy_config import upstreams_in
from tests.scenarios.deploy.support import free_port
from tests.support.images import HTTPD_DOCKERFILE_TAIL, build_image, write_busybox_context

NS = "zdtest"
FAST = HealthTimings(start_period=0.0, interval=0.5, timeout=1.0, retries=2)


def published_target(kind: str, prefix: str, repository: str) -> Target:
    """A deployment of `repository` published on a free loopback port, with a fresh name
    starting with `prefix`, fast health timings and one replica."""
    return Target(
        service=f"{prefix}{uuid.uuid4().hex[:6]}", env="prod", image=repository, kind=kind,
        port=8080, health="/health", publish=free_port(), replicas=1, probe=FAST,
        publish_host="127.0.0.1",
    )  # fmt: skip


@pytest.fixture(scope="module")
def caddy() -> None:
    if shutil.which("caddy") is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("no caddy binary: scripts/ensure-caddy installs Debian's caddy")
        pytest.skip("no caddy binary (scripts/ensure-caddy installs it)")


@pytest.fixture(scope="module")
def repository(
    docker_client: docker.DockerClient,
    registry_addr: str,
    busybox_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """`1` and `2` answer /health with their version; `broken` never answers it."""
    root = tmp_path_factory.mktemp("zero-downtime")
    repository = f"{registry_addr}/opsloop-zd-{uuid.uuid4().hex[:8]}"
    for version in ("1", "2", "broken"):
        files = {"www/index.html": version} if version == "broken" else {"www/health": version}
        context = write_busybox_context(root / version, busybox_path, files, HTTPD_DOCKERFILE_TAIL)
        build_image(docker_client, context, f"{repository}:{version}", {})
        docker_client.images.push(repository, tag=version)
    yield repository
    for version in ("1", "2", "broken"):
        with contextlib.suppress(NotFound):
            docker_client.images.remove(f"{repository}:{version}", force=True)


@pytest.fixture
def engine(docker_client: docker.DockerClient, caddy: None) -> Iterator[DockerDeployments]:
    deployments = DockerDeployments(EngineConnection(None), SystemClock(), namespace=NS)
    yield deployments
    deployments.close()


def deploy(engine: DockerDeployments, target: Target, version: str) -> str:
    """Deploy `version` as an approved /deploy would; "<state>: <detail>"."""
    ref = f"{target.image}:{version}"
    outcome = engine.deploy(target, ref, version, uuid.uuid4().hex[:8], lambda _said: None)
    return f"{outcome.state.value}: {outcome.detail}"


def url(target: Target) -> str:
    """The health path on the published port, where the load goes."""
    return f"http://127.0.0.1:{target.publish}{target.health}"


def upstreams(client: docker.DockerClient, target: Target) -> list[str]:
    """The upstreams in the proxy's config file, as the proxy container holds it."""
    proxy = client.containers.get(proxy_name(NS, target.service, target.env))
    stream, _ = proxy.get_archive(CONFIG_FILE)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile(CONFIG_FILE.rpartition("/")[2])
        assert member is not None
        return upstreams_in(json.load(member))
