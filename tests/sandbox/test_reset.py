"""`opsloop sandbox --reset` removes what its own sandbox state made on the engine and in
the registry, and nothing another sandbox (or anything else) made."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
import pytest
from docker.errors import ImageNotFound, NotFound

from bot.core.deploy.model import Target
from bot.core.naming import LABEL_NAMESPACE
from bot.sandbox.home import HOME, NAMESPACE_FILE
from integrations.docker_engine.proxy import DeploymentProxy
from integrations.docker_engine.proxy_image import proxy_image
from integrations.sandbox_reset import remove_from_registry
from tests.conftest import DEFAULT_DOCKER_HOST
from tests.scenarios.deploy.support import free_port
from tests.specs import REPO
from tests.support.images import build_image, write_busybox_context

pytestmark = pytest.mark.docker


@dataclass
class Made:
    """What one sandbox namespace made: a pushed tag and a container running it, and a
    published deployment's reverse proxy, its network and the proxy image."""

    image: str
    container: str
    proxy: DeploymentProxy

    def remove_proxy(self, client: docker.DockerClient) -> None:
        self.proxy.remove(network=True)
        for image in client.images.list(filters={"label": f"{LABEL_NAMESPACE}={self.namespace}"}):
            for tag in image.tags:
                with contextlib.suppress(ImageNotFound):
                    client.images.remove(tag, force=True)

    @property
    def namespace(self) -> str:
        return self.image.split("/")[1]


def _made(client: docker.DockerClient, registry: str, namespace: str, base: str) -> Made:
    image = f"{registry}/{namespace}/web"
    client.images.get(base).tag(image, "1.0.0")
    client.images.push(image, "1.0.0")
    container = client.containers.run(
        f"{image}:1.0.0", ["sleep", "600"], detach=True, name=f"opsloop-test-{namespace}"
    )
    # What a deploy of a published service makes first: its network and its proxy.
    target = Target("web", "staging", image, "container", 8080, "/health", free_port(), 1)
    proxy = DeploymentProxy(client, namespace, target, lambda: proxy_image(client, namespace))
    proxy.network_id()
    proxy.ensure([])
    return Made(image, str(container.name), proxy)


def _tags(registry: str, image: str) -> list[str]:
    repository = image.split("/", 1)[1]
    answer = httpx.get(f"http://{registry}/v2/{repository}/tags/list", trust_env=False)
    return list(answer.json().get("tags") or []) if answer.status_code == 200 else []


@pytest.fixture
def two_sandboxes(
    docker_client: docker.DockerClient, registry_addr: str, busybox_path: Path, tmp_path: Path
) -> Iterator[tuple[Made, Made]]:
    if shutil.which("caddy") is None:
        pytest.skip("no caddy binary (scripts/ensure-caddy installs it)")
    base = f"opsloop-test/sandbox-reset:{secrets.token_hex(4)}"
    build_image(docker_client, write_busybox_context(tmp_path / "ctx", busybox_path), base)
    ours = _made(docker_client, registry_addr, f"sandbox-{secrets.token_hex(4)}", base)
    other = _made(docker_client, registry_addr, f"sandbox-{secrets.token_hex(4)}", base)
    try:
        yield ours, other
    finally:
        for made in (ours, other):
            made.remove_proxy(docker_client)
            with contextlib.suppress(NotFound):
                docker_client.containers.get(made.container).remove(force=True)
            with contextlib.suppress(ImageNotFound):
                docker_client.images.remove(f"{made.image}:1.0.0")
        remove_from_registry([ours.image, other.image])
        docker_client.images.remove(base, force=True)


def test_reset_removes_only_what_its_own_state_made(
    two_sandboxes: tuple[Made, Made],
    docker_client: docker.DockerClient,
    registry_addr: str,
    tmp_path: Path,
) -> None:
    if registry_addr != "127.0.0.1:5000":
        pytest.skip("the sandbox's sample config pushes to 127.0.0.1:5000")
    ours, other = two_sandboxes
    home = tmp_path / "run" / HOME
    (home / "repos").mkdir(parents=True)
    (home / NAMESPACE_FILE).write_text(ours.image.split("/")[1] + "\n")
    (home / "opsloop.db").write_text("")

    docker_host = os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "sandbox", "--reset"],
        cwd=tmp_path / "run",
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "DOCKER_HOST": docker_host},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"removed container {ours.container}" in result.stdout
    assert f"deleted {ours.image}:1.0.0" in result.stdout
    with pytest.raises(NotFound):
        docker_client.containers.get(ours.container)
    with pytest.raises(ImageNotFound):
        docker_client.images.get(f"{ours.image}:1.0.0")
    assert _tags(registry_addr, ours.image) == []
    assert not home.exists()
    # Its deployment's proxy, network and proxy image went too.
    assert f"removed proxy container {ours.proxy.name}" in result.stdout
    assert f"removed network {ours.proxy.network}" in result.stdout
    assert ours.proxy.container() is None
    assert docker_client.networks.list(names=[ours.proxy.network]) == []
    assert docker_client.images.list(filters={"label": f"{LABEL_NAMESPACE}={ours.namespace}"}) == []

    # The other sandbox's container, image and release are all still there.
    assert docker_client.containers.get(other.container).status == "running"
    assert docker_client.images.get(f"{other.image}:1.0.0") is not None
    assert _tags(registry_addr, other.image) == ["1.0.0"]
    assert other.container not in result.stdout and other.image not in result.stdout
    assert other.proxy.container().status == "running"
    assert [n.name for n in docker_client.networks.list(names=[other.proxy.network])] == [
        other.proxy.network
    ]
    assert other.namespace not in result.stdout
