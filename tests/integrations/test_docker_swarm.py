"""Swarm rollouts on the real engine in Swarm mode: a failed deploy goes back to what served
before it, the health timings reach the service's healthcheck, and a deploy keeps the
replica count /scale set."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import docker
import pytest
from docker.errors import NotFound

from bot.core.clock import SystemClock
from bot.core.deploy.model import DeployState, HealthTimings, Target
from bot.core.naming import LABEL_VERSION, deployment_name
from bot.core.operate.model import Placement
from integrations.docker_engine.connection import EngineConnection
from integrations.docker_engine.deployments import DockerDeployments
from integrations.docker_engine.operate import DockerOperations
from tests.scenarios.deploy.support import answer, free_port, remove_deployments, swarm
from tests.support.images import HTTPD_DOCKERFILE_TAIL, build_image, write_busybox_context

__all__ = ["swarm"]
pytestmark = pytest.mark.docker

SLOW_TAIL = """\
COPY www /www
EXPOSE 8080
CMD ["/bin/busybox", "sh", "-c", "sleep 6; exec /bin/busybox httpd -f -p 8080 -h /www"]
"""


@pytest.fixture(scope="module")
def repository(
    swarm: docker.DockerClient,
    registry_addr: str,
    busybox_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """`1` and `2` answer /health at once with their version; `slow` only after 6 s."""
    root = tmp_path_factory.mktemp("swarm")
    repository = f"{registry_addr}/opsloop-swarm-{uuid.uuid4().hex[:8]}"
    for version, tail in (("1", HTTPD_DOCKERFILE_TAIL), ("2", HTTPD_DOCKERFILE_TAIL),
                          ("slow", SLOW_TAIL)):  # fmt: skip
        context = write_busybox_context(root / version, busybox_path, {"www/health": version}, tail)
        build_image(swarm, context, f"{repository}:{version}", {})
        swarm.images.push(repository, tag=version)
    yield repository
    for version in ("1", "2", "slow"):
        with contextlib.suppress(NotFound):
            swarm.images.remove(f"{repository}:{version}", force=True)


NS = "swarmtest"


@pytest.fixture
def engine(swarm: docker.DockerClient) -> Iterator[DockerDeployments]:
    deployments = DockerDeployments(EngineConnection(None), SystemClock(), namespace=NS)
    yield deployments
    deployments.close()


@pytest.fixture
def service(swarm: docker.DockerClient) -> Iterator[str]:
    name = f"sw{uuid.uuid4().hex[:6]}"
    yield name
    remove_deployments(swarm, name)


def _deploy(engine: DockerDeployments, target: Target, repository: str, version: str) -> str:
    ref = f"{repository}:{version}"
    outcome = engine.deploy(target, ref, version, uuid.uuid4().hex[:8], lambda _said: None)
    return f"{outcome.state.value}: {outcome.detail}"


def test_a_failed_update_goes_back_to_what_served_before(
    swarm: docker.DockerClient, engine: DockerDeployments, repository: str, service: str
) -> None:
    port = free_port()
    target = Target(service, "staging", repository, "swarm", 8080, "/health", port, 1,
                    publish_mode="host")  # fmt: skip
    assert _deploy(engine, target, repository, "1").startswith("succeeded")
    assert answer(port) == "1"
    # Two replicas cannot both publish the same host port on one node (the deploy desk
    # refuses this before approval; the rollout is run here anyway): the second one never
    # starts, so the deploy fails, and the version that served is back.
    said = _deploy(engine, replace(target, replicas=2), repository, "2")
    assert said.startswith("rolled_back"), said
    assert "rolled back to the version that served before" in said
    spec = swarm.services.get(deployment_name(NS, service, "staging")).attrs["Spec"]
    assert spec["Labels"][LABEL_VERSION] == "1"
    assert spec["Mode"]["Replicated"]["Replicas"] == 1
    assert answer(port) == "1"
    running = engine.running(target)
    assert (running.version, running.healthy) == ("1", True)


def test_a_service_that_needs_six_seconds_to_start_deploys_with_a_start_period(
    engine: DockerDeployments, repository: str, service: str
) -> None:
    port = free_port()
    target = Target(service, "staging", repository, "swarm", 8080, "/health", port, 1,
                    HealthTimings(start_period=15, interval=1, retries=3))  # fmt: skip
    said = _deploy(engine, target, repository, "slow")
    assert said.startswith("succeeded"), said
    assert answer(port) == "slow"


def test_a_new_service_that_came_up_in_part_is_not_removed(
    swarm: docker.DockerClient, engine: DockerDeployments, repository: str, service: str
) -> None:
    port = free_port()
    target = Target(service, "staging", repository, "swarm", 8080, "/health", port, 2,
                    publish_mode="host")  # fmt: skip
    said = _deploy(engine, target, repository, "1")
    assert said.startswith("failed"), said
    assert "the replicas that run keep serving" in said
    assert "host-mode port already in use" in said
    assert answer(port) == "1"
    assert swarm.services.get(deployment_name(NS, service, "staging")) is not None


def test_a_deploy_keeps_the_replicas_a_scale_set(
    swarm: docker.DockerClient, engine: DockerDeployments, repository: str, service: str
) -> None:
    # No published port: several replicas can run on this one node.
    target = Target(service, "staging", repository, "swarm", 8080, "/health", None, 1)
    assert _deploy(engine, target, repository, "1").startswith("succeeded")
    # /scale (and the autoscaler) set the count through Operate's engine calls.
    operations = DockerOperations(EngineConnection(None), SystemClock(), engine, namespace=NS)
    placement = Placement(service, "staging", "swarm", repository, 1, 10)
    try:
        scaled = operations.scale(placement, 3, lambda _said: None)
        assert scaled.state is DeployState.SUCCEEDED, scaled.detail
        said = _deploy(engine, target, repository, "2")
        assert said.startswith("succeeded"), said
        live = swarm.services.get(deployment_name(NS, service, "staging"))
        assert live.attrs["Spec"]["Mode"]["Replicated"]["Replicas"] == 3
        assert live.attrs["Spec"]["Labels"][LABEL_VERSION] == "2"
        status = operations.status(placement)
        assert (status.version, status.desired, status.running) == ("2", 3, 3)
        # Scaled back to the configured count, the service follows opsloop.yml again.
        assert operations.scale(placement, 1, lambda _said: None).state is DeployState.SUCCEEDED
        said = _deploy(engine, replace(target, replicas=2), repository, "1")
        assert said.startswith("succeeded"), said
        assert operations.status(placement).desired == 2
    finally:
        operations.close()
