"""A container swap cut short by a crash, at every step it can be cut at: the state the
crash leaves is built on the real engine, then settle() (what reconcile calls after a
restart) finishes or undoes it, and the next deploy and rollback work."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest
from docker.errors import NotFound

from bot.core.clock import SystemClock
from bot.core.deploy.model import DeployState, Target
from bot.core.naming import LABEL_VERSION, deployment_name
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.deployments import DockerDeployments
from tests.scenarios.deploy.support import answer, free_port, remove_deployments
from tests.support.images import HTTPD_DOCKERFILE_TAIL, build_image, write_busybox_context

pytestmark = pytest.mark.docker

OLD, NEW, BROKEN = "1", "2", "3"


@pytest.fixture(scope="module")
def repository(
    docker_client: docker.DockerClient,
    registry_addr: str,
    busybox_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """OLD and NEW answer /health with their version; BROKEN answers 404 there."""
    root = tmp_path_factory.mktemp("swaps")
    repository = f"{registry_addr}/opsloop-swaps-{uuid.uuid4().hex[:8]}"
    for version in (OLD, NEW, BROKEN):
        files = {"www/index.html": version} if version == BROKEN else {"www/health": version}
        context = write_busybox_context(root / version, busybox_path, files, HTTPD_DOCKERFILE_TAIL)
        build_image(docker_client, context, f"{repository}:{version}", {})
        docker_client.images.push(repository, tag=version)
    yield repository
    for version in (OLD, NEW, BROKEN):
        with contextlib.suppress(NotFound):
            docker_client.images.remove(f"{repository}:{version}", force=True)


NS = "swaptest"


@dataclass
class Swap:
    """A service deployed at OLD on a published port, and how to reach it."""

    client: docker.DockerClient
    engine: DockerDeployments
    target: Target
    repository: str

    @property
    def name(self) -> str:
        return deployment_name(NS, self.target.service, self.target.env)

    def deploy(self, version: str) -> DeployState:
        ref = f"{self.repository}:{version}"
        return self.engine.deploy(self.target, ref, version, version, lambda _said: None).state

    def run(self, version: str, name: str, publish: bool) -> None:
        """A container as the rollout would have started it."""
        binding = self.target.publish if publish else ("127.0.0.1", None)
        self.client.containers.run(
            f"{self.repository}:{version}", name=name, detach=True,
            labels={LABEL_VERSION: version}, ports={"8080/tcp": binding},
        )  # fmt: skip

    def names(self) -> set[str]:
        found = self.client.containers.list(all=True, filters={"name": self.name})
        return {c.name for c in found}


@pytest.fixture
def swap(docker_client: docker.DockerClient, repository: str) -> Iterator[Swap]:
    service = f"cut{uuid.uuid4().hex[:6]}"
    # The swap of a container on its own host port (publish_mode host).
    target = Target(service, "prod", repository, "container", 8080, "/health", free_port(), 1,
                    publish_mode="host")  # fmt: skip
    engine = DockerDeployments(
        EngineConnection(None), SystemClock(), namespace=NS, health_deadline=10
    )
    running = Swap(docker_client, engine, target, repository)
    assert running.deploy(OLD) is DeployState.SUCCEEDED
    yield running
    remove_deployments(docker_client, service)
    engine.close()


def _candidate_left(s: Swap) -> None:
    s.run(NEW, f"{s.name}-next", publish=False)


def _set_aside(s: Swap) -> None:
    s.client.containers.get(s.name).rename(f"{s.name}-old")


def _set_aside_and_stopped(s: Swap) -> None:
    _set_aside(s)
    s.client.containers.get(f"{s.name}-old").stop(timeout=5)


def _new_one_started(s: Swap) -> None:
    _set_aside_and_stopped(s)
    s.run(NEW, s.name, publish=True)


def _broken_new_one_started(s: Swap) -> None:
    _set_aside_and_stopped(s)
    s.run(BROKEN, s.name, publish=True)


def _put_back_not_started(s: Swap) -> None:
    _set_aside_and_stopped(s)
    s.client.containers.get(f"{s.name}-old").rename(s.name)


CUTS: dict[str, tuple[Callable[[Swap], None], str]] = {
    "candidate started": (_candidate_left, OLD),
    "old one renamed": (_set_aside, OLD),
    "old one renamed and stopped": (_set_aside_and_stopped, OLD),
    "new one started, old one not removed": (_new_one_started, NEW),
    "new one started but unhealthy": (_broken_new_one_started, OLD),
    "old one put back, not started again": (_put_back_not_started, OLD),
}


@pytest.mark.parametrize("cut", list(CUTS))
def test_reconcile_finishes_or_undoes_a_swap_cut_at_any_step(swap: Swap, cut: str) -> None:
    leave, serving = CUTS[cut]
    leave(swap)
    running = swap.engine.settle(swap.target)
    assert (running.version, running.healthy) == (serving, True)
    assert swap.names() == {swap.name}
    assert answer(swap.target.publish or 0) == serving
    # Nothing left behind blocks what comes next: a deploy, then a rollback.
    assert swap.deploy(NEW if serving == OLD else OLD) is DeployState.SUCCEEDED
    assert swap.deploy(serving) is DeployState.SUCCEEDED
    assert answer(swap.target.publish or 0) == serving
    assert swap.names() == {swap.name}


def test_a_leftover_old_container_never_blocks_the_next_deploy(swap: Swap) -> None:
    # What a crash right after a successful swap leaves, with no reconcile since.
    _new_one_started(swap)
    assert swap.names() == {swap.name, f"{swap.name}-old"}
    assert swap.deploy(OLD) is DeployState.SUCCEEDED
    assert answer(swap.target.publish or 0) == OLD
    assert swap.names() == {swap.name}
    labels = swap.client.containers.get(swap.name).labels
    assert labels[LABEL_VERSION] == OLD
